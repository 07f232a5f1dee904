/* buf.h - an append buffer: bytes gathered in one growing block and used
 * whole (kilo's abuf), with a ceiling so that nothing built from input can
 * grow without bound. */
#ifndef BUF_H
#define BUF_H

#include <stdbool.h>
#include <stddef.h>

struct buf {
    char *data;     /* malloc'd; NULL until the first append */
    size_t len;     /* bytes in data */
    size_t cap;     /* room in data */
    size_t max;     /* len may never pass this */
    bool failed;    /* an append was refused (out of memory, or past max) */
};

/* An empty buffer that may hold up to max bytes. */
static inline struct buf buf_make(size_t max)
{
    return (struct buf){.max = max};
}

/* Makes room for n more bytes and returns where they go, or NULL (and sets
 * failed) when that would pass max or memory runs out. */
char *buf_reserve(struct buf *b, size_t n);
void buf_append(struct buf *b, const void *p, size_t n);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_free(struct buf *b);

#endif

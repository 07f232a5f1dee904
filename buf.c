/* buf.c - the append buffer of buf.h. It doubles as it grows, so n appends
 * cost O(n) copies in all, and refuses to pass its ceiling. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

char *buf_reserve(struct buf *b, size_t n)
{
    if (b->failed || n > b->max - b->len) {
        b->failed = true;
        return NULL;
    }
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n)
            cap = cap > b->max / 2 ? b->max : cap * 2;
        char *data = realloc(b->data, cap);
        if (!data) {
            b->failed = true;
            return NULL;
        }
        b->data = data;
        b->cap = cap;
    }
    return b->data + b->len;
}

void buf_append(struct buf *b, const void *p, size_t n)
{
    if (n == 0)
        return;                 /* nothing to copy, and data may still be NULL */
    char *at = buf_reserve(b, n);
    if (!at)
        return;
    memcpy(at, p, n);
    b->len += n;
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof line) {
        b->failed = true; /* a formatted piece is always short; longer is a bug */
        return;
    }
    buf_append(b, line, (size_t)n);
}

void buf_free(struct buf *b)
{
    free(b->data);
    *b = buf_make(b->max);
}

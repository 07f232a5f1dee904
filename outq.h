/* outq.h - a connection's output queue: references to the shared frames
 * its socket has not taken yet, in order (conn.c writes them). */
#ifndef OUTQ_H
#define OUTQ_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"

struct outq {
    uint32_t start, end;        /* queued frames are f[start..end) */
    uint32_t cap;               /* room in f */
    uint32_t head_off;          /* bytes of f[start] already written */
    size_t bytes;               /* unwritten bytes in all */
    struct outq *next_free;     /* in the pool: the next free queue */
    struct frame *f[];
};

/* Room for one more frame at the end of *q, made (from the pool) when *q is
 * NULL, moved or grown otherwise; the queue with the room, or NULL when out
 * of memory (*q as it was). */
struct outq *outq_reserve(struct outq **q);
/* Drops the references left in *q and gives it back; *q is NULL after. */
void outq_free(struct outq **q);

#endif

/* outq.c - connections' output queues (outq.h) and the pool of small ones.
 *
 * Queues of the smallest size are kept for reuse: a queue drains and is
 * freed on almost every turn a connection is written to, so a broadcast
 * would otherwise cost a malloc and a free per recipient per turn. */
#include <stdlib.h>
#include <string.h>

#include "outq.h"

#define OUTQ_SMALL 16           /* a broadcast's turn queues a few frames: room for them */
#define OUTQ_POOL_MAX 4096

static struct {
    struct outq *pool;          /* free queues of OUTQ_SMALL slots */
    size_t npool;               /* how many */
} g;

static struct outq *outq_new(void)
{
    if (g.pool) {
        struct outq *q = g.pool;
        g.pool = q->next_free;
        g.npool--;
        return q;
    }
    return malloc(sizeof(struct outq) + OUTQ_SMALL * sizeof(struct frame *));
}

struct outq *outq_reserve(struct outq **qp)
{
    struct outq *q = *qp;
    if (q && q->end < q->cap)
        return q;
    if (!q) {
        if (!(q = outq_new()))
            return NULL;
        *q = (struct outq){.cap = OUTQ_SMALL};
        return *qp = q;
    }
    if (q->start > 0) {
        memmove(q->f, q->f + q->start, (q->end - q->start) * sizeof q->f[0]);
        q->end -= q->start;
        q->start = 0;
        return q;
    }
    uint32_t cap = q->cap * 2;
    struct outq *n = realloc(q, sizeof *n + cap * sizeof n->f[0]);
    if (!n)
        return NULL;
    n->cap = cap;
    return *qp = n;
}

void outq_free(struct outq **qp)
{
    struct outq *q = *qp;
    if (!q)
        return;
    for (uint32_t i = q->start; i < q->end; i++)
        frame_unref(q->f[i]);
    *qp = NULL;
    if (q->cap != OUTQ_SMALL || g.npool == OUTQ_POOL_MAX) {
        free(q);
        return;
    }
    q->next_free = g.pool;
    g.pool = q;
    g.npool++;
}

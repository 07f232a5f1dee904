/* conn_output.c - connections' output: each connection's queue of shared
 * frames, the output cap, and the writes (see conn.h; conn.c owns the rest
 * of a connection's life).
 *
 * - Frames are reference-counted and shared; each connection queues
 *   references, and before the loop sleeps every connection with new output
 *   gets one gathered write of all it has queued (STYLE: gather).
 * - With --backend uring those writes go to the kernel together: the first
 *   write of up to BATCH_MAX connections by one system call (uring.c), each
 *   connection then finished as alone (the rest of its queue, or its end).
 * - The output cap (--max-pending): past it the unsent frames are dropped
 *   and the owner told, so one slow reader cannot hold the server's memory.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>

#include "conn_int.h"
#include "outq.h"
#include "stats.h"

#define WRITEV_MAX 64
#define BATCH_MAX 256            /* connections whose writes go out together */

static struct {
    struct loop *loop;
    size_t max_pending;         /* --max-pending */
    struct conn *flush;         /* connections with output to write */
    bool batched;               /* --backend uring: TCP writes go out together */
    struct conn *batch[BATCH_MAX];      /* this batch's connections */
    ssize_t batch_result[BATCH_MAX];    /* and what their queued write did */
} g;

static void flush_list_add(struct conn *c)
{
    if (c->flags & (CONN_FLUSHING | CONN_WANT_WRITE | CONN_CORKED))
        return;
    c->flags |= CONN_FLUSHING;
    c->flush_next = g.flush;
    g.flush = c;
}

static void queue_frame(struct conn *c, struct frame *f)
{
    struct outq *q = outq_reserve(&c->out);
    if (!q) {
        conn_kill(c);
        return;
    }
    f->refs++;
    q->f[q->end++] = f;
    q->bytes += f->len;
    flush_list_add(c);
}

/* A reader that does not keep up: drop what it has not started to receive
 * (the frame under way must finish, or the stream would be corrupt, and a
 * kept frame, an unsent HTTP answer, must go first), and tell its owner. */
static void overflow(struct conn *c)
{
    struct outq *q = c->out;
    uint32_t keep = q->head_off || q->f[q->start]->keep ? 1 : 0;
    for (uint32_t i = q->start + keep; i < q->end; i++) {
        q->bytes -= q->f[i]->len;
        frame_unref(q->f[i]);
    }
    q->end = q->start + keep;
    c->flags &= (uint8_t)~CONN_NOTIFY;  /* what it waited for is not all written */
    c->ops->overflow(c);
}

void conn_send(struct conn *c, struct frame *f)
{
    if (c->state != CONN_OPEN)
        return;
    queue_frame(c, f);
    /* One frame alone never counts as too much, so a message larger than
     * the cap (an /echo of 16 MiB, say) can still be delivered. */
    struct outq *q = c->out;
    if (q && q->bytes > g.max_pending && q->end - q->start > 1 && c->ops->overflow)
        overflow(c);
}

void conn_send_raw(struct conn *c, const void *bytes, size_t len)
{
    struct frame *f = frame_alloc(len);
    if (!f) {
        conn_kill(c);
        return;
    }
    memcpy(frame_payload(f), bytes, len);
    frame_seal_raw(f, len);
    conn_send(c, f);
    frame_unref(f);
}

/* What c waits for from the loop: input, and room to write when its socket
 * was full or its transport has bytes of its own to send. The loop changes
 * its interest only when this differs from what it has. */
void output_interest(struct conn *c)
{
    int mask = LOOP_READ | T(c)->wants(c->tstate);
    if (c->flags & CONN_WANT_WRITE)
        mask |= LOOP_WRITE;
    loop_modify(g.loop, c->fd, mask);
}

static void set_want_write(struct conn *c, bool want)
{
    if (want != !!(c->flags & CONN_WANT_WRITE))
        c->flags ^= CONN_WANT_WRITE;
    output_interest(c);
}

/* All output is written: a finishing connection now shuts its write side
 * and waits (briefly) for the peer to hang up, so unread input never turns
 * our last bytes into a reset. */
void output_done(struct conn *c)
{
    outq_free(&c->out);
    set_want_write(c, false);
    if (c->flags & CONN_NOTIFY) {
        c->flags &= (uint8_t)~CONN_NOTIFY;
        c->ops->written(c);
    }
    if (c->state == CONN_DRAIN) {
        T(c)->shutdown(c->fd, c->tstate);
        c->state = CONN_LINGER;
    }
}

/* Drops the frames at the head of q that the journal lost: they never go
 * out. A frame is lost before any of it is written, never half way. */
static void skip_lost(struct outq *q)
{
    while (q->start < q->end && q->head_off == 0 && q->f[q->start]->lost) {
        q->bytes -= q->f[q->start]->len;
        frame_unref(q->f[q->start++]);
    }
}

/* The next write of c's queue: up to WRITEV_MAX frames, stopping short of
 * a lost one. 0 when nothing is left to write. */
static int next_write(struct conn *c, struct iovec *iov)
{
    struct outq *q = c->out;
    if (!q)
        return 0;
    skip_lost(q);
    int n = 0;
    for (uint32_t i = q->start; i < q->end && n < WRITEV_MAX && !q->f[i]->lost; i++, n++) {
        size_t skip = i == q->start ? q->head_off : 0;
        iov[n].iov_base = (uint8_t *)frame_data(q->f[i]) + skip;
        iov[n].iov_len = q->f[i]->len - skip;
    }
    return n;
}

/* The socket took w bytes of the head of c's queue. */
static void written(struct conn *c, size_t w)
{
    struct outq *q = c->out;
    stats.bytes_sent += (uint64_t)w;
    q->bytes -= w;
    while (w > 0) {
        struct frame *f = q->f[q->start];
        size_t rest = f->len - q->head_off;
        if (w < rest) {
            q->head_off += (uint32_t)w;
            break;
        }
        w -= rest;
        q->head_off = 0;
        q->start++;
        frame_unref(f);
    }
}

/* A write failed: wait for room, or the connection is gone. */
static void write_failed(struct conn *c, int err)
{
    if (err == EAGAIN || err == EWOULDBLOCK) {
        stats.write_waits++;
        set_want_write(c, true);
    } else {
        conn_kill(c);
    }
}

/* Writes as much of c's queue as the socket takes. */
static void flush_one(struct conn *c)
{
    struct iovec iov[WRITEV_MAX];
    for (int n; (n = next_write(c, iov)) > 0;) {
        ssize_t w = T(c)->writev(c->fd, c->tstate, iov, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            write_failed(c, errno);
            return;
        }
        written(c, (size_t)w);
    }
    /* Bytes the transport took but still holds go out before the end. */
    if ((T(c)->wants(c->tstate) & LOOP_WRITE) && T(c)->writev(c->fd, c->tstate, NULL, 0) < 0) {
        write_failed(c, errno);
        return;
    }
    output_done(c);
}

void output_init(struct loop *l)
{
    g.loop = l;
    g.max_pending = SIZE_MAX;
}

bool output_pending(void)
{
    return g.flush != NULL;
}

void output_writable(struct conn *c)
{
    c->flags &= (uint8_t)~CONN_WANT_WRITE;
    output_interest(c);
    flush_list_add(c);          /* at the end of the turn, after the journal */
}

void conn_set_max_pending(size_t max_pending)
{
    g.max_pending = max_pending;
}

int conn_batch_writes(void)
{
    if (transport_tcp_use_ring(BATCH_MAX) < 0)
        return -1;
    g.batched = true;
    return 0;
}

void conn_cork(struct conn *c, bool on)
{
    if (on) {
        c->flags |= CONN_CORKED;
        return;
    }
    c->flags &= (uint8_t)~CONN_CORKED;
    if (c->out)
        flush_list_add(c);
}

void conn_notify_written(struct conn *c)
{
    if (!c->ops->written)
        return;
    if (!c->out) {
        c->ops->written(c);
        return;
    }
    c->flags |= CONN_NOTIFY;
}

void conn_send_last(struct conn *c, struct frame *f)
{
    if (c->state != CONN_OPEN)
        return;
    queue_frame(c, f);
    conn_finish(c);
}

/* Takes the head of the flush list; a dead one goes to the reap list. */
static struct conn *next_to_flush(void)
{
    struct conn *c = g.flush;
    g.flush = c->flush_next;
    c->flags &= (uint8_t)~CONN_FLUSHING;
    if (c->state != CONN_DEAD)
        return c;
    conn_reap_later(c);
    return NULL;
}

/* The answer to a queued write: only the queue moves here, so no owner
 * runs while the batch's other answers are still to come. */
static void batch_answer(uint32_t i, ssize_t result, void *arg)
{
    (void)arg;
    g.batch_result[i] = result;
    if (result > 0)
        written(g.batch[i], (size_t)result);
}

/* --backend uring: the first write of up to BATCH_MAX connections goes to
 * the kernel in one system call; each is then finished as flush_one would
 * (what is left of its queue, or its end). */
static void flush_batch(void)
{
    int n = 0;
    while (g.flush && n < BATCH_MAX) {
        struct conn *c = g.flush;
        struct iovec iov[WRITEV_MAX];
        int k = c->state == CONN_DEAD ? 0 : next_write(c, iov);
        bool later = k > 0 && T(c)->write_later;     /* else flush_one writes it */
        if (later && !T(c)->write_later(c->fd, c->tstate, iov, k, (uint32_t)n) && n > 0)
            break;              /* the ring is full: run it, c goes next time */
        if (!(c = next_to_flush()))
            continue;
        g.batch[n] = c;
        g.batch_result[n++] = 0;        /* batch_answer's, where it was queued */
    }
    transport_write_queued(batch_answer, NULL);
    for (int i = 0; i < n; i++) {
        struct conn *c = g.batch[i];
        ssize_t result = g.batch_result[i];
        if (c->state == CONN_DEAD)
            continue;           /* an owner killed it meanwhile: it is on a list */
        if (result < 0 && result != -EINTR)
            write_failed(c, (int)-result);
        else
            flush_one(c);
    }
}

void output_flush(void)
{
    while (g.flush) {
        if (g.batched) {
            flush_batch();
        } else {
            struct conn *c = next_to_flush();
            if (c)
                flush_one(c);   /* a socket error here reaps it through conn_kill */
        }
    }
}

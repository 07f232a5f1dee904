/* conn.c - the transport: connections' sockets, output queues, deadlines
 * and death. It knows no opcode and no user (see conn.h).
 *
 * What this file owns:
 * - Reading: every socket reads into one shared scratch buffer; the owners
 *   keep per-connection input only for what is partial.
 * - Writing: frames are reference-counted and shared; each connection queues
 *   references, and before the loop sleeps every connection with new output
 *   gets one gathered write of all it has queued (STYLE: gather).
 * - The output cap (--max-pending): past it the unsent frames are dropped
 *   and the owner told, so one slow reader cannot hold the server's memory.
 * - Deadlines: each connection is on at most one of deadline.c's lists,
 *   whose meaning its owner gives; the transport's own is the linger.
 * - Death: connections are marked dead and freed at one point, after the
 *   loop turn, so no callback ever touches freed memory (as Redis does).
 * - The transport: on a TLS port the first byte a connection sends says
 *   whether it is TLS or plain, and which struct transport carries it.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "conn.h"
#include "deadline.h"
#include "outq.h"
#include "stats.h"
#include "transport.h"

struct stats stats;

/* Gives a closing peer this long to read our last bytes and hang up. */
#define LINGER_MS 2000
#define SCRATCH_SIZE 65536
#define WRITEV_MAX 64
#define BATCH_MAX 256            /* connections whose writes go out together */

enum conn_state {
    CONN_OPEN,                  /* reading and writing */
    CONN_DRAIN,                 /* last bytes queued; shut down once written */
    CONN_LINGER,                /* write side shut; discarding input until EOF */
    CONN_DEAD,                  /* waiting for the reaper */
};

enum {
    CONN_FLUSHING = 1,          /* on the flush list */
    CONN_WANT_WRITE = 2,        /* the socket was full; waiting for it to drain */
    CONN_NOTIFY = 4,            /* its owner waits for ops->written */
    CONN_SNIFF = 8,             /* on a TLS port: its first byte picks the transport */
    CONN_CORKED = 16,           /* its output waits for conn_cork(c, false) */
};

struct conn {
    int fd;                     /* the socket */
    uint8_t state;              /* enum conn_state */
    uint8_t flags;              /* CONN_* bits */
    uint8_t transport;          /* how its bytes cross the socket: transports[] */
    struct deadline deadline;   /* on one of the owners' lists, or lingering */
    const struct conn_ops *ops; /* its owner's handlers; NULL while the slot is free */
    void *tstate;               /* the transport's state for it (TLS) */
    void *data;                 /* the owner's, for partial input */
    struct conn *flush_next;    /* next on the flush list, or the reap list */
    struct outq *out;           /* bytes the socket has not taken yet, or NULL */
};

/* The transports a connection may use, by struct conn's transport. */
enum { TRANSPORT_TCP, TRANSPORT_TLS };
static const struct transport *const transports[] = {&transport_tcp, &transport_tls};
#define T(c) transports[(c)->transport]

static struct {
    struct conn *conns;         /* by descriptor: a slot per possible socket */
    size_t max_ids;             /* slots in conns */
    struct loop *loop;
    size_t max_pending;         /* --max-pending */
    void (*released)(void);     /* told after each free */
    void (*before_write)(void); /* runs before a turn's output is written (the journal) */
    int linger;                 /* our own deadline list, for finished connections */
    struct conn *flush;         /* connections with output to write */
    struct conn *reap;          /* dead connections to free */
    struct conn **ending;       /* connections that stopped being open this turn */
    size_t nending, ending_cap;
    size_t count;               /* live connections */
    bool batched;               /* --backend uring: TCP writes go out together */
    struct conn *batch[BATCH_MAX];      /* this batch's connections */
    ssize_t batch_result[BATCH_MAX];    /* and what their queued write did */
    uint8_t scratch[SCRATCH_SIZE];
} g;

/* ------------------------------------------------------------ accessors */

int conn_id(const struct conn *c)
{
    return c->fd;
}

struct conn *conn_by_id(int id)
{
    if (id < 0 || (size_t)id >= g.max_ids || !g.conns[id].ops)
        return NULL;
    return &g.conns[id];
}

bool conn_is_open(const struct conn *c)
{
    return c->state == CONN_OPEN;
}

bool conn_is_tls(const struct conn *c)
{
    return c->transport == TRANSPORT_TLS;
}

void *conn_data(const struct conn *c)
{
    return c->data;
}

void conn_set_data(struct conn *c, void *data)
{
    c->data = data;
}

void conn_set_ops(struct conn *c, const struct conn_ops *ops)
{
    c->ops = ops;
    c->data = NULL;
}

/* ------------------------------------------------------------- deadlines */

uint32_t conn_now(void)
{
    return deadline_now();
}

int conn_deadline_list(uint32_t timeout_ms)
{
    return deadline_list(timeout_ms);
}

void conn_deadline(struct conn *c, int list, uint32_t since)
{
    if (c->state != CONN_DEAD)
        deadline_set(&c->deadline, list, since);
}

static struct conn *of_deadline(struct deadline *d)
{
    return (struct conn *)((char *)d - offsetof(struct conn, deadline));
}

/* An expired deadline, already off its list: its owner says what the
 * timeout means; lingering, or an owner that does not care, ends it. */
static void on_expired(struct deadline *d, int list)
{
    struct conn *c = of_deadline(d);
    if (list != g.linger && c->ops->expired)
        c->ops->expired(c);
    else
        conn_kill(c);
}

/* ---------------------------------------------------------------- output */

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
static void interest(struct conn *c)
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
    interest(c);
}

/* All output is written: a finishing connection now shuts its write side
 * and waits (briefly) for the peer to hang up, so unread input never turns
 * our last bytes into a reset. */
static void output_done(struct conn *c)
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

/* ----------------------------------------------------------------- input */

/* On a TLS port, the first byte picks c's transport: TLS, or plain TCP,
 * whose owner answers in plain (conn_is_tls). false until it came, or when
 * c died of it. */
static bool sniff(struct conn *c)
{
    int r = transport_tls_sniff(c->fd, &c->tstate);
    if (r < 0)
        conn_kill(c);
    if (r <= 0)
        return false;
    c->flags &= (uint8_t)~CONN_SNIFF;
    if (r == 2)
        c->transport = TRANSPORT_TLS;
    return true;
}

static void on_readable(struct conn *c)
{
    if ((c->flags & CONN_SNIFF) && !sniff(c))
        return;
    ssize_t n = T(c)->read(c->fd, c->tstate, g.scratch, sizeof g.scratch);
    interest(c);                /* a TLS read may now wait for room, or no longer */
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            conn_kill(c);
        return;
    }
    if (n == 0) {
        conn_kill(c);
        return;
    }
    stats.bytes_received += (uint64_t)n;
    if (c->state == CONN_OPEN && c->ops->input)
        c->ops->input(c, g.scratch, (size_t)n);
    /* finishing: input is discarded */
}

static void on_io(struct loop *l, int fd, void *data, int mask)
{
    (void)l;
    (void)fd;
    struct conn *c = data;
    /* Room to write may be what a TLS read waits for (its handshake). */
    bool read_too = (mask & LOOP_WRITE) && (T(c)->wants(c->tstate) & LOOP_WRITE);
    if ((mask & LOOP_WRITE) && c->state != CONN_DEAD) {
        c->flags &= (uint8_t)~CONN_WANT_WRITE;
        interest(c);
        flush_list_add(c);      /* at the end of the turn, after the journal */
    }
    if ((mask & LOOP_READ || read_too) && c->state != CONN_DEAD)
        on_readable(c);
}

/* ------------------------------------------------------------- lifecycle */

static void before_sleep(struct loop *l, void *data);

int conn_init(struct loop *l, size_t max_ids, void (*released)(void))
{
    /* Connections live in a table by descriptor, as the loop's own entries
     * do: no allocation per connection, and its pages are touched only as
     * descriptors are used. */
    g.conns = calloc(max_ids, sizeof *g.conns);
    if (!g.conns)
        return -1;
    g.max_ids = max_ids;
    g.loop = l;
    g.max_pending = SIZE_MAX;
    g.released = released;
    deadline_init(l, on_expired);
    g.linger = deadline_list(LINGER_MS);
    loop_before_sleep(l, before_sleep, NULL);
    return 0;
}

void conn_set_before_write(void (*fn)(void))
{
    g.before_write = fn;
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

struct conn *conn_accept(int fd, const struct conn_ops *ops)
{
    if (fd < 0 || (size_t)fd >= g.max_ids)
        return NULL;
    struct conn *c = &g.conns[fd];
    *c = (struct conn){.fd = fd, .state = CONN_OPEN, .ops = ops,
                       .deadline = {.list = DEADLINE_NONE}};
    if (loop_add(g.loop, fd, LOOP_READ, on_io, c) < 0) {
        *c = (struct conn){0};
        return NULL;
    }
    g.count++;
    return c;
}

void conn_sniff_tls(struct conn *c)
{
    c->flags |= CONN_SNIFF;
}

/* A connection stops being open the moment its end starts, not when its
 * socket is finally freed, so counts and OfflineNotify do not lag by the
 * linger time. Its owner hears of it at the end of the turn, never in the
 * middle of a broadcast that may be what ended it. */
static void note_ending(struct conn *c)
{
    if (c->state != CONN_OPEN || !c->ops->ended)
        return;
    if (g.nending == g.ending_cap) {
        size_t cap = g.ending_cap ? 2 * g.ending_cap : 64;
        struct conn **v = realloc(g.ending, cap * sizeof *v);
        if (!v)
            return;             /* its owner hears of it when it is freed */
        g.ending = v;
        g.ending_cap = cap;
    }
    g.ending[g.nending++] = c;
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

void conn_finish(struct conn *c)
{
    if (c->state != CONN_OPEN)
        return;
    conn_cork(c, false);        /* an end writes what it has */
    note_ending(c);
    c->state = CONN_DRAIN;
    conn_deadline(c, g.linger, conn_now());
    if (!c->out)
        output_done(c);
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

void conn_kill(struct conn *c)
{
    if (c->state == CONN_DEAD)
        return;
    note_ending(c);
    c->state = CONN_DEAD;
    deadline_clear(&c->deadline);
    /* The reap list reuses flush_next: a dead connection writes nothing. */
    if (c->flags & CONN_FLUSHING)
        return;                 /* the flush pass moves it to the reap list */
    c->flush_next = g.reap;
    g.reap = c;
}

static void reap_all(void)
{
    while (g.reap) {
        struct conn *c = g.reap;
        g.reap = c->flush_next;
        if (c->ops->freed)
            c->ops->freed(c);
        loop_remove(g.loop, c->fd);
        T(c)->close(c->fd, c->tstate);
        outq_free(&c->out);
        g.count--;
        *c = (struct conn){0};  /* the slot is free again */
        if (g.released)
            g.released();
    }
}

/* Takes the head of the flush list; a dead one goes to the reap list. */
static struct conn *next_to_flush(void)
{
    struct conn *c = g.flush;
    g.flush = c->flush_next;
    c->flags &= (uint8_t)~CONN_FLUSHING;
    if (c->state != CONN_DEAD)
        return c;
    c->flush_next = g.reap;
    g.reap = c;
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

static void flush_all(void)
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

/* Ends a loop turn: tells the owners of the connections that stopped being
 * open, frees dead connections, then writes queued output. */
static void end_turn(void)
{
    /* An end queues output (OfflineNotify) and writing can find dead
     * sockets, so go round until all three lists are empty. */
    while (g.nending || g.reap || g.flush) {
        while (g.nending) {
            struct conn *c = g.ending[--g.nending];
            c->ops->ended(c);
        }
        reap_all();
        if (g.flush && g.before_write)
            g.before_write();
        flush_all();
    }
}

/* The loop's hook: ends the turn before the next wait, so a broadcast of
 * one turn leaves in one gathered write per recipient. */
static void before_sleep(struct loop *l, void *data)
{
    (void)l;
    (void)data;
    end_turn();
}

void conn_each_open(void (*fn)(struct conn *c))
{
    /* fn may finish or kill c, which moves it to another list or none, so
     * each list is walked from a saved next. Every open connection is on
     * one of the owners' lists. */
    for (int i = 0; i < deadline_lists(); i++) {
        if (i == g.linger)
            continue;
        for (struct deadline *d = deadline_first(i), *next; d; d = next) {
            next = d->next;
            if (of_deadline(d)->state == CONN_OPEN)
                fn(of_deadline(d));
        }
    }
}

void conn_drop_all(void)
{
    for (int i = 0; i < deadline_lists(); i++)
        while (deadline_first(i))
            conn_kill(of_deadline(deadline_first(i)));
    end_turn();
}

size_t conn_count(void)
{
    return g.count;
}

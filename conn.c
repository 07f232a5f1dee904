/* conn.c - connections: their sockets, output queues, deadlines and death.
 *
 * What this file owns:
 * - Reading: every socket reads into one shared scratch buffer; the layers
 *   above keep per-connection input only for what is partial.
 * - Writing: frames are reference-counted and shared; each connection queues
 *   references, and at the end of a loop turn every connection with new
 *   output gets one writev() of all it has queued (STYLE: gather).
 * - Limits: the pending-output cap (--max-pending) and the token bucket
 *   (--max-rate), each closing with 1008 and counted.
 * - Deadlines: each connection sits in one of four FIFO lists (handshake,
 *   active, pinged, closing). Every member of a list has the same timeout
 *   counted from a time that only grows along the list, so the earliest
 *   deadline is always at the head: one timer for the earliest head serves
 *   them all, and no wake-up scans every connection.
 * - Death: connections are marked dead and freed at one point, after the
 *   loop turn, so no callback ever touches freed memory (as Redis does).
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "stats.h"

struct stats stats;

/* Gives a closing peer this long to read our close and hang up. */
#define LINGER_MS 2000
#define SCRATCH_SIZE 65536
#define WRITEV_MAX 64

struct outq {
    uint32_t start, end;        /* queued frames are f[start..end) */
    uint32_t cap;               /* room in f */
    uint32_t head_off;          /* bytes of f[start] already written */
    size_t bytes;               /* unwritten bytes in all */
    struct frame *f[];
};

enum { LIST_HANDSHAKE, LIST_ACTIVE, LIST_PINGED, LIST_CLOSING, LIST_NONE, LISTS = LIST_NONE };

struct conn_list {
    struct conn *head, *tail;
    uint32_t timeout_ms;        /* the same for every member */
};

static struct {
    struct loop *loop;
    const struct config *cfg;
    struct conn_hooks hooks;
    struct conn_list lists[LISTS];
    struct loop_timer timer;    /* armed for the earliest head deadline */
    int64_t epoch;              /* loop time that conn clocks count from */
    struct conn *flush;         /* connections with output to write */
    struct conn *reap;          /* dead connections to free */
    struct conn **leaving;      /* WebSockets that stopped being open this turn */
    size_t nleaving, leaving_cap;
    size_t count;               /* live connections */
    uint8_t scratch[SCRATCH_SIZE];
} g;

/* ---------------------------------------------------------------- frames */

struct frame *frame_alloc(size_t cap)
{
    struct frame *f = malloc(sizeof *f + WS_MAX_SERVER_HEADER + cap);
    if (!f)
        return NULL;
    f->refs = 1;
    f->len = 0;
    f->off = WS_MAX_SERVER_HEADER;
    f->raw = false;
    return f;
}

void frame_seal(struct frame *f, enum ws_opcode op, size_t len)
{
    uint8_t hdr[WS_MAX_SERVER_HEADER];
    size_t n = ws_write_header(hdr, true, op, len);
    f->off = (uint16_t)(WS_MAX_SERVER_HEADER - n);
    memcpy(f->buf + f->off, hdr, n);
    f->len = (uint32_t)(n + len);
}

void frame_seal_raw(struct frame *f, size_t len)
{
    f->off = WS_MAX_SERVER_HEADER;
    f->len = (uint32_t)len;
    f->raw = true;
}

struct frame *frame_make(enum ws_opcode op, const void *payload, size_t len)
{
    struct frame *f = frame_alloc(len);
    if (!f)
        return NULL;
    if (len)
        memcpy(frame_payload(f), payload, len);
    frame_seal(f, op, len);
    return f;
}

void frame_unref(struct frame *f)
{
    if (f && --f->refs == 0)
        free(f);
}

/* ------------------------------------------------------------- deadlines */

static uint32_t conn_clock(void)
{
    return (uint32_t)(loop_now(g.loop) - g.epoch);
}

/* Milliseconds until the head of l is due (<= 0: due now). Clocks are 32-bit
 * and compared by difference, which stays right across their wrap-around
 * because no timeout is longer than a day. */
static int64_t list_due_in(const struct conn_list *l)
{
    uint32_t elapsed = conn_clock() - l->head->since;
    return (int64_t)l->timeout_ms - (int64_t)elapsed;
}

static void list_unlink(struct conn *c)
{
    if (c->timer_list == LIST_NONE)
        return;
    struct conn_list *l = &g.lists[c->timer_list];
    if (c->tprev)
        c->tprev->tnext = c->tnext;
    else
        l->head = c->tnext;
    if (c->tnext)
        c->tnext->tprev = c->tprev;
    else
        l->tail = c->tprev;
    c->tprev = c->tnext = NULL;
    c->timer_list = LIST_NONE;
}

/* Appends c with its deadline counting from since; since never decreases
 * along a list, which keeps the earliest deadline at the head. */
static void list_append(struct conn *c, int which, uint32_t since)
{
    list_unlink(c);
    struct conn_list *l = &g.lists[which];
    c->timer_list = (uint8_t)which;
    c->since = since;
    c->tprev = l->tail;
    c->tnext = NULL;
    if (l->tail)
        l->tail->tnext = c;
    else
        l->head = c;
    l->tail = c;
    int64_t when = loop_now(g.loop) + (int64_t)l->timeout_ms - (int64_t)(uint32_t)(conn_clock() - since);
    if (!g.timer.armed || when < g.timer.when)
        loop_timer_arm(g.loop, &g.timer, when);
}

static void send_ping(struct conn *c)
{
    static struct frame *ping;
    if (!ping)
        ping = frame_make(WS_OP_PING, NULL, 0);
    if (ping)
        conn_send(c, ping);
}

/* One expired head: what its list's timeout means for it. */
static void expire(struct conn *c)
{
    switch (c->timer_list) {
    case LIST_HANDSHAKE:
        log_conn(LOG_INFO, "event=timeout fd=%d phase=handshake", c->fd);
        conn_kill(c);
        break;
    case LIST_ACTIVE:
        /* Silent for the ping interval: ask it to speak (§5.5.2). The
         * deadline keeps counting from its last input. */
        send_ping(c);
        list_append(c, LIST_PINGED, c->since);
        break;
    case LIST_PINGED:
        /* Bytes still coming (within the last ping interval) but never a
         * whole message: not silent, but too slow to keep its buffer and
         * its slot any longer. */
        if (c->in.rx && conn_clock() - c->last_input < g.lists[LIST_ACTIVE].timeout_ms)
            conn_close(c, WS_CLOSE_POLICY_VIOLATION, "message too slow");
        else
            conn_close(c, WS_CLOSE_GOING_AWAY, "idle timeout");
        break;
    default:
        conn_kill(c);
        break;
    }
}

static void on_timer(struct loop *l, void *data)
{
    (void)l;
    (void)data;
    int64_t next = INT64_MAX;
    for (int i = 0; i < LISTS; i++) {
        struct conn_list *list = &g.lists[i];
        while (list->head && list_due_in(list) <= 0)
            expire(list->head);
        if (list->head && list_due_in(list) < next)
            next = list_due_in(list);
    }
    if (next == INT64_MAX)
        return;                 /* no connection has a deadline */
    next += loop_now(g.loop);
    if (!g.timer.armed || next < g.timer.when)
        loop_timer_arm(g.loop, &g.timer, next);
}

void conn_alive(struct conn *c)
{
    if (c->state == CONN_WS && (c->timer_list != LIST_ACTIVE || c->since != conn_clock()))
        list_append(c, LIST_ACTIVE, conn_clock());
}

/* ---------------------------------------------------------------- output */

static void flush_list_add(struct conn *c)
{
    if (c->flags & (CONN_FLUSHING | CONN_WANT_WRITE))
        return;
    c->flags |= CONN_FLUSHING;
    c->flush_next = g.flush;
    g.flush = c;
}

static struct outq *outq_reserve(struct conn *c)
{
    struct outq *q = c->out;
    if (q && q->end < q->cap)
        return q;
    if (q && q->start > 0) {
        memmove(q->f, q->f + q->start, (q->end - q->start) * sizeof q->f[0]);
        q->end -= q->start;
        q->start = 0;
        return q;
    }
    uint32_t cap = q ? q->cap * 2 : 4;
    struct outq *n = realloc(q, sizeof *n + cap * sizeof n->f[0]);
    if (!n)
        return NULL;
    if (!q)
        *n = (struct outq){0};
    n->cap = cap;
    c->out = n;
    return n;
}

static void outq_free(struct conn *c)
{
    struct outq *q = c->out;
    if (!q)
        return;
    for (uint32_t i = q->start; i < q->end; i++)
        frame_unref(q->f[i]);
    free(q);
    c->out = NULL;
}

static void queue_frame(struct conn *c, struct frame *f)
{
    struct outq *q = outq_reserve(c);
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
 * (the frame under way must finish, or the stream would be corrupt, and an
 * unsent 101 must go first, or the close would not be a frame), and close it
 * so it cannot hold the server's memory hostage. */
static void drop_slow_reader(struct conn *c)
{
    struct outq *q = c->out;
    uint32_t keep = q->head_off || q->f[q->start]->raw ? 1 : 0;
    for (uint32_t i = q->start + keep; i < q->end; i++) {
        q->bytes -= q->f[i]->len;
        frame_unref(q->f[i]);
    }
    q->end = q->start + keep;
    stats.slow_closes++;
    conn_close(c, WS_CLOSE_POLICY_VIOLATION, "too much unread output");
}

void conn_send(struct conn *c, struct frame *f)
{
    if (c->state != CONN_WS && c->state != CONN_HTTP)
        return;
    queue_frame(c, f);
    /* One frame alone never counts as too much, so a message larger than
     * the cap (an /echo of 16 MiB, say) can still be delivered. */
    struct outq *q = c->out;
    if (q && q->bytes > g.cfg->max_pending && q->end - q->start > 1 && c->state == CONN_WS)
        drop_slow_reader(c);
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

static void set_want_write(struct conn *c, bool want)
{
    if (want == !!(c->flags & CONN_WANT_WRITE))
        return;
    c->flags ^= CONN_WANT_WRITE;
    loop_modify(g.loop, c->fd, LOOP_READ | (want ? LOOP_WRITE : 0));
}

/* All output is written: a closing connection now shuts its write side and
 * waits (briefly) for the peer to hang up, so unread input never turns our
 * last bytes into a reset. */
static void output_done(struct conn *c)
{
    outq_free(c);
    set_want_write(c, false);
    if (c->state == CONN_DRAIN) {
        shutdown(c->fd, SHUT_WR);
        c->state = CONN_LINGER;
    }
}

/* Writes as much of c's queue as the socket takes, WRITEV_MAX frames a call. */
static void flush_one(struct conn *c)
{
    struct outq *q = c->out;
    while (q && q->start < q->end) {
        struct iovec iov[WRITEV_MAX];
        int n = 0;
        for (uint32_t i = q->start; i < q->end && n < WRITEV_MAX; i++, n++) {
            size_t skip = i == q->start ? q->head_off : 0;
            iov[n].iov_base = (uint8_t *)frame_data(q->f[i]) + skip;
            iov[n].iov_len = q->f[i]->len - skip;
        }
        ssize_t w = writev(c->fd, iov, n);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                set_want_write(c, true);
                return;
            }
            if (errno == EINTR)
                continue;
            conn_kill(c);
            return;
        }
        stats.bytes_sent += (uint64_t)w;
        q->bytes -= (size_t)w;
        size_t left = (size_t)w;
        while (left > 0) {
            struct frame *f = q->f[q->start];
            size_t rest = f->len - q->head_off;
            if (left < rest) {
                q->head_off += (uint32_t)left;
                break;
            }
            left -= rest;
            q->head_off = 0;
            q->start++;
            frame_unref(f);
        }
    }
    output_done(c);
}

/* ----------------------------------------------------------------- input */

static void on_readable(struct conn *c)
{
    ssize_t n = read(c->fd, g.scratch, sizeof g.scratch);
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
    switch (c->state) {
    case CONN_HTTP:
        g.hooks.http_input(c, g.scratch, (size_t)n);
        break;
    case CONN_WS:
        c->last_input = conn_clock();
        g.hooks.ws_input(c, g.scratch, (size_t)n);
        break;
    default:
        break;                  /* closing: input is discarded */
    }
}

static void on_io(struct loop *l, int fd, void *data, int mask)
{
    (void)l;
    (void)fd;
    struct conn *c = data;
    if ((mask & LOOP_WRITE) && c->state != CONN_DEAD) {
        c->flags &= (uint8_t)~CONN_WANT_WRITE;
        loop_modify(g.loop, c->fd, LOOP_READ);
        flush_one(c);
    }
    if ((mask & LOOP_READ) && c->state != CONN_DEAD)
        on_readable(c);
}

/* ------------------------------------------------------------- lifecycle */

static void before_sleep(struct loop *l, void *data);

void conn_init(struct loop *l, const struct config *cfg, const struct conn_hooks *hooks)
{
    g.loop = l;
    g.cfg = cfg;
    g.hooks = *hooks;
    g.epoch = loop_now(l);
    g.timer = (struct loop_timer){.fn = on_timer};
    g.lists[LIST_HANDSHAKE].timeout_ms = cfg->handshake_timeout_ms;
    g.lists[LIST_ACTIVE].timeout_ms = cfg->ping_interval_ms;
    g.lists[LIST_PINGED].timeout_ms = cfg->idle_timeout_ms;
    g.lists[LIST_CLOSING].timeout_ms = LINGER_MS;
    loop_before_sleep(l, before_sleep, NULL);
}

struct conn *conn_accept(int fd)
{
    struct conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->fd = fd;
    c->state = CONN_HTTP;
    c->close_code = 1006;
    c->timer_list = LIST_NONE;
    c->tokens = (float)g.cfg->max_burst;
    if (loop_add(g.loop, fd, LOOP_READ, on_io, c) < 0) {
        free(c);
        return NULL;
    }
    g.count++;
    list_append(c, LIST_HANDSHAKE, conn_clock());
    return c;
}

void conn_upgrade(struct conn *c)
{
    c->state = CONN_WS;
    c->flags |= CONN_UPGRADED;
    c->bucket_ms = c->last_input = conn_clock();
    list_append(c, LIST_ACTIVE, conn_clock());
}

/* A WebSocket stops being open the moment its close starts, not when its
 * socket is finally freed, so counts and OfflineNotify do not lag by the
 * linger time. The layers above hear of it at the end of the turn, never in
 * the middle of a broadcast that may be what closed it. */
static void note_leaving(struct conn *c)
{
    if (c->state != CONN_WS)
        return;
    if (g.nleaving == g.leaving_cap) {
        size_t cap = g.leaving_cap ? 2 * g.leaving_cap : 64;
        struct conn **v = realloc(g.leaving, cap * sizeof *v);
        if (!v)
            return;             /* the reaper tells them instead */
        g.leaving = v;
        g.leaving_cap = cap;
    }
    g.leaving[g.nleaving++] = c;
}

static void start_closing(struct conn *c)
{
    note_leaving(c);
    c->state = CONN_DRAIN;
    list_append(c, LIST_CLOSING, conn_clock());
    if (!c->out)
        output_done(c);
}

void conn_close(struct conn *c, unsigned code, const char *reason)
{
    if (c->state != CONN_WS)
        return;
    /* §5.5.1: the body is the 2-byte code and a UTF-8 reason, 123 bytes at
     * most, so the whole close frame stays a legal control frame. */
    uint8_t body[WS_MAX_CONTROL] = {0};
    size_t rlen = reason ? strnlen(reason, sizeof body - 2) : 0;
    size_t blen = 0;
    if (code != 1005) {
        body[0] = (uint8_t)(code >> 8);
        body[1] = (uint8_t)code;
        if (rlen)
            memcpy(body + 2, reason, rlen);
        blen = 2 + rlen;
    }
    struct frame *f = frame_make(WS_OP_CLOSE, body, blen);
    if (f) {
        queue_frame(c, f);
        frame_unref(f);
    }
    c->close_code = (uint16_t)code;
    if (code >= 1002 && code != 1005)
        log_conn(LOG_INFO, "event=close fd=%d code=%u reason=\"%s\"", c->fd, code, reason ? reason : "");
    if (code != 1005 && code >= STATS_CLOSE_MIN && code < STATS_CLOSE_MIN + STATS_CLOSE_CODES)
        stats.closes[code - STATS_CLOSE_MIN]++;
    start_closing(c);
}

void conn_finish(struct conn *c)
{
    if (c->state == CONN_HTTP)
        start_closing(c);
}

void conn_kill(struct conn *c)
{
    if (c->state == CONN_DEAD)
        return;
    note_leaving(c);
    c->state = CONN_DEAD;
    list_unlink(c);
    /* The reap list reuses flush_next: a dead connection writes nothing. */
    if (c->flags & CONN_FLUSHING)
        return;                 /* the flush pass moves it to the reap list */
    c->flush_next = g.reap;
    g.reap = c;
}

bool conn_within_rate(struct conn *c)
{
    if (g.cfg->max_rate <= 0)
        return true;
    uint32_t now = conn_clock();
    float refill = (float)((now - c->bucket_ms) * g.cfg->max_rate / 1000.0);
    c->bucket_ms = now;
    c->tokens += refill;
    if (c->tokens > (float)g.cfg->max_burst)
        c->tokens = (float)g.cfg->max_burst;
    if (c->tokens < 1.0f) {
        stats.rate_closes++;
        conn_close(c, WS_CLOSE_POLICY_VIOLATION, "rate limit exceeded");
        return false;
    }
    c->tokens -= 1.0f;
    return true;
}

static void reap_all(void)
{
    while (g.reap) {
        struct conn *c = g.reap;
        g.reap = c->flush_next;
        g.hooks.closed(c);
        loop_remove(g.loop, c->fd);
        close(c->fd);
        outq_free(c);
        g.count--;
        free(c);
    }
}

static void flush_all(void)
{
    while (g.flush) {
        struct conn *c = g.flush;
        g.flush = c->flush_next;
        c->flags &= (uint8_t)~CONN_FLUSHING;
        if (c->state != CONN_DEAD) {
            flush_one(c);   /* a socket error here reaps it through conn_kill */
        } else {
            c->flush_next = g.reap;
            g.reap = c;
        }
    }
}

/* Ends a loop turn: tells the layer above of the WebSockets that stopped
 * being open, frees dead connections, then writes queued output. */
static void end_turn(void)
{
    /* Leaving queues output (OfflineNotify) and writing can find dead
     * sockets, so go round until all three lists are empty. */
    while (g.nleaving || g.reap || g.flush) {
        while (g.nleaving)
            g.hooks.left(g.leaving[--g.nleaving]);
        reap_all();
        flush_all();
    }
}

/* The loop's hook: ends the turn before the next wait, so a broadcast of
 * one turn leaves in one writev per recipient. */
static void before_sleep(struct loop *l, void *data)
{
    (void)l;
    (void)data;
    end_turn();
}

void conn_close_all(unsigned code, const char *reason)
{
    while (g.lists[LIST_HANDSHAKE].head)
        conn_kill(g.lists[LIST_HANDSHAKE].head);
    int open_lists[] = {LIST_ACTIVE, LIST_PINGED};
    for (size_t i = 0; i < sizeof open_lists / sizeof open_lists[0]; i++) {
        struct conn_list *l = &g.lists[open_lists[i]];
        while (l->head)
            conn_close(l->head, code, reason);
    }
}

void conn_drop_all(void)
{
    for (int i = 0; i < LISTS; i++)
        while (g.lists[i].head)
            conn_kill(g.lists[i].head);
    end_turn();
}

size_t conn_count(void)
{
    return g.count;
}

/* conn.c - the transport: connections' sockets, input, deadlines and
 * death. It knows no opcode and no user (see conn.h); their output is
 * conn_output.c's.
 *
 * What this file owns:
 * - Reading: every socket reads into one shared scratch buffer; the owners
 *   keep per-connection input only for what is partial.
 * - Deadlines: each connection is on at most one of deadline.c's lists,
 *   whose meaning its owner gives; the transport's own is the linger.
 * - Death: connections are marked dead and freed at one point, after the
 *   loop turn, so no callback ever touches freed memory (as Redis does).
 * - The transport: on a TLS port the first byte a connection sends says
 *   whether it is TLS or plain, and which struct transport carries it.
 * - The turn's end: owners told of ends, the dead freed, output written.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

#include "conn_int.h"
#include "outq.h"
#include "stats.h"

struct stats stats;

/* Gives a closing peer this long to read our last bytes and hang up. */
#define LINGER_MS 2000
#define SCRATCH_SIZE 65536

const struct transport *const conn_transports[] = {&transport_tcp, &transport_tls};

static struct {
    struct conn *conns;         /* by descriptor: a slot per possible socket */
    size_t max_ids;             /* slots in conns */
    struct loop *loop;
    void (*released)(void);     /* told after each free */
    void (*before_write)(void); /* runs before a turn's output is written (the journal) */
    int linger;                 /* our own deadline list, for finished connections */
    struct conn *reap;          /* dead connections to free */
    struct conn **ending;       /* connections that stopped being open this turn */
    size_t nending, ending_cap;
    size_t count;               /* live connections */
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
    output_interest(c);         /* a TLS read may now wait for room, or no longer */
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
        output_writable(c);
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
    output_init(l);
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

void conn_kill(struct conn *c)
{
    if (c->state == CONN_DEAD)
        return;
    note_ending(c);
    c->state = CONN_DEAD;
    deadline_clear(&c->deadline);
    /* The reap list reuses flush_next: a dead connection writes nothing. */
    if (!(c->flags & CONN_FLUSHING))
        conn_reap_later(c);     /* else the flush pass moves it there */
}

void conn_reap_later(struct conn *c)
{
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

/* Ends a loop turn: tells the owners of the connections that stopped being
 * open, frees dead connections, runs the before-write hook, then writes
 * queued output. */
static void end_turn(void)
{
    /* An end queues output (OfflineNotify), so may the hook (answers that
     * waited for the journal's write, which may be all a turn did: a Single
     * kept for someone offline), and writing can find dead sockets, so go
     * round until all three lists are empty. */
    do {
        while (g.nending) {
            struct conn *c = g.ending[--g.nending];
            c->ops->ended(c);
        }
        reap_all();
        if (g.before_write)
            g.before_write();
        output_flush();
    } while (g.nending || g.reap || output_pending());
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

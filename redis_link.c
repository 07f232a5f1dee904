/* redis_link.c - owns one connection to Redis (see redis_link.h): its
 * socket and non-blocking connect, the output it pipelines, the FIFO of
 * callbacks, the replies parsed from its input and handed out in order, and
 * its death.
 *
 * A link dies at one place, link_drop: the socket closed, the client told,
 * then the callbacks still waiting failed in order. A callback never drops
 * its own link while replies are being handed out (their bytes are the
 * input buffer): link_break marks it, and the dispatch loop drops it once
 * the callback has returned. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "redis_link.h"

#define READ_CHUNK 65536

int link_init(struct link *k, const struct link_hooks *hooks, void *owner, struct loop *l,
              const struct redis_options *o, const struct resp_limits *lim, const char *name)
{
    *k = (struct link){.hooks = hooks, .owner = owner, .loop = l, .o = o, .lim = lim,
                       .name = name, .fd = -1, .out = buf_make(o->max_output),
                       .in = buf_make(o->max_input)};
    k->fifo = calloc(o->max_pending, sizeof *k->fifo);
    k->elems = calloc(o->max_elems, sizeof *k->elems);
    return k->fifo && k->elems ? 0 : -1;
}

void link_free(struct link *k, const char *why)
{
    if (k->fifo)
        link_drop(k, "%s", why);
    free(k->fifo);
    free(k->elems);
    k->fifo = NULL;
    k->elems = NULL;
}

int64_t link_oldest(const struct link *k)
{
    return k->count ? k->fifo[k->head].sent : -1;
}

/* ---- Output ----------------------------------------------------------------- */

static void interest(struct link *k)
{
    loop_modify(k->loop, k->fd, LOOP_READ | (k->out_off < k->out.len ? LOOP_WRITE : 0));
}

static void compact(struct link *k)
{
    memmove(k->out.data, k->out.data + k->out_off, k->out.len - k->out_off);
    k->out.len -= k->out_off;
    k->out_off = 0;
}

/* Appends the command to the output, the written bytes before it moved
 * out of the way when they take half of it or leave it no room. */
static bool append(struct link *k, size_t argc, const char *const argv[], const size_t lens[])
{
    if (k->out_off > 0 && k->out_off >= k->out.len / 2)
        compact(k);
    for (;;) {
        if (resp_append_command(&k->out, argc, argv, lens))
            return true;
        k->out.failed = false; /* a refusal is this command's alone */
        if (k->out_off == 0)
            return false;
        compact(k);
    }
}

bool link_send(struct link *k, size_t argc, const char *const argv[], const size_t lens[],
               redis_reply_fn *fn, void *data)
{
    if (k->state < LINK_HANDSHAKE || k->count == k->o->max_pending || !append(k, argc, argv, lens))
        return false;
    k->fifo[(k->head + k->count++) % k->o->max_pending] =
        (struct link_pending){.fn = fn, .data = data, .sent = loop_now(k->loop)};
    interest(k); /* written when the loop finds room: a turn's commands leave together */
    return true;
}

static struct link_pending pop(struct link *k)
{
    struct link_pending p = k->fifo[k->head];

    k->head = (k->head + 1) % k->o->max_pending;
    k->count--;
    return p;
}

void link_drop(struct link *k, const char *fmt, ...)
{
    char what[LINK_WHY], why[LINK_WHY + 32];
    va_list ap;

    if (k->state == LINK_CLOSED && k->count == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(why, sizeof why, "%s connection: %s", k->name, what);
    if (k->fd >= 0) {
        loop_remove(k->loop, k->fd);
        close(k->fd);
    }
    k->fd = -1;
    k->state = LINK_CLOSED;
    k->broken[0] = '\0';
    buf_free(&k->out);
    buf_free(&k->in);
    k->out_off = 0;
    /* The client first, so that it is down by the time a failed command's
     * callback tries again, and that try is refused. */
    k->hooks->dropped(k, why);
    while (k->count > 0) {
        struct link_pending p = pop(k);
        if (p.fn)
            p.fn(p.data, NULL, why);
    }
}

void link_break(struct link *k, const char *what, const struct resp_elem *error)
{
    snprintf(k->broken, sizeof k->broken, "%s refused: %.*s", what, (int)error->len, error->str);
}

/* ---- Input ------------------------------------------------------------------ */

/* Hands out every whole reply in the input, in order; false when the link
 * was dropped (its input is gone). */
static bool dispatch(struct link *k)
{
    size_t off = 0;

    while (off < k->in.len) {
        size_t err_at;
        long n = resp_parse(k->in.data + off, k->in.len - off, k->lim, k->elems,
                            k->o->max_elems, &err_at);
        if (n == RESP_NEED_MORE)
            break;
        if (n < 0) {
            /* Out of step, or past a limit (RESP_ERR_BULK_LONG and the
             * errors after it): nothing after it can be read either. */
            link_drop(k, "%s: %s", n > RESP_ERR_BULK_LONG ? "a malformed reply" : "a reply past a limit",
                      resp_strerror((int)n));
            return false;
        }
        if (!k->hooks->push(k, k->elems)) {
            if (k->count == 0) {
                link_drop(k, "a reply to no command");
                return false;
            }
            struct link_pending p = pop(k);
            if (p.fn)
                p.fn(p.data, k->elems, NULL);
        }
        off += (size_t)n;
        if (k->broken[0]) {
            link_drop(k, "%s", k->broken);
            return false;
        }
    }
    memmove(k->in.data, k->in.data + off, k->in.len - off);
    k->in.len -= off;
    return true;
}

static void on_read(struct link *k)
{
    size_t room = k->o->max_input - k->in.len;
    size_t want = room < READ_CHUNK ? room : READ_CHUNK;

    if (room == 0) {
        link_drop(k, "a reply longer than %zu bytes", k->o->max_input);
        return;
    }
    char *at = buf_reserve(&k->in, want);
    if (!at) {
        link_drop(k, "out of memory for a reply");
        return;
    }
    ssize_t n = read(k->fd, at, want);
    if (n == 0) {
        link_drop(k, "closed by Redis");
    } else if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            link_drop(k, "read: %s", strerror(errno));
    } else {
        k->in.len += (size_t)n;
        if (dispatch(k))
            interest(k); /* the callbacks may have queued commands */
    }
}

static void on_write(struct link *k)
{
    while (k->out_off < k->out.len) {
        ssize_t n = send(k->fd, k->out.data + k->out_off, k->out.len - k->out_off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n < 0) {
            link_drop(k, "write: %s", strerror(errno));
            return;
        }
        k->out_off += (size_t)n;
    }
    if (k->out_off == k->out.len)
        k->out.len = k->out_off = 0;
    interest(k);
}

void link_flush(struct link *k)
{
    if (k->state >= LINK_HANDSHAKE && k->out_off < k->out.len)
        on_write(k);
}

static void connected(struct link *k)
{
    k->state = LINK_HANDSHAKE;
    k->hooks->connected(k);
}

static void on_io(struct loop *l, int fd, void *data, int mask)
{
    struct link *k = data;
    (void)l;
    (void)fd;

    if (k->state == LINK_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        if (err) {
            link_drop(k, "connect: %s", strerror(err));
            return;
        }
        connected(k);
        mask = LOOP_WRITE; /* what the handshake queued */
    }
    if ((mask & LOOP_READ) && k->state >= LINK_HANDSHAKE)
        on_read(k);
    if ((mask & LOOP_WRITE) && k->state >= LINK_HANDSHAKE)
        on_write(k);
}

/* ---- Connecting ------------------------------------------------------------- */

void link_open(struct link *k)
{
    const struct redis_address *a = &k->o->addr;
    int family = a->sa.ss_family, one = 1;

    k->since = loop_now(k->loop);
    k->state = LINK_CONNECTING;
    k->fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (k->fd < 0) {
        link_drop(k, "socket: %s", strerror(errno));
        return;
    }
    /* Commands are small and each waits for its reply: Nagle would hold
     * the next batch back for the last one's ACK. */
    if (family != AF_UNIX)
        setsockopt(k->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (loop_add(k->loop, k->fd, LOOP_WRITE, on_io, k) < 0) {
        link_drop(k, "loop: %s", strerror(errno));
        return;
    }
    if (connect(k->fd, (const struct sockaddr *)&a->sa, a->len) == 0)
        connected(k); /* a Unix socket may connect at once */
    else if (errno != EINPROGRESS && errno != EINTR)
        link_drop(k, "connect: %s", strerror(errno));
}

/* server.c - the HTTP side of pusher: accepting sockets, reading requests,
 * and answering the WebSocket handshake (handshake.c decides it); the
 * plain endpoints are endpoints.c's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "buf.h"
#include "connmgr.h"
#include "endpoints.h"
#include "handshake.h"
#include "http.h"
#include "log.h"
#include "server.h"
#include "static.h"
#include "stats.h"
#include "session.h"

#define ACCEPT_BATCH 64         /* accepts per wake-up, so one burst cannot starve the rest */
#define ACCEPT_BACKOFF_MS 100   /* pause after running out of descriptors */

#define STASH_SLACK 65536      /* a read's worth of bytes past a request */

static struct {
    struct loop *loop;
    const struct config *cfg;
    int listen_fd;
    size_t max_sockets;         /* connections plus room to answer 503s */
    bool accepting;             /* is the listening socket polled? */
    int handshake;              /* the transport's deadline list for requests */
    struct loop_timer resume;   /* re-enables accept() after EMFILE */
} g;

/* ------------------------------------------------------------- handshake */

static void refuse_upgrade(struct conn *c, int status, const char *extra, const char *why)
{
    if (status >= STATS_STATUS_MIN && status < STATS_STATUS_MIN + STATS_STATUSES)
        stats.rejected[status - STATS_STATUS_MIN]++;
    endpoint_refuse(c, status, extra, why);
}


/* Answers a handshake (handshake.c decides) and, on 101, turns c into a
 * WebSocket that joins its user or, on /echo, echoes. */
static void upgrade(struct conn *c, const struct http_request *req, bool echo)
{
    struct handshake hs;
    handshake_check(req, echo, g.cfg, connmgr_connections(), time(NULL), &hs);
    if (hs.status != 101) {
        refuse_upgrade(c, hs.status, hs.extra, hs.why);
        return;
    }
    char head[160];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", hs.accept);
    conn_send_raw(c, head, (size_t)n);
    session_open(c, echo, &hs);
}

/* Routes one complete request; body is len bytes (POST only). */
static void dispatch(struct conn *c, const struct http_request *req, const char *body, size_t len)
{
    size_t plen = http_path_len(req->target, req->target_len);
    const char *path = req->target;
    log_conn(LOG_DEBUG, "event=request fd=%d method=%.*s path=\"%.*s\"", conn_id(c),
             (int)req->method_len, req->method, (int)plen, path);

    if (http_path_is(path, plen, "/websocket") || (g.cfg->echo && http_path_is(path, plen, "/echo")))
        upgrade(c, req, http_path_is(path, plen, "/echo"));
    else
        endpoint_serve(c, req, body, len);
}

/* ----------------------------------------------------------------- input */

static const char *parse_error_reason(int status)
{
    switch (status) {
    case 414: return "the request line is longer than 4096 bytes";
    case 431: return "the request head is over 8 KiB or has more than 32 headers";
    default: return "malformed HTTP request";
    }
}

/* Keeps the bytes of a request that is not complete yet, with room for
 * need bytes in all (the head and body, once the head tells). The parser's
 * head limit and the body limit bound it, with one read's worth past them
 * (bytes a client sent after its request). */
static bool stash(struct conn *c, const uint8_t *data, size_t len, size_t need)
{
    struct buf *in = conn_data(c);
    if (!in) {
        if (!(in = malloc(sizeof *in)))
            return false;
        *in = buf_make(HTTP_MAX_HEAD + g.cfg->max_message + STASH_SLACK);
        conn_set_data(c, in);
    }
    if (need > in->len + len)
        buf_reserve(in, need - in->len);
    buf_append(in, data, len);
    return !in->failed;
}

/* Could this Host value be put in a Location? A host name, an IPv4 or a
 * bracketed IPv6 address, and a port (RFC 9110 §7.2, RFC 3986 §3.2.2),
 * without what would make the redirect point somewhere else ('/', '@'). */
static bool host_ok(const char *v, size_t len)
{
    if (len == 0 || len > 255)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:[]", v[i]))
            return false;
    return true;
}

/* A plain request on a TLS port: a page typed as http:// is sent to the
 * same path on https:// (301); anything else (a WebSocket upgrade, an API
 * call) would carry in the clear what TLS is there to protect, so it is
 * refused with what to use. */
static void plain_on_tls(struct conn *c, const struct http_request *req)
{
    const struct http_header *host = http_header_find(req, "host");
    bool head = http_method_is(req, "HEAD");
    if ((!head && !http_method_is(req, "GET")) || http_header_find(req, "upgrade") || !host ||
        http_header_count(req, "host") > 1 || !host_ok(host->value, host->value_len)) {
        endpoint_refuse(c, 400, NULL, "this port speaks TLS: use https:// or wss://");
        return;
    }
    char location[HTTP_MAX_REQUEST_LINE + 300];
    snprintf(location, sizeof location, "Location: https://%.*s%.*s\r\n",
             (int)host->value_len, host->value, (int)req->target_len, req->target);
    static const char body[] = "this port speaks TLS: use https://\n";
    log_conn(LOG_DEBUG, "event=redirect fd=%d to=https", conn_id(c));
    endpoint_respond(c, 301, "text/plain; charset=utf-8", location, body, sizeof body - 1, head);
}

/* What a complete head alone can refuse, answered here: true when it was.
 * Sets *body_len from Content-Length for a POST. */
static bool head_refused(struct conn *c, const struct http_request *req, size_t *body_len)
{
    const char *why = NULL;
    int status = 400;
    if (http_header_find(req, "transfer-encoding")) {
        /* RFC 9112 §6.1: Transfer-Encoding overrides Content-Length, and a
         * request with both is a smuggling risk; pusher takes neither. */
        status = 411;
        why = "send the body with Content-Length (Transfer-Encoding is not supported)";
    } else if (http_header_count(req, "host") > 1) {
        /* RFC 9112 §3.2: two Hosts leave it unclear which site is meant. */
        why = "Host may appear only once";
    } else if (http_method_is(req, "POST")) {
        if (!http_header_find(req, "content-length")) {
            status = 411;
            why = "POST needs a Content-Length";
        } else if (http_content_length(req, SIZE_MAX, body_len) < 0) {
            why = "Content-Length must be one whole number";
        } else if (*body_len > g.cfg->max_message) {
            status = 413;
            why = "the body is larger than the message limit (--max-message)";
        }
    }
    if (why)
        endpoint_refuse(c, status, NULL, why);
    return why != NULL;
}

/* conn_ops.input while a request comes in. */
static void http_input(struct conn *c, uint8_t *data, size_t len)
{
    const char *buf = (const char *)data;
    size_t n = len;
    struct buf *kept = conn_data(c);
    if (kept) {
        if (!stash(c, data, len, 0)) {
            conn_kill(c);
            return;
        }
        buf = kept->data;
        n = kept->len;
    }
    struct http_request req;
    int r = http_parse_request(buf, n, &req);
    size_t body_len = 0;
    if (r > 0 && g.cfg->tls_cert && !conn_is_tls(c)) {
        plain_on_tls(c, &req);
        return;
    }
    if (r > 0 && head_refused(c, &req, &body_len))
        return;
    if (r < 0) {
        endpoint_refuse(c, -r, NULL, parse_error_reason(-r));
        return;
    }
    if (r == 0 || n - (size_t)r < body_len) {
        /* Not complete: keep what came (bounded by the head and body limits). */
        if (!kept && !stash(c, data, len, r > 0 ? (size_t)r + body_len : len))
            conn_kill(c);
        return;
    }
    dispatch(c, &req, buf + r, body_len);
    if (!session_is(c))
        return;                 /* answered; the stash dies with the connection */
    /* A WebSocket now, which owns its input: the bytes after the handshake
     * are the client's first ones. */
    size_t used = (size_t)r;
    if (conn_is_open(c) && n > used)
        session_input(c, (uint8_t *)buf + used, n - used);
    if (kept) {
        buf_free(kept);
        free(kept);
    }
}

/* conn_ops.expired: the whole request did not come in time. */
static void http_expired(struct conn *c)
{
    log_conn(LOG_INFO, "event=timeout fd=%d phase=handshake", conn_id(c));
    conn_kill(c);
}

/* conn_ops.freed */
static void http_freed(struct conn *c)
{
    struct buf *in = conn_data(c);
    if (in) {
        buf_free(in);
        free(in);
    }
}

static const struct conn_ops http_ops = {
    .input = http_input,
    .expired = http_expired,
    .freed = http_freed,
};

/* ------------------------------------------------------------ accepting */

static void set_accepting(bool on)
{
    if (g.accepting == on || g.listen_fd < 0)
        return;
    g.accepting = on;
    loop_modify(g.loop, g.listen_fd, on ? LOOP_READ : 0);
}

static void on_resume(struct loop *l, void *data)
{
    (void)l;
    (void)data;
    set_accepting(conn_count() < g.max_sockets);
}

/* The transport freed a connection: room for one more, if the listener
 * was paused for want of it. */
static void on_released(void)
{
    if (!g.accepting && !g.resume.armed && conn_count() < g.max_sockets)
        set_accepting(true);
}

bool server_accept(int fd)
{
    /* pusher gathers each turn's output into one write itself, so Nagle's
     * algorithm would only hold the last bytes back. */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct conn *c = conn_accept(fd, &http_ops);
    if (!c)
        return false;
    if (g.cfg->tls_cert)        /* the port speaks TLS: tls.c has its certificate */
        conn_sniff_tls(c);
    /* On a TLS port the TLS handshake is within this deadline too. */
    conn_deadline(c, g.handshake, conn_now());
    return true;
}

static void on_listen(struct loop *l, int fd, void *data, int mask)
{
    (void)l;
    (void)data;
    (void)mask;
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        if (conn_count() >= g.max_sockets) {
            /* Stop polling the listener until a connection ends (endlessh):
             * the backlog holds the rest, and the loop does not spin. */
            set_accepting(false);
            return;
        }
        int s = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (s < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Out of descriptors or memory: shed load for a moment
                 * rather than spin on a listener we cannot accept from. */
                stats.accept_errors++;
                log_event(LOG_WARN, "event=accept_error error=\"%s\"", strerror(errno));
                set_accepting(false);
                loop_timer_arm(g.loop, &g.resume, loop_now(g.loop) + ACCEPT_BACKOFF_MS);
            } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                       errno != ECONNABORTED && errno != EPROTO) {
                log_event(LOG_WARN, "event=accept_error error=\"%s\"", strerror(errno));
            }
            return;
        }
        if (!server_accept(s))
            close(s);
    }
}

int server_init(struct loop *l, const struct config *cfg, int listen_fd, size_t max_sockets,
                size_t max_ids)
{
    g.loop = l;
    g.cfg = cfg;
    g.listen_fd = listen_fd;
    g.max_sockets = max_sockets;
    g.resume = (struct loop_timer){.fn = on_resume};
    if (conn_init(l, max_ids, on_released) < 0 || session_init(cfg, max_ids) < 0)
        return -1;
    conn_set_max_pending(cfg->max_pending);
    g.handshake = conn_deadline_list(cfg->handshake_timeout_ms);
    static_set_dir(cfg->static_dir);
    api_init(cfg);
    if (listen_fd >= 0)
        loop_add(l, listen_fd, LOOP_READ, on_listen, NULL);
    g.accepting = true;
    return 0;
}

/* A WebSocket gets close 1001; a request not yet answered is dropped. */
static void shut_one(struct conn *c)
{
    if (session_is(c))
        session_close(c, WS_CLOSE_GOING_AWAY, "server shutting down");
    else
        conn_kill(c);
}

void server_shutdown(void)
{
    set_accepting(false);
    loop_timer_cancel(g.loop, &g.resume);
    if (g.listen_fd >= 0) {
        loop_remove(g.loop, g.listen_fd);
        close(g.listen_fd);
        g.listen_fd = -1;
    }
    conn_each_open(shut_one);
}

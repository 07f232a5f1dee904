/* server.c - the HTTP side of pusher: accepting sockets, reading requests,
 * answering the WebSocket handshake (handshake.c decides it), and the plain
 * endpoints (/admin, /healthz, /metrics, the chat page; api.c answers the
 * JSON ones under /api/).
 *
 * Every answer but 101 is a whole response followed by the end of the
 * connection: pusher speaks HTTP only to open WebSockets and answer small
 * questions, so it keeps no HTTP connection alive. */
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
#include "cluster.h"
#include "connmgr.h"
#include "handshake.h"
#include "http.h"
#include "journal.h"
#include "log.h"
#include "metrics.h"
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

/* --------------------------------------------------------------- answers */

static const char *status_text(int status)
{
    switch (status) {
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 301: return "Moved Permanently";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 426: return "Upgrade Required";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    default: return "Error";
    }
}

/* Queues a whole response and ends the connection after it. extra is more
 * header lines, each ending in CRLF. With head_only (HEAD), no body. */
/* An answer that goes out only if the turn's journal reaches the disk
 * (--fsync always): a push's 200 says its message is kept. */
static bool durable_answer;

static void respond(struct conn *c, int status, const char *type, const char *extra,
                    const void *body, size_t len, bool head_only)
{
    char head[HTTP_MAX_REQUEST_LINE + 512];  /* room for a Location of the whole target */
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n%s\r\n",
                     status, status_text(status), type, len, extra ? extra : "");
    size_t hlen = n < (int)sizeof head ? (size_t)n : sizeof head - 1;
    size_t blen = head_only ? 0 : len;
    struct frame *f = frame_alloc(hlen + blen);
    if (!f) {
        conn_kill(c);
        return;
    }
    memcpy(frame_payload(f), head, hlen);
    if (blen)
        memcpy(frame_payload(f) + hlen, body, blen);
    frame_seal_raw(f, hlen + blen);
    if (durable_answer)
        journal_guard(f);
    conn_send(c, f);
    frame_unref(f);
    conn_finish(c);
}

/* The usual error answer: one line of plain text saying what to change. */
static void refuse(struct conn *c, int status, const char *extra, const char *why)
{
    char line[256];
    int n = snprintf(line, sizeof line, "%s\n", why);
    log_conn(LOG_INFO, "event=refuse fd=%d status=%d reason=\"%s\"", conn_id(c), status, why);
    respond(c, status, "text/plain; charset=utf-8", extra, line, (size_t)n, false);
}

static void refuse_upgrade(struct conn *c, int status, const char *extra, const char *why)
{
    if (status >= STATS_STATUS_MIN && status < STATS_STATUS_MIN + STATS_STATUSES)
        stats.rejected[status - STATS_STATUS_MIN]++;
    refuse(c, status, extra, why);
}

/* ------------------------------------------------------------- handshake */

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

/* ------------------------------------------------------- plain endpoints */

static void serve_metrics(struct conn *c, bool head_only)
{
    struct buf b = buf_make(METRICS_MAX);
    metrics_write(&b);
    if (b.failed)
        refuse(c, 503, NULL, "out of memory");
    else
        respond(c, 200, "text/plain; version=0.0.4; charset=utf-8", NULL, b.data, b.len, head_only);
    buf_free(&b);
}

/* 200 ok, or 503 with the reason while the server cannot keep its
 * promises (PROTOCOL.md /healthz). */
static void serve_health(struct conn *c, bool head_only)
{
    const char *why = journal_problem() ? journal_problem() : cluster_problem();
    if (why)
        refuse(c, 503, NULL, why);
    else
        respond(c, 200, "text/plain; charset=utf-8", NULL, "ok\n", 3, head_only);
}

/* Sends what api.c answered: its JSON, or its refusal in one line. */
static void answer_api(struct conn *c, struct api_reply *r, bool head_only)
{
    durable_answer = r->durable;
    if (r->status == 200)
        respond(c, 200, "application/json", r->extra, r->body.data, r->body.len, head_only);
    durable_answer = false;
    if (r->status != 200)
        refuse(c, r->status, r->extra, r->why);
    buf_free(&r->body);
}

/* A push (or /admin) with --redis, answered once Redis has: to the HTTP
 * connection that asked, if it is still that one. */
struct later {
    struct conn *c;
    int id;
    bool head;                  /* a HEAD request */
};

static void on_pushed(void *data, long delivered, bool kept, const char *failure)
{
    struct later *w = data;
    struct conn *c = conn_by_id(w->id);
    if (c == w->c && conn_is_open(c)) {
        struct api_reply r;
        api_push_answer(delivered, kept, failure, &r);
        answer_api(c, &r, false);
    }
    free(w);
}

static void serve_push(struct conn *c, const struct http_request *req, const char *body,
                       size_t len)
{
    struct later *w = malloc(sizeof *w);
    if (!w) {
        refuse(c, 503, NULL, "out of memory");
        return;
    }
    *w = (struct later){.c = c, .id = conn_id(c)};
    struct api_reply r;
    api_push(req, body, len, &r, on_pushed, w);
    if (r.status == 0) {
        buf_free(&r.body);
        return;
    }
    free(w);
    answer_api(c, &r, false);
}

static void on_counted(void *data, long n, const char *failure)
{
    struct later *w = data;
    struct conn *c = conn_by_id(w->id);
    if (c == w->c && conn_is_open(c)) {
        char count[32];
        int len = snprintf(count, sizeof count, "%ld\n", n);
        if (failure)
            refuse(c, 503, NULL, failure);
        else
            respond(c, 200, "text/plain; charset=utf-8", NULL, count, (size_t)len, w->head);
    }
    free(w);
}

/* /admin: the open WebSocket connections, of all nodes with --redis. */
static void serve_admin(struct conn *c, bool head_only)
{
    if (!cluster_on()) {
        char count[32];
        int n = snprintf(count, sizeof count, "%zu\n", connmgr_connections());
        respond(c, 200, "text/plain; charset=utf-8", NULL, count, (size_t)n, head_only);
        return;
    }
    struct later *w = malloc(sizeof *w);
    if (!w) {
        refuse(c, 503, NULL, "out of memory");
        return;
    }
    *w = (struct later){.c = c, .id = conn_id(c), .head = head_only};
    cluster_connections(on_counted, w);
}

/* /api/online with --redis: the users of all nodes, from Redis. */
struct online_later {
    struct later to;
    struct api_online_query q;
};

static void on_online(void *data, long count, const char *names, size_t len,
                      const char *failure)
{
    struct online_later *w = data;
    struct conn *c = conn_by_id(w->to.id);
    const char **ids = failure ? NULL : malloc(((size_t)count + 1) * sizeof *ids);
    char *text = ids ? malloc(len + 1) : NULL;
    if (c == w->to.c && conn_is_open(c)) {
        struct api_reply r = {.status = 200};
        if (!text) {
            refuse(c, 503, NULL, failure ? failure : "out of memory");
        } else {
            /* One name a line: cut at each newline. */
            memcpy(text, names, len);
            text[len] = '\0';
            size_t n = 0;
            for (char *p = text, *nl; len && n < (size_t)count; p = nl + 1) {
                ids[n++] = p;
                if (!(nl = strchr(p, '\n')))
                    break;
                *nl = '\0';
            }
            api_online_answer(&w->q, ids, n, &r);
            answer_api(c, &r, w->to.head);
        }
    }
    free(text);
    free(ids);
    free(w);
}

static void serve_online(struct conn *c, const struct http_request *req, bool head_only)
{
    struct api_reply r;
    struct api_online_query q;
    if (!api_online_query(req, time(NULL), &q, &r)) {
        answer_api(c, &r, head_only);
        return;
    }
    if (!cluster_on()) {
        api_online_here(&q, &r);
        answer_api(c, &r, head_only);
        return;
    }
    struct online_later *w = malloc(sizeof *w);
    if (!w) {
        refuse(c, 503, NULL, "out of memory");
        return;
    }
    *w = (struct online_later){.to = {.c = c, .id = conn_id(c), .head = head_only}, .q = q};
    cluster_online(q.room, q.room_len, on_online, w);
}

static void serve_file(struct conn *c, const char *path, size_t plen, bool head_only)
{
    char decoded[1024];
    long dlen = http_percent_decode(path, plen, decoded, sizeof decoded, false);
    struct static_file file;
    int r = dlen < 0 ? -1 : static_find(decoded, (size_t)dlen, &file);
    if (r == -2)
        refuse(c, 400, NULL, "the path must stay inside the page's folder");
    else if (r < 0)
        refuse(c, 404, NULL, "no such file");
    else
        respond(c, 200, file.type, NULL, file.data, file.len, head_only);
}

static bool path_is(const char *path, size_t len, const char *want)
{
    return strlen(want) == len && memcmp(path, want, len) == 0;
}

static bool method_is(const struct http_request *req, const char *want)
{
    return strlen(want) == req->method_len && memcmp(req->method, want, req->method_len) == 0;
}

/* Routes one complete request; body is len bytes (POST only). */
static void dispatch(struct conn *c, const struct http_request *req, const char *body, size_t len)
{
    size_t plen = http_path_len(req->target, req->target_len);
    const char *path = req->target;
    log_conn(LOG_DEBUG, "event=request fd=%d method=%.*s path=\"%.*s\"", conn_id(c),
             (int)req->method_len, req->method, (int)plen, path);

    if (path_is(path, plen, "/websocket") || (g.cfg->echo && path_is(path, plen, "/echo"))) {
        upgrade(c, req, path_is(path, plen, "/echo"));
        return;
    }
    bool head = method_is(req, "HEAD");
    struct api_reply r;
    if (path_is(path, plen, "/api/push")) {
        if (method_is(req, "POST")) {
            serve_push(c, req, body, len);
        } else {
            refuse(c, 405, "Allow: POST\r\n", "use POST for /api/push");
        }
        return;
    }
    if (!head && !method_is(req, "GET")) {
        refuse(c, 405, "Allow: GET, HEAD\r\n", "this path answers GET and HEAD");
        return;
    }
    if (path_is(path, plen, "/admin")) {
        serve_admin(c, head);
    } else if (path_is(path, plen, "/healthz")) {
        serve_health(c, head);
    } else if (path_is(path, plen, "/metrics")) {
        serve_metrics(c, head);
    } else if (path_is(path, plen, "/api/online")) {
        serve_online(c, req, head);
    } else if (path_is(path, plen, "/api/preflight")) {
        api_preflight(req, connmgr_connections(), time(NULL), &r);
        answer_api(c, &r, head);
    } else {
        serve_file(c, path, plen, head);
    }
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
    bool head = method_is(req, "HEAD");
    if ((!head && !method_is(req, "GET")) || http_header_find(req, "upgrade") || !host ||
        http_header_count(req, "host") > 1 || !host_ok(host->value, host->value_len)) {
        refuse(c, 400, NULL, "this port speaks TLS: use https:// or wss://");
        return;
    }
    char location[HTTP_MAX_REQUEST_LINE + 300];
    snprintf(location, sizeof location, "Location: https://%.*s%.*s\r\n",
             (int)host->value_len, host->value, (int)req->target_len, req->target);
    static const char body[] = "this port speaks TLS: use https://\n";
    log_conn(LOG_DEBUG, "event=redirect fd=%d to=https", conn_id(c));
    respond(c, 301, "text/plain; charset=utf-8", location, body, sizeof body - 1, head);
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
    } else if (method_is(req, "POST")) {
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
        refuse(c, status, NULL, why);
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
        refuse(c, -r, NULL, parse_error_reason(-r));
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

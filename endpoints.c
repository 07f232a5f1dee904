/* endpoints.c - what pusher answers on its plain HTTP paths (PROTOCOL.md's
 * table: /admin, /healthz, /metrics, the chat page; api.c builds the JSON
 * ones under /api/), and the answers themselves: a whole response, then
 * the end of the connection, since pusher keeps no HTTP connection alive.
 * With several nodes some answers wait for Redis, for the connection that
 * asked while it is still that one. server.c reads the requests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "buf.h"
#include "cluster.h"
#include "connmgr.h"
#include "endpoints.h"
#include "journal.h"
#include "log.h"
#include "metrics.h"
#include "static.h"

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

void endpoint_respond(struct conn *c, int status, const char *type, const char *extra,
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
    conn_send(c, f);
    frame_unref(f);
    conn_finish(c);
}

/* The usual error answer: one line of plain text saying what to change. */
void endpoint_refuse(struct conn *c, int status, const char *extra, const char *why)
{
    char line[256];
    int n = snprintf(line, sizeof line, "%s\n", why);
    log_conn(LOG_INFO, "event=refuse fd=%d status=%d reason=\"%s\"", conn_id(c), status, why);
    endpoint_respond(c, status, "text/plain; charset=utf-8", extra, line, (size_t)n, false);
}


/* ------------------------------------------------------- plain endpoints */

static void serve_metrics(struct conn *c, bool head_only)
{
    struct buf b = buf_make(METRICS_MAX);
    metrics_write(&b);
    if (b.failed)
        endpoint_refuse(c, 503, NULL, "out of memory");
    else
        endpoint_respond(c, 200, "text/plain; version=0.0.4; charset=utf-8", NULL, b.data, b.len, head_only);
    buf_free(&b);
}

/* 200 ok, or 503 with the reason while the server cannot keep its
 * promises (PROTOCOL.md /healthz). */
static void serve_health(struct conn *c, bool head_only)
{
    const char *why = journal_problem() ? journal_problem() : cluster_problem();
    if (why)
        endpoint_refuse(c, 503, NULL, why);
    else
        endpoint_respond(c, 200, "text/plain; charset=utf-8", NULL, "ok\n", 3, head_only);
}

/* Sends what api.c answered: its JSON, or its refusal in one line. */
static void answer_api(struct conn *c, struct api_reply *r, bool head_only)
{
    if (r->status == 200)
        endpoint_respond(c, 200, "application/json", r->extra, r->body.data, r->body.len, head_only);
    else
        endpoint_refuse(c, r->status, r->extra, r->why);
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
        endpoint_refuse(c, 503, NULL, "out of memory");
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
            endpoint_refuse(c, 503, NULL, failure);
        else
            endpoint_respond(c, 200, "text/plain; charset=utf-8", NULL, count, (size_t)len, w->head);
    }
    free(w);
}

/* /admin: the open WebSocket connections, of all nodes with --redis. */
static void serve_admin(struct conn *c, bool head_only)
{
    if (!cluster_on()) {
        char count[32];
        int n = snprintf(count, sizeof count, "%zu\n", connmgr_connections());
        endpoint_respond(c, 200, "text/plain; charset=utf-8", NULL, count, (size_t)n, head_only);
        return;
    }
    struct later *w = malloc(sizeof *w);
    if (!w) {
        endpoint_refuse(c, 503, NULL, "out of memory");
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
            endpoint_refuse(c, 503, NULL, failure ? failure : "out of memory");
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
        endpoint_refuse(c, 503, NULL, "out of memory");
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
        endpoint_refuse(c, 400, NULL, "the path must stay inside the page's folder");
    else if (r < 0)
        endpoint_refuse(c, 404, NULL, "no such file");
    else
        endpoint_respond(c, 200, file.type, NULL, file.data, file.len, head_only);
}

void endpoint_serve(struct conn *c, const struct http_request *req, const char *body, size_t len)
{
    size_t plen = http_path_len(req->target, req->target_len);
    const char *path = req->target;
    bool head = http_method_is(req, "HEAD");
    struct api_reply r;
    if (http_path_is(path, plen, "/api/push")) {
        if (http_method_is(req, "POST")) {
            serve_push(c, req, body, len);
        } else {
            endpoint_refuse(c, 405, "Allow: POST\r\n", "use POST for /api/push");
        }
        return;
    }
    if (!head && !http_method_is(req, "GET")) {
        endpoint_refuse(c, 405, "Allow: GET, HEAD\r\n", "this path answers GET and HEAD");
        return;
    }
    if (http_path_is(path, plen, "/admin")) {
        serve_admin(c, head);
    } else if (http_path_is(path, plen, "/healthz")) {
        serve_health(c, head);
    } else if (http_path_is(path, plen, "/metrics")) {
        serve_metrics(c, head);
    } else if (http_path_is(path, plen, "/api/online")) {
        serve_online(c, req, head);
    } else if (http_path_is(path, plen, "/api/preflight")) {
        api_preflight(req, connmgr_connections(), time(NULL), &r);
        answer_api(c, &r, head);
    } else {
        serve_file(c, path, plen, head);
    }
}

/* api.c - the JSON API beside the WebSocket (see api.h): server push, the
 * list of who is online, and the preflight of an upgrade.
 *
 * Who may call what follows one rule: a push needs the API key, and what any
 * user may see (who is online, the limits) needs what a WebSocket needs. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "api.h"
#include "connmgr.h"
#include "journal.h"
#include "handshake.h"
#include "jwt.h"
#include "ws.h"

#define ONLINE_DEFAULT_LIMIT 1000   /* names in one /api/online answer */
#define ONLINE_MAX_LIMIT 100000     /* and at most, whatever ?limit= says */

static const struct config *cfg;

void api_init(const struct config *c)
{
    cfg = c;
}

static void refuse(struct api_reply *r, int status, const char *extra, const char *why)
{
    r->status = status;
    r->extra = extra;
    snprintf(r->why, sizeof r->why, "%s", why);
}

/* Does the request carry Authorization: Bearer with the API key? Compared
 * in constant time, so its bytes cannot be guessed one by one. */
static bool has_api_key(const struct http_request *req)
{
    const struct http_header *h = http_header_find(req, "authorization");
    size_t klen = strlen(cfg->api_key);
    if (!h || h->value_len != klen + 7 || strncasecmp(h->value, "Bearer ", 7) != 0)
        return false;
    return CRYPTO_memcmp(h->value + 7, cfg->api_key, klen) == 0;
}

/* ---------------------------------------------------------------- push */

void api_push(const struct http_request *req, const char *body, size_t len, struct api_reply *r,
              cluster_done_fn *later, void *data)
{
    *r = (struct api_reply){.status = 200, .body = buf_make(64)};
    if (cfg->api_key && !has_api_key(req)) {
        refuse(r, 401, "WWW-Authenticate: Bearer\r\n", "push needs Authorization: Bearer <api key>");
        return;
    }
    if (utf8_validate(UTF8_ACCEPT, (const uint8_t *)body, len) != UTF8_ACCEPT) {
        refuse(r, 400, NULL, "the body is not valid UTF-8");
        return;
    }
    if (journal_refuses()) {
        refuse(r, 503, NULL, journal_problem());
        return;
    }
    if (cluster_problem()) {
        refuse(r, 503, NULL, cluster_problem());
        return;
    }
    char *scratch = malloc(len ? len : 1);
    if (!scratch) {
        refuse(r, 503, NULL, "out of memory");
        return;
    }
    struct message m;
    long n = -1;
    int queued = 0;
    bool read = message_read(body, len, scratch, &m, r->why, sizeof r->why) == 0;
    if (read && cluster_on()) {
        bool sent = connmgr_push_cluster(&m, later, data, r->why, sizeof r->why);
        free(scratch);
        r->status = sent ? 0 : 400;
        return;
    }
    if (read)
        n = connmgr_push(&m, &queued, r->why, sizeof r->why);
    free(scratch);
    if (n < 0) {
        r->status = 400;
        return;
    }
    /* The 200 says the message is kept (--fsync always): not before it is.
     * Where the disk says no, it goes to no one. */
    if (!journal_commit()) {
        refuse(r, 503, NULL, journal_problem());
        return;
    }
    buf_printf(&r->body, "{\"delivered\":%ld,\"queued\":%d}\n", n, queued);
}

void api_push_answer(long delivered, bool kept, const char *failure, struct api_reply *r)
{
    *r = (struct api_reply){.status = 200, .body = buf_make(64)};
    if (failure && strcmp(failure, "not online") != 0) {
        refuse(r, 503, NULL, failure);
        return;
    }
    buf_printf(&r->body, "{\"delivered\":%ld,\"queued\":%d}\n", delivered < 0 ? 0 : delivered,
               kept);
}

/* -------------------------------------------------------------- online */

/* What a WebSocket needs to read what every user may see: with a secret, a
 * token of some user (or the API key, for a backend); an Origin, where the
 * request has one, that may open sockets. NULL when allowed. */
static const char *reader_problem(const struct http_request *req, time_t now, int *status)
{
    *status = 403;
    const struct http_header *o = http_header_find(req, "origin");
    if (o && !handshake_origin_allowed(o->value, o->value_len, cfg))
        return "this Origin is not allowed";
    if (!cfg->secret || (cfg->api_key && has_api_key(req)))
        return NULL;
    *status = 401;
    char token[HTTP_MAX_REQUEST_LINE];
    long tlen = http_query_get(req->target, req->target_len, "token", token, sizeof token);
    if (tlen == -1)
        return "this needs ?token= (a token of any user) or Authorization: Bearer <api key>";
    int j = tlen < 0 ? JWT_ERR_FORMAT
                     : jwt_check_hs256(token, (size_t)tlen, (const uint8_t *)cfg->secret,
                                       strlen(cfg->secret), NULL, 0, now, NULL);
    return j == JWT_OK ? NULL : jwt_strerror(j);
}

/* ?limit=N: a whole number, clamped to ONLINE_MAX_LIMIT; -1 when it is
 * not one. */
static long online_limit(const struct http_request *req)
{
    char v[16];
    long n = http_query_get(req->target, req->target_len, "limit", v, sizeof v);
    if (n == -1)
        return ONLINE_DEFAULT_LIMIT;
    if (n <= 0)
        return -1;
    long limit = 0;
    for (long i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        if (limit < ONLINE_MAX_LIMIT)
            limit = limit * 10 + (v[i] - '0');
    }
    return limit < ONLINE_MAX_LIMIT ? limit : ONLINE_MAX_LIMIT;
}

/* UTF-8 sorts by its bytes in code point order, as strcmp compares. */
static int by_bytes(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorts ids and keeps each once (a user with two connections in a room);
 * returns how many remain. */
static size_t distinct(const char **ids, size_t n)
{
    qsort(ids, n, sizeof *ids, by_bytes);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (k == 0 || strcmp(ids[k - 1], ids[i]) != 0)
            ids[k++] = ids[i];
    return k;
}

bool api_online_query(const struct http_request *req, time_t now, struct api_online_query *q,
                      struct api_reply *r)
{
    *r = (struct api_reply){.status = 200};
    int status;
    const char *why = reader_problem(req, now, &status);
    if (why) {
        refuse(r, status, status == 401 ? "WWW-Authenticate: Bearer\r\n" : NULL, why);
        return false;
    }
    if ((q->limit = online_limit(req)) < 0) {
        refuse(r, 400, NULL, "limit must be a whole number");
        return false;
    }
    char room[HTTP_MAX_REQUEST_LINE];
    long rlen = http_query_get(req->target, req->target_len, "room", room, sizeof room);
    const char *bad = rlen == -2 ? "room is not well percent-encoded"
                      : rlen > 0 ? message_room_problem(room, (size_t)rlen) : NULL;
    if (bad) {
        refuse(r, 400, NULL, bad);
        return false;
    }
    q->room_len = rlen > 0 ? (size_t)rlen : 0; /* the empty name is everyone (PROTOCOL.md "Rooms") */
    memcpy(q->room, room, q->room_len);
    return true;
}

void api_online_answer(const struct api_online_query *q, const char **ids, size_t count,
                       struct api_reply *r)
{
    count = distinct(ids, count);
    size_t shown = count < (size_t)q->limit ? count : (size_t)q->limit;
    r->body = buf_make(64 + shown * (json_string_bound(MESSAGE_MAX_USER_ID) + 1));
    buf_printf(&r->body, "{\"id\":%llu,\"count\":%zu,\"users\":[",
               (unsigned long long)connmgr_last_id(), count);
    for (size_t i = 0; i < shown; i++) {
        struct json_str id = {ids[i], strlen(ids[i])};
        if (i)
            buf_append(&r->body, ",", 1);
        char *at = buf_reserve(&r->body, json_string_bound(id.len));
        if (at)
            r->body.len += json_write_string(at, &id);
    }
    buf_append(&r->body, "]}\n", 3);
    if (r->body.failed) {
        buf_free(&r->body);
        refuse(r, 503, NULL, "out of memory");
    }
}

void api_online_here(const struct api_online_query *q, struct api_reply *r)
{
    size_t count = q->room_len ? connmgr_room_connections(q->room, q->room_len) : connmgr_users();
    const char **ids = malloc((count ? count : 1) * sizeof *ids);
    if (!ids) {
        refuse(r, 503, NULL, "out of memory");
        return;
    }
    if (!q->room_len) {
        count = connmgr_user_ids(ids, count);
    } else {
        long n = connmgr_room_user_ids(q->room, q->room_len, ids, count);
        count = n > 0 ? (size_t)n : 0;
    }
    api_online_answer(q, ids, count, r);
    free(ids);
}

/* ----------------------------------------------------------- preflight */

void api_preflight(const struct http_request *req, size_t open, time_t now, struct api_reply *r)
{
    *r = (struct api_reply){.status = 200};
    /* A browser sends no Origin on a same-origin GET, so the page names its
     * own in the query; a header, where there is one, wins. */
    char origin[CONFIG_ORIGIN_SIZE];
    const struct http_header *o = http_header_find(req, "origin");
    long olen = o ? (long)o->value_len
                  : http_query_get(req->target, req->target_len, "origin", origin, sizeof origin);
    if (olen == -2) {
        refuse(r, 403, NULL, "this Origin is not allowed");
        return;
    }
    struct handshake hs;
    handshake_admit(req, false, o ? o->value : olen >= 0 ? origin : NULL,
                    olen >= 0 ? (size_t)olen : 0, cfg, open, now, &hs);
    if (hs.status != 101) {
        refuse(r, hs.status, hs.extra, hs.why);
        return;
    }
    struct json_str user = {hs.user, hs.user_len};
    r->body = buf_make(256 + json_string_bound(user.len));
    buf_append(&r->body, "{\"userId\":", 10);
    char *at = buf_reserve(&r->body, json_string_bound(user.len));
    if (at)
        r->body.len += json_write_string(at, &user);
    buf_printf(&r->body, ",\"maxMessage\":%zu,\"maxPending\":%zu,\"maxRate\":%g,\"maxBurst\":%g,"
               "\"pingInterval\":%u,\"idleTimeout\":%u}\n", cfg->max_message, cfg->max_pending,
               cfg->max_rate, cfg->max_burst, cfg->ping_interval_ms, cfg->idle_timeout_ms);
    if (r->body.failed) {
        buf_free(&r->body);
        refuse(r, 503, NULL, "out of memory");
    }
}

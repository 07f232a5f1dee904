/* handshake.c - the server's half of the WebSocket opening handshake
 * (RFC 6455 §4.2), and pusher's own conditions on it: a valid userId, a
 * valid token where the server has a secret, an allowed Origin, and room.
 *
 * The checks run from the cheapest and most general to the most particular:
 * is it a WebSocket handshake at all, may this Origin and is there room, and
 * only then who it is (the userId, and the token's HMAC). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "handshake.h"
#include "jwt.h"
#include "message.h"

static bool header_is(const struct http_request *req, const char *name, const char *token)
{
    const struct http_header *h = http_header_find(req, name);
    return h && http_has_token(h->value, h->value_len, token);
}

/* §4.2.1: what makes a request a WebSocket opening handshake at all. NULL
 * when it is one; else the reason, with hs's status set where it is not 400. */
static const char *not_a_handshake(const struct http_request *req, struct handshake *hs)
{
    if (req->method_len != 3 || memcmp(req->method, "GET", 3) != 0) {
        hs->status = 405;
        return "a WebSocket handshake is a GET request";
    }
    if (req->minor_version < 1)
        return "a WebSocket handshake needs HTTP/1.1";
    if (!http_header_find(req, "host"))
        return "a WebSocket handshake needs a Host header";
    /* The handshake's own headers may appear once (RFC 6455 §11.3.1,
     * §11.3.5; Host by RFC 9112 §3.2): with two values it would be unclear
     * which one was answered. */
    static const char *const once[] = {"host", "sec-websocket-key", "sec-websocket-version"};
    for (size_t i = 0; i < sizeof once / sizeof once[0]; i++)
        if (http_header_count(req, once[i]) > 1)
            return "Host, Sec-WebSocket-Key and Sec-WebSocket-Version may each appear only once";
    if (!header_is(req, "upgrade", "websocket"))
        return "this endpoint needs a WebSocket upgrade (Upgrade: websocket)";
    if (!header_is(req, "connection", "upgrade"))
        return "this endpoint needs Connection: Upgrade";
    const struct http_header *v = http_header_find(req, "sec-websocket-version");
    if (!v)
        return "Sec-WebSocket-Version is missing";
    if (v->value_len != 2 || memcmp(v->value, "13", 2) != 0) {
        hs->status = 426;
        hs->extra = "Sec-WebSocket-Version: 13\r\n";
        return "only WebSocket version 13 is supported";
    }
    const struct http_header *k = http_header_find(req, "sec-websocket-key");
    if (!k)
        return "Sec-WebSocket-Key is missing";
    if (!ws_key_valid(k->value, k->value_len))
        return "Sec-WebSocket-Key must be 16 bytes in base64";
    return NULL;
}

/* The query's userId: there, well percent-encoded, and a userId the
 * contract allows. NULL when it is, else what is wrong with it. */
static const char *user_id_problem(const char *id, long len)
{
    if (len == -1)
        return "userId is missing: add ?userId=NAME";
    if (len < 0)
        return "userId is not well percent-encoded";
    return message_user_id_problem(id, (size_t)len);
}

/* since=ID: a whole number (absent: 0, the whole history). */
static bool parse_since(const char *s, long len, uint64_t *out)
{
    *out = 0;
    if (len == -1)
        return true;
    if (len <= 0 || len > 20)
        return false;
    for (long i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (*out > (UINT64_MAX - d) / 10)
            return false;
        *out = *out * 10 + d;
    }
    return true;
}

/* rooms=A,B (PROTOCOL.md "Rooms"): percent-decoded, then split at commas,
 * as a browser's URLSearchParams writes the list ("a%2Cb" for "a,b"; a room
 * whose name holds a comma is joined by message instead);
 * each a room's name, none twice, at most --max-rooms. NULL when they pass. */
static const char *rooms_problem(const struct http_request *req, const struct config *cfg,
                                 struct handshake *hs)
{
    long n = http_query_get(req->target, req->target_len, "rooms", hs->rooms, sizeof hs->rooms);
    if (n == -2)
        return "rooms is not well percent-encoded";
    if (n <= 0)
        return NULL;            /* no rooms= (or an empty one): no room */
    hs->rooms_len = (size_t)n;
    const char *end = hs->rooms + n, *p = hs->rooms, *name;
    size_t len;
    long count = 0;
    while ((name = message_next_name(&p, end, &len))) {
        const char *bad = message_room_problem(name, len);
        if (bad) {
            snprintf(hs->why_buf, sizeof hs->why_buf, "rooms: %s", bad);
            return hs->why_buf;
        }
        const char *q = hs->rooms, *other;
        size_t olen;
        while ((other = message_next_name(&q, end, &olen)) && other != name) {
            if (olen == len && memcmp(other, name, len) == 0) {
                snprintf(hs->why_buf, sizeof hs->why_buf, "rooms: \"%.*s\" is asked for twice",
                         (int)len, name);
                return hs->why_buf;
            }
        }
        if (++count > cfg->max_rooms)
            return "rooms: more rooms than --max-rooms allows";
    }
    return NULL;
}

/* With a secret, the token's rooms claim says which rooms the user may join
 * (PROTOCOL.md "Rooms"): a connect asking for another is 403. */
static const char *rooms_refused(struct handshake *hs)
{
    const char *p = hs->rooms, *end = hs->rooms + hs->rooms_len, *name;
    size_t len;
    while (hs->rooms_len && (name = message_next_name(&p, end, &len))) {
        if (!jwt_rooms_allow(hs->claim, (size_t)hs->claim_len, name, len)) {
            hs->status = 403;
            snprintf(hs->why_buf, sizeof hs->why_buf, "the token does not allow room \"%.*s\"",
                     (int)len, name);
            return hs->why_buf;
        }
    }
    return NULL;
}

/* Who it is, from pusher's query: userId, since, and the token, for which
 * §4.2.2 lets a server authenticate the client with a 401 and its
 * WWW-Authenticate. NULL when they pass; else the reason, with hs's status
 * set where it is not 400. */
static const char *user_problem(const struct http_request *req, const struct config *cfg,
                                time_t now, struct handshake *hs)
{
    long ulen = http_query_get(req->target, req->target_len, "userId", hs->user, sizeof hs->user);
    const char *why = user_id_problem(hs->user, ulen);
    if (why)
        return why;
    hs->user_len = (size_t)ulen;
    char since[32];
    long slen = http_query_get(req->target, req->target_len, "since", since, sizeof since);
    if (!parse_since(since, slen, &hs->since))
        return "since must be a message id (a whole number)";
    if ((why = rooms_problem(req, cfg, hs)))
        return why;
    hs->claim_len = -1;
    if (!cfg->secret)
        return NULL;
    char token[HTTP_MAX_REQUEST_LINE];
    static struct jwt_rooms claim; /* 4 KiB: not on the stack; the loop is one thread */
    long tlen = http_query_get(req->target, req->target_len, "token", token, sizeof token);
    int r = tlen < 0 ? JWT_ERR_FORMAT
                     : jwt_check_hs256(token, (size_t)tlen, (const uint8_t *)cfg->secret,
                                       strlen(cfg->secret), hs->user, hs->user_len, now, &claim);
    if (r != JWT_OK) {
        hs->status = 401;
        hs->extra = "WWW-Authenticate: Bearer\r\n";
        return tlen == -1 ? "token is missing" : jwt_strerror(r);
    }
    hs->claim_len = claim.present ? (long)claim.len : 0;
    memcpy(hs->claim, claim.text, (size_t)hs->claim_len);
    return rooms_refused(hs);
}

/* RFC 6455 §10.2: the Origin header is how a server keeps other sites' pages
 * from opening sockets with its users' cookies. Browsers always send it, so
 * a request without one (origin NULL) is not a browser's and the list does
 * not apply: keeping other clients out is the token's job (§4.2.2). */
bool handshake_origin_allowed(const char *origin, size_t len, const struct config *cfg)
{
    if (cfg->num_origins == 0 || !origin)
        return true;
    for (size_t i = 0; i < cfg->num_origins; i++) {
        const char *o = cfg->origins[i];
        if (strlen(o) == len && strncasecmp(o, origin, len) == 0)
            return true;
    }
    return false;
}

void handshake_admit(const struct http_request *req, bool echo, const char *origin,
                     size_t origin_len, const struct config *cfg, size_t open, time_t now,
                     struct handshake *hs)
{
    *hs = (struct handshake){.status = 400}; /* the usual refusal */
    if (!handshake_origin_allowed(origin, origin_len, cfg)) {
        hs->status = 403;
        hs->why = "this Origin is not allowed";
        return;
    }
    if (open >= (size_t)cfg->max_connections) {
        hs->status = 503;
        hs->why = "the server is at its connection limit; try again later";
        return;
    }
    if (!echo && (hs->why = user_problem(req, cfg, now, hs)))
        return;
    hs->status = 101;
}

void handshake_check(const struct http_request *req, bool echo, const struct config *cfg,
                     size_t open, time_t now, struct handshake *hs)
{
    *hs = (struct handshake){.status = 400};
    if ((hs->why = not_a_handshake(req, hs)))
        return;
    const struct http_header *o = http_header_find(req, "origin");
    handshake_admit(req, echo, o ? o->value : NULL, o ? o->value_len : 0, cfg, open, now, hs);
    if (hs->status != 101)
        return;
    const struct http_header *k = http_header_find(req, "sec-websocket-key");
    ws_accept_key(k->value, k->value_len, hs->accept);
}

/* handshake.h - the server's half of the WebSocket opening handshake
 * (RFC 6455 §4.2.1, §4.2.2): may this request become a WebSocket, and if so,
 * with what Sec-WebSocket-Accept, for which user, from which history id.
 *
 * Pure like the codecs: a parsed request and the server's settings in, a
 * decision out; no I/O, no allocation, so every refusal is unit-tested. */
#ifndef HANDSHAKE_H
#define HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "config.h"
#include "http.h"
#include "jwt.h"
#include "ws.h"

struct handshake {
    int status;                  /* 101 to accept, else the HTTP status to refuse with */
    const char *why;             /* refused: one line saying what to change */
    const char *extra;           /* refused: header lines to add (CRLF-ended), or NULL */
    char accept[WS_ACCEPT_SIZE]; /* accepted: the Sec-WebSocket-Accept value */
    char user[HTTP_MAX_REQUEST_LINE]; /* accepted (not echo): the userId, decoded */
    size_t user_len;             /* its length in bytes */
    uint64_t since;              /* accepted: replay history after this id (0: all) */
    char rooms[HTTP_MAX_REQUEST_LINE]; /* accepted: rooms= decoded, names split by ',' */
    size_t rooms_len;            /* its length in bytes (0: no room) */
    long claim_len;              /* accepted: -1 without a secret (any room), else the
                                    bytes of the token's rooms claim in claim (0: none) */
    char claim[JWT_MAX_TOKEN];   /* the claim's JSON array, as jwt_rooms_allow reads it */
    char why_buf[160];           /* refused: room for a reason that names something */
};


/* Decides on req, a request for /websocket, or for /echo when echo (which
 * takes no userId and no token). open is the number of open WebSockets, for
 * --max-connections; now is the time a token's exp is compared with. */
void handshake_check(const struct http_request *req, bool echo, const struct config *cfg,
                     size_t open, time_t now, struct handshake *hs);

/* May a page of origin[0..len) (NULL: the request had no Origin) open
 * sockets here? RFC 6455 §10.2. */
bool handshake_origin_allowed(const char *origin, size_t len, const struct config *cfg);

/* The half of handshake_check that is pusher's own: may this Origin (NULL
 * when the request had none) connect, is there room, and who is it. Leaves
 * status 101 (with no accept key) where a WebSocket would be admitted, so
 * GET /api/preflight can tell a browser what the upgrade would answer. */
void handshake_admit(const struct http_request *req, bool echo, const char *origin,
                     size_t origin_len, const struct config *cfg, size_t open, time_t now,
                     struct handshake *hs);

#endif

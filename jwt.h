/* jwt.h - the check of the HS256 JSON Web Token that may come with a
 * WebSocket upgrade (PROTOCOL.md; RFC 7519, RFC 7515), and the HMAC-SHA256
 * it rests on. */
#ifndef JWT_H
#define JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JWT_MAX_TOKEN 4096 /* longer tokens are refused unread */
#define JWT_HMAC_LEN 32    /* bytes of an HMAC-SHA256 */

/* The token's rooms claim, where jwt_check_hs256 is asked for it: an array
 * of room names, "*" for any. A token without it allows no room. */
struct jwt_rooms {
    bool present;               /* the token has a rooms claim */
    size_t len;                 /* bytes of its JSON text in text */
    char text[JWT_MAX_TOKEN];   /* the array as written, e.g. ["lobby","dev"] */
};

enum jwt_result {
    JWT_OK = 0,
    JWT_ERR_FORMAT = -1,    /* not three base64url parts of JSON objects, or too long */
    JWT_ERR_ALG = -2,       /* header alg other than "HS256", "none" included */
    JWT_ERR_SIGNATURE = -3, /* not signed with this secret */
    JWT_ERR_SUBJECT = -4,   /* sub missing, or not the user */
    JWT_ERR_EXPIRED = -5,   /* exp at or before now */
    JWT_ERR_NOT_YET = -6,   /* nbf after now */
};

/* Checks token[0..len), a JWS in compact form, for user[0..user_len) at time
 * now (seconds since the epoch): header alg exactly "HS256" (typ, if any,
 * "JWT"), an HMAC-SHA256 signature by secret, a payload whose sub is user
 * (or, with user NULL, any string: a token of some user, for reads that any
 * user may make),
 * whose exp (if any) is after now and whose nbf (if any) is not. The checks
 * run in that order and the first failure is returned; JWT_OK if none. A
 * rooms claim (pusher's own) must be an array of strings, or the payload is
 * JWT_ERR_FORMAT; it is kept in *rooms unless rooms is NULL. */
int jwt_check_hs256(const char *token, size_t len, const uint8_t *secret,
                    size_t secret_len, const char *user, size_t user_len,
                    int64_t now, struct jwt_rooms *rooms);

/* Does the rooms claim claim[0..len) (jwt_rooms's text) allow room? It does
 * when it names it, or holds "*". */
bool jwt_rooms_allow(const char *claim, size_t len, const char *room, size_t room_len);

/* A short text for a jwt_result, for logs. */
const char *jwt_strerror(int err);

/* HMAC-SHA256 of msg[0..msg_len) under key[0..key_len) (RFC 2104). */
void jwt_hmac_sha256(const uint8_t *key, size_t key_len, const void *msg,
                     size_t msg_len, uint8_t out[JWT_HMAC_LEN]);

#endif

/* endpoints.h - the plain HTTP paths and the answers (endpoints.c). */
#ifndef ENDPOINTS_H
#define ENDPOINTS_H

#include <stdbool.h>
#include <stddef.h>

#include "conn.h"
#include "http.h"

/* Answers one complete request for anything but a WebSocket; body is len
 * bytes (POST only). */
void endpoint_serve(struct conn *c, const struct http_request *req, const char *body, size_t len);
/* Queues a whole response and ends the connection after it. extra is more
 * header lines, each ending in CRLF. With head_only (HEAD), no body. */
void endpoint_respond(struct conn *c, int status, const char *type, const char *extra,
                      const void *body, size_t len, bool head_only);
/* The usual error answer: one line of plain text saying what to change. */
void endpoint_refuse(struct conn *c, int status, const char *extra, const char *why);

#endif

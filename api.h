/* api.h - the JSON API beside the WebSocket: POST /api/push (a backend sends
 * a message), GET /api/online (who is online now) and GET /api/preflight
 * (what an upgrade with this query would be answered, for browsers, which
 * cannot read the status of a refused WebSocket handshake).
 *
 * Each takes a parsed request and fills a struct api_reply; server.c sends
 * it. None of them touches a socket. */
#ifndef API_H
#define API_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "buf.h"
#include "cluster.h"
#include "config.h"
#include "http.h"
#include "message.h"

struct api_reply {
    int status;             /* 200, or the HTTP status of the refusal; 0: answered later */
    const char *extra;      /* header lines to add (CRLF-ended), or NULL */
    char why[200];          /* refused: one line saying what to change */
    struct buf body;        /* 200: the JSON answer; the caller frees it */
};

void api_init(const struct config *cfg);

/* POST /api/push with body[0..len): routes one Message (PROTOCOL.md "Server
 * push") and answers {"delivered":N,"queued":Q}. With --redis the answer
 * comes from the routing script: status 0, and later goes to later(data)
 * (api_push_answer makes its reply). */
void api_push(const struct http_request *req, const char *body, size_t len, struct api_reply *r,
              cluster_done_fn *later, void *data);
/* The reply to a push, from the routing script's answer. */
void api_push_answer(long delivered, bool kept, const char *failure, struct api_reply *r);

/* GET /api/online[?limit=N][&room=R]: {"id":N,"count":K,"users":[...]},
 * the users sorted by their bytes. With a token secret it needs a token
 * valid for some user, or the API key. api_online_query checks the
 * request: true with q filled, or false with r the refusal. */
struct api_online_query {
    long limit;
    char room[MESSAGE_MAX_USER_ID + 1];  /* room[0..room_len); empty: everyone */
    size_t room_len;
};
bool api_online_query(const struct http_request *req, time_t now, struct api_online_query *q,
                      struct api_reply *r);
/* Answers q from this node's connections. */
void api_online_here(const struct api_online_query *q, struct api_reply *r);
/* Answers q with ids[0..count), the users (any order, each once or more;
 * sorted in place): with several nodes, what Redis says. */
void api_online_answer(const struct api_online_query *q, const char **ids, size_t count,
                       struct api_reply *r);

/* GET /api/preflight?userId=ID[&token=T][&origin=O]: 200 with the limits a
 * WebSocket of this user would have, or the refusal its upgrade would get. */
void api_preflight(const struct http_request *req, size_t open, time_t now, struct api_reply *r);

#endif

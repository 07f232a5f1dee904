/* connmgr_int.h - what routing's two files share: connmgr.c (where each
 * message goes) and connmgr_bus.c (its side for several nodes, through
 * cluster.c). No other file includes it. */
#ifndef CONNMGR_INT_H
#define CONNMGR_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster.h"
#include "conn.h"
#include "message.h"
#include "rooms.h"
#include "users.h"

/* Routing's own state about a joined connection. It lives in a table
 * indexed by conn_id(), so the transport's struct conn holds nothing of it. */
struct member {
    struct user *user;          /* shared with its other connections; NULL: not joined */
    struct claim *claim;        /* the rooms its token allows; NULL: no secret, any */
    uint32_t next;              /* the id of the user's next connection, or NO_MEMBER */
    uint32_t open_index;        /* its slot in g.open */
    uint32_t serial;            /* tells it from a later connection of the same id (the bus) */
    struct waiting *waiting;    /* with --redis, its replay waiting for its kept messages
                                 * (connmgr_bus.c), or NULL */
};

/* c's entry, where c has joined; NULL where it has not. */
struct member *connmgr_member(const struct conn *c);
/* The entry of connection id, where it is joined; NULL where not. */
struct member *connmgr_member_by_id(uint32_t id);
/* The ids of every joined connection: *ids[0 .. the count). */
size_t connmgr_open_ids(const uint32_t **ids);

/* Sending: f to c, to each connection of u, to everyone but except, to r's
 * members but except (kept in r's history first); each returns how many. */
void connmgr_deliver(struct conn *c, struct frame *f);
size_t connmgr_send_to_user(const struct user *u, struct frame *f);
size_t connmgr_broadcast(struct frame *f, const struct conn *except);
size_t connmgr_to_room(struct room *r, struct frame *f, int64_t id, const struct conn *except);
/* A SysNotify to c alone about its message made at create_at (0: now). */
void connmgr_reply(struct conn *c, int64_t create_at, const char *fmt, const char *detail);
void connmgr_reply_error(struct conn *c, const char *fmt, const char *detail);
/* m's to, cut to fit a reply, in a buffer of one reply. */
const char *connmgr_quoted_to(const struct message *m);
/* What a client (pushed false) or a push may not send; NULL when m is routable. */
const char *connmgr_refusal(const struct message *m, bool pushed);

/* connmgr_bus.c, with --redis: m (stamped, id 0) to the routing script
 * from the sender c (NULL: a push), done hearing how it went; a client's
 * message routed that way; a user's Online or Offline as the presence
 * script decides; a Join or Leave of c's user in r, likewise; a new
 * connection counted and given its kept messages. */
/* A connection, named so that it can be found later while it is still the
 * one (ids are reused, serials are not); connmgr_sender_conn answers NULL
 * once it is gone. The sender of a push is {0, 0}. */
struct cluster_sender connmgr_sender_of(const struct conn *c);
struct conn *connmgr_sender_conn(struct cluster_sender s);
/* A client's message whose fate comes later (Redis's routing script, or
 * the journal's write under --fsync always), for the sender's answer:
 * connmgr_answer tells it error:, queued: or nothing, and frees p. */
struct pending {
    struct cluster_sender from;
    int64_t create_at;
    bool kept;                  /* a Single kept for its offline user */
    char to[MESSAGE_MAX_USER_ID + 1];
};
struct pending *connmgr_pending(struct conn *from, const struct message *m);
void connmgr_answer(void *p, long delivered, bool kept, const char *failure);
/* A message from `from` that the journal keeps (kept: a Single for its
 * offline user) goes out once the turn's records are on disk under
 * --fsync always, and its sender hears then: queued: for a kept Single,
 * error: where the disk said no, else nothing. At once otherwise. */
void connmgr_answer_journaled(struct conn *from, const struct message *m, bool kept);

/* c's replay waits, as w (what is sent to it is held by connmgr_bus_hold),
 * or with w NULL no longer. */
void connmgr_set_waiting(struct conn *c, struct waiting *w);

bool connmgr_bus_send(enum cluster_op op, struct message *m, const struct conn *c,
                      cluster_done_fn *done, void *data);
void connmgr_bus_route(struct conn *from, struct message *m);
void connmgr_bus_presence(int type, const struct user *u, long delta, const struct conn *c);
void connmgr_bus_room(int type, const struct conn *c, struct room *r, long delta);
/* true when c's replay waits for its kept messages from Redis (it is made
 * then, from since); false when the caller replays now. */
bool connmgr_bus_joined(struct conn *c, const struct user *u, uint64_t since);
/* f for the connection whose replay waits as w: held until it is done. */
void connmgr_bus_hold(struct waiting *w, struct frame *f);
/* c (of user u) leaves: a wait of its ends, and the user's kept messages
 * that this node holds and is not sending go back to Redis. */
void connmgr_bus_left(const struct conn *c, const struct user *u);

#endif

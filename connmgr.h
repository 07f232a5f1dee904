/* connmgr.h - who is connected, and where each message goes. */
#ifndef CONNMGR_H
#define CONNMGR_H

#include <stddef.h>
#include <stdint.h>

#include "cluster.h"
#include "conn.h"
#include "message.h"


/* Sizes the table once for max_connections, whose conn_id()s are below
 * max_ids; replay_budget bounds the bytes of history replayed to a
 * newcomer; a connection is in at most max_rooms rooms, and the histories
 * of at most max_room_histories rooms are kept. 0, or -1 when out of memory. */
int connmgr_init(size_t max_ids, size_t max_connections, size_t replay_budget,
                 size_t max_rooms, size_t max_room_histories);

/* Adds an upgraded connection to user id, in the rooms of the comma-separated
 * list rooms[0..rooms_len) (names the handshake checked): replays the
 * histories newer than since, then, if it is the user's first connection,
 * tells every other connection that the user is online, and each room
 * where it is the user's first that the user joined. claim[0..claim_len) is
 * its token's rooms claim, which decides the rooms it may join later
 * (claim_len -1: any, as without a secret). -1 when out of memory. */
int connmgr_join(struct conn *c, const char *id, size_t len, uint64_t since, const char *rooms,
                 size_t rooms_len, const char *claim, long claim_len);
/* All c was sent so far has been written: kept messages it carried are
 * forgotten (conn_notify_written, which routing asks for). */
void connmgr_written(struct conn *c);
/* Removes a closing connection; the user's last one makes it offline. */
void connmgr_leave(struct conn *c);

/* Routes one Message from a client, which may change m (its from, its
 * stamps) (PROTOCOL.md "Routing"); what cannot be routed gets an error:
 * reply. Every source hands routing the same struct message. */
void connmgr_route(struct conn *from, struct message *m);
/* Tells the sender of something that is no Message why (an error: reply). */
void connmgr_refuse(struct conn *from, const char *why);
/* Routes a server push. Returns the connections reached, with *queued 1
 * where a Single was kept for an offline user, or -1 with a reason in why
 * when the message cannot be pushed. */
long connmgr_push(struct message *m, int *queued, char *why, size_t whycap);
/* The same with --redis: hands m to the routing script, whose answer (the
 * connections reached over all nodes) goes to done. false, with why, when
 * it cannot be pushed; done is not called then. */
bool connmgr_push_cluster(struct message *m, cluster_done_fn *done, void *data, char *why,
                          size_t whycap);
/* What cluster.c hands the bus, the history and Redis's returns to. */
const struct cluster_owner *connmgr_cluster_owner(void);


const char *connmgr_user_id(const struct conn *c);
size_t connmgr_connections(void);
size_t connmgr_users(void);
/* The last id handed out: presence events with a larger one are newer than
 * any answer built now (GET /api/online). */
uint64_t connmgr_last_id(void);
/* Fills ids with up to cap userIds (NUL-terminated, owned by the table and
 * good until the next leave), in no order; returns how many. */
size_t connmgr_user_ids(const char **ids, size_t cap);
/* The same for the connections in room[0..len): a user once for each of its
 * connections there. -1 when there is no such room open. */
long connmgr_room_user_ids(const char *room, size_t len, const char **ids, size_t cap);
/* How many connections room[0..len) has (0 where it is not open). */
size_t connmgr_room_connections(const char *room, size_t len);

#endif

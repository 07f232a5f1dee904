/* cluster.h - the Redis side of routing with several nodes (PROTOCOL.md
 * "Several nodes"): one Lua script (cluster_script.c) gives each message
 * its id, keeps it in a history or for an offline user, and publishes it
 * on the bus; the bus brings every message, this node's own included, back
 * in id order, each once, what it skipped filled from the histories;
 * presence and room membership are counted per node and for the cluster,
 * and a node whose heartbeat stops is reaped by the others. connmgr.c
 * decides where messages go; this file only talks to Redis, through
 * redis.h. */
#ifndef CLUSTER_H
#define CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"
#include "redis.h"

/* What the script is asked to do with a message. */
enum cluster_op {
    CLUSTER_GROUP = 'G',        /* everyone: into everyone's history */
    CLUSTER_ROOM = 'R',         /* a room (target): into its history */
    CLUSTER_SINGLE = 'S',       /* a user (target): kept when it has no connection anywhere */
    CLUSTER_REPLY = 'C',        /* a reply to the sending connection alone */
};

/* Who sent a message: the connection a Group skips (conn_id and routing's
 * serial, since ids are reused), all 0 for a push. */
struct cluster_sender {
    uint32_t conn, serial;
};

/* One message off the bus, valid during the call. */
struct cluster_msg {
    char op;                    /* enum cluster_op */
    const char *target;         /* the room or the user; "" for everyone */
    size_t target_len;
    bool mine;                  /* published by this node */
    struct cluster_sender from; /* meaningful where mine */
    uint64_t id;                /* the script's */
    const char *json;           /* the Message, its id in it */
    size_t json_len;
};

/* Routing's side. Every message goes to deliver, once, in id order: off
 * the bus, or read back from a history (at start, and where the bus
 * skipped some). reregister is asked for the node's whole presence
 * (cluster_reregister) whenever Redis may have lost it: at start, after an
 * outage, and after the node was reaped. templates gives an Online, an
 * Offline, a Join and a Leave, id 0 and "from" and "to" empty, one a line
 * (malloc'd, *len bytes), for the announcements the script makes itself.
 * rooms calls fn for each room with a connection on this node. */
struct cluster_owner {
    void (*deliver)(const struct cluster_msg *m);
    void (*reregister)(void);
    char *(*templates)(size_t *len);
    void (*rooms)(void (*fn)(void *data, const char *room, size_t len), void *data);
};

/* What the script enforces for the cluster, from the command line. */
struct cluster_limits {
    size_t max_room_histories;  /* rooms whose history is kept (--max-room-histories) */
    size_t kept_bytes;          /* the kept Singles of all users (--offline-bytes) */
    int64_t kept_ttl_ms;        /* the age at which a kept Single goes (--offline-ttl) */
};

/* Loads the script (under lim), subscribes to the bus, registers the node
 * and reads the histories back, running l until done; from then on
 * routing goes through Redis. 0, or -1 with why. */
int cluster_start(struct loop *l, struct redis *r, const struct cluster_owner *o,
                  const struct cluster_limits *lim, char *why, size_t cap);
/* Is routing going through Redis (--redis)? */
bool cluster_on(void);
/* Why messages cannot be routed now (Redis is down); NULL when they can
 * or without --redis. */
const char *cluster_problem(void);

/* The script's answer about one message: delivered (connections counted
 * over the cluster, -1 when unknown), kept (a Single for an offline user),
 * or failure (why it was not routed: Redis went away, the user is not
 * online and nothing is kept). */
typedef void cluster_done_fn(void *data, long delivered, bool kept, const char *failure);

/* Routes json[0..len), a Message whose id is written as 0 and last (as
 * message_write writes it), through the script; done (may be NULL) hears
 * how it went. keep: a Single for a user with no connection anywhere is
 * kept (up to keep_max of them). false, with done not called, when Redis
 * is down or the client is full. */
bool cluster_route(enum cluster_op op, const char *target, size_t tlen,
                   struct cluster_sender from, const char *json, size_t len, size_t keep_max,
                   cluster_done_fn *done, void *data);

/* Adds delta (may be negative) to user[0..len)'s connections on this node
 * and in the cluster; where that makes the user's first connection
 * anywhere (or its last), json (an Online, or an Offline, id 0) goes out
 * like a Group from from. */
void cluster_presence(const char *user, size_t len, long delta, struct cluster_sender from,
                      const char *json, size_t jlen);
/* The same for user[0..ulen)'s connections in room[0..rlen), json being
 * its Join or its Leave. */
void cluster_membership(const char *room, size_t rlen, const char *user, size_t ulen,
                        long delta, struct cluster_sender from, const char *json, size_t jlen);
/* Sets this node's whole presence: users[0..ulen) holds "user\ncount\n"
 * for each of its users, members[0..mlen) "room\nuser\ncount\n" for each
 * user in a room. The cluster's counts are corrected, and whoever that
 * brings from no connection anywhere to some, or back, is announced. */
void cluster_reregister(const char *users, size_t ulen, const char *members, size_t mlen);

/* The user's kept messages, taken from Redis (so no other node sends them
 * again): fn is called once per message, oldest first, with its id, then
 * once with json NULL. */
typedef void cluster_kept_fn(void *data, uint64_t id, const char *json, size_t len);
void cluster_take_kept(const char *user, size_t len, cluster_kept_fn *fn, void *data);
/* Gives kept messages taken and not sent back to Redis, ahead of those
 * kept since: entries[0..len) holds "id\njson\n" for each, oldest first. */
void cluster_give_back(const char *user, size_t ulen, const char *entries, size_t len);
/* json[0..len) (id 0, last) to the connection from of this node alone,
 * given its id in the one order on the way: a reply. false when Redis is
 * down or the client full. */
bool cluster_reply(struct cluster_sender from, const char *json, size_t len);

/* The connections open on all nodes (/admin): fn(data, n, NULL), or
 * fn(data, -1, why) when Redis cannot say. Called exactly once. */
typedef void cluster_count_fn(void *data, long n, const char *failure);
void cluster_connections(cluster_count_fn *fn, void *data);

/* The users online on all nodes (room empty) or in room[0..len): fn(data,
 * count, names, len, NULL), names being every userId, one a line, in no
 * order; or fn(data, -1, NULL, 0, why). Called exactly once. */
typedef void cluster_online_fn(void *data, long count, const char *names, size_t len,
                               const char *failure);
void cluster_online(const char *room, size_t len, cluster_online_fn *fn, void *data);

/* What /metrics shows of the bus. */
struct cluster_stats {
    uint64_t routed;            /* messages handed to the script, to go out on the bus */
    uint64_t received;          /* bus messages received */
    uint64_t gaps;              /* times the bus skipped messages, filled from the histories */
    uint64_t lost;              /* bus messages dropped while a gap was filled (no room to hold them) */
};
void cluster_stats(struct cluster_stats *s);

/* Writes the script calls queued in this turn now (conn.c's before_write:
 * ahead of the turn's output to clients). */
void cluster_flush(void);

/* Redis came up (again) or went down: pusher.c's state callback says so. */
void cluster_redis_state(bool up);

#endif

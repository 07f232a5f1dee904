/* connmgr_bus.c - routing's side for several nodes (PROTOCOL.md "Several
 * nodes"): with --redis a message is not sent from where it came in. It
 * goes to the routing script (cluster.c), which gives it its id and
 * publishes it, and every node, this one included, sends it on from the
 * bus (from_bus), so all see one order, the id order. Presence and room
 * membership are counted in Redis too, so Online and Offline, Join and
 * Leave go out once for the cluster. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "connmgr.h"
#include "connmgr_int.h"
#include "offline.h"
#include "store.h"

/* Stamps m, encodes it with id 0 and hands it to the routing script from
 * the sender c (NULL: a push); done hears how it went. */
bool connmgr_bus_send(enum cluster_op op, struct message *m, const struct conn *c,
                         cluster_done_fn *done, void *data)
{
    size_t len;
    char *json = store_json(m, &len);
    bool ok = json && cluster_route(op, m->to.p, m->to.len, connmgr_sender_of(c), json, len,
                                    offline_per_user(), done, data);
    free(json);
    return ok;
}

void connmgr_bus_route(struct conn *from, struct message *m)
{
    const char *down = cluster_problem();
    struct pending *p = down ? NULL : connmgr_pending(from, m);
    if (!p) {
        connmgr_reply_error(from, "error: %s; the message was not sent", down ? down : "out of memory");
        return;
    }
    const struct user *sender = connmgr_member(from)->user;
    m->from = (struct json_str){sender->id, sender->len};
    enum cluster_op op = m->message_type == MSG_SINGLE ? CLUSTER_SINGLE
                         : m->to.len                   ? CLUSTER_ROOM
                                                       : CLUSTER_GROUP;
    if (!connmgr_bus_send(op, m, from, connmgr_answer, p)) {
        free(p);
        connmgr_reply_error(from, "error: %s; the message was not sent",
                    cluster_problem() ? cluster_problem() : "Redis is not keeping up");
        return;
    }
    p->create_at = m->create_at;  /* stamped by cluster_send; the answer comes later */
}

/* The user's Online (first connection anywhere) or Offline (last), as the
 * presence script decides. */
void connmgr_bus_presence(int type, const struct user *u, long delta, const struct conn *c)
{
    struct message m = {.message_type = type, .from = {u->id, u->len}};
    size_t len;
    char *json = store_json(&m, &len);
    if (json)
        cluster_presence(u->id, u->len, delta, connmgr_sender_of(c), json, len);
    free(json);
}

/* A Join (delta 1) or a Leave (-1) of c's user in r, which the script
 * sends where that makes the user's first connection in r anywhere, or
 * its last. */
void connmgr_bus_room(int type, const struct conn *c, struct room *r, long delta)
{
    const struct user *u = connmgr_member(c)->user;
    size_t rlen, len;
    const char *name = rooms_name(r, &rlen);
    struct message m = {.message_type = type, .from = {u->id, u->len}, .to = {name, rlen}};
    char *json = store_json(&m, &len);
    if (json)
        cluster_membership(name, rlen, u->id, u->len, delta, connmgr_sender_of(c), json, len);
    free(json);
}

/* ------------------------------------------------ a newcomer's replay */

/* A new connection's replay waits for its user's kept messages, taken
 * from Redis (so no other node sends them again), to merge them with the
 * histories in id order as one server would. What routing sends it
 * meanwhile is held, then sent after the replay; the replay holds the
 * histories up to the newest id delivered when it joined, and what came
 * later is among what was held, so nothing comes twice. */
#define HELD_MAX 65536          /* frames held for one waiting connection */

/* A connection's member entry points to its wait, so routing finds it in
 * one step whatever the number of replays waiting at once (a reconnect
 * storm); the wait outlives the connection until Redis answers. */
struct waiting {
    struct cluster_sender who;  /* the connection, while it is the one */
    uint64_t since, upto;
    bool gone, overflowed;
    struct frame **held;
    size_t nheld, cap;
    struct buf back;            /* kept messages to give back to Redis */
    uint8_t user_len;
    char user[MESSAGE_MAX_USER_ID];
};

void connmgr_bus_hold(struct waiting *w, struct frame *f)
{
    if (w->nheld == w->cap && !w->overflowed) {
        size_t cap = w->cap ? 2 * w->cap : 16;
        struct frame **held = cap <= HELD_MAX ? realloc(w->held, cap * sizeof *held) : NULL;
        if (held) {
            w->held = held;
            w->cap = cap;
        } else {
            w->overflowed = true;   /* it is closed at the end of the wait */
        }
    }
    if (w->overflowed)
        return;
    f->refs++;
    w->held[w->nheld++] = f;
}

/* A kept message as cluster_give_back takes it: "id\njson\n". */
static void append_kept(struct buf *b, uint64_t id, const void *json, size_t len)
{
    buf_printf(b, "%llu\n", (unsigned long long)id);
    buf_append(b, json, len);
    buf_append(b, "\n", 1);
}

static void give_back(void *data, struct frame *f, uint64_t id)
{
    size_t header = WS_MAX_SERVER_HEADER - f->off;
    append_kept(data, id, frame_payload(f), f->len - header);
}

/* The user's kept messages that this node holds and is not sending go
 * back to Redis, for whichever connection comes next, on any node. */
void connmgr_bus_give_back(const char *user, size_t len)
{
    struct buf b = buf_make(REDIS_OPTIONS_DEFAULT.max_output / 2);
    offline_take(user, len, give_back, &b);
    if (b.len && !b.failed)
        cluster_give_back(user, len, b.data, b.len);
    buf_free(&b);
}

static void waiting_end(struct waiting *w)
{
    for (size_t i = 0; i < w->nheld; i++)
        frame_unref(w->held[i]);
    free(w->held);
    buf_free(&w->back);
    free(w);
}

static void replay_now(struct waiting *w)
{
    struct conn *c = connmgr_sender_conn(w->who);
    struct member *m = connmgr_member(c);
    connmgr_set_waiting(c, NULL);
    conn_cork(c, false);
    if (w->overflowed) {
        conn_kill(c);
        return;
    }
    store_replay_upto(c, m->user->id, m->user->len, w->since, w->upto);
    for (size_t i = 0; i < w->nheld; i++)
        store_deliver(c, w->held[i]);
    connmgr_bus_give_back(m->user->id, m->user->len);
}

static void on_kept(void *data, uint64_t id, const char *json, size_t len)
{
    struct waiting *w = data;
    if (json) {
        /* Into this node's box of the user, which the replay merges with
         * the histories; ids are the clock in µs, the age --offline-ttl
         * goes by. What cannot go there goes back. */
        struct frame *f = w->gone ? NULL : frame_make(WS_OP_TEXT, json, len);
        if (!f || offline_keep(w->user, w->user_len, f, id, (int64_t)(id / 1000)) < 0)
            append_kept(&w->back, id, json, len);
        if (f)
            frame_unref(f);
        return;
    }
    if (!w->gone)
        replay_now(w);
    if (w->back.len && !w->back.failed)
        cluster_give_back(w->user, w->user_len, w->back.data, w->back.len);
    waiting_end(w);
}

/* The connection's 101 is held too, until the take answers: that answer
 * comes after its Online's, so by the time the client sees the 101 the
 * cluster counts it, and whatever the client does next is routed after
 * its Online, as on one server. */
bool connmgr_bus_joined(struct conn *c, const struct user *u, uint64_t since)
{
    connmgr_bus_presence(MSG_ONLINE, u, 1, c);
    struct waiting *w = calloc(1, sizeof *w);
    if (!w)
        return false;
    *w = (struct waiting){.who = connmgr_sender_of(c), .since = since,
                          .upto = store_last_id(), .user_len = (uint8_t)u->len,
                          .back = buf_make(REDIS_OPTIONS_DEFAULT.max_output / 2)};
    memcpy(w->user, u->id, u->len);
    connmgr_set_waiting(c, w);
    conn_cork(c, true);
    cluster_take_kept(u->id, u->len, on_kept, w);
    return true;
}

void connmgr_bus_left(const struct conn *c, const struct user *u)
{
    struct waiting *w = connmgr_member(c)->waiting;
    if (w) {
        w->gone = true;         /* its kept messages go back when they come */
        for (size_t i = 0; i < w->nheld; i++)
            frame_unref(w->held[i]);
        w->nheld = 0;
    }
    connmgr_bus_give_back(u->id, u->len);
}

static void from_bus(const struct cluster_msg *m)
{
    struct frame *f = frame_make(WS_OP_TEXT, m->json, m->json_len);
    if (!f)
        return;
    store_seen_id(m->id);
    struct conn *except = m->mine ? connmgr_sender_conn(m->from) : NULL;
    struct room *r;
    const struct user *u;
    if (m->op == CLUSTER_GROUP) {
        store_remember(NULL, f, m->id);
        connmgr_broadcast(f, except);
    } else if (m->op == CLUSTER_ROOM && (r = rooms_get(m->target, m->target_len))) {
        connmgr_to_room(r, f, m->id, except);  /* kept here too, for whoever joins it here */
    } else if (m->op == CLUSTER_SINGLE && (u = users_find(m->target, m->target_len))) {
        connmgr_send_to_user(u, f);
    } else if (m->op == CLUSTER_REPLY && except) {
        connmgr_deliver(except, f);
    }
    frame_unref(f);
}

/* How many of the connections of a user, from id on in its list, are in r. */
static unsigned in_room_from(uint32_t id, const struct room *r)
{
    unsigned n = 0;
    for (const struct member *m; id != NO_MEMBER; id = m->next) {
        m = connmgr_member_by_id(id);
        n += rooms_has(conn_by_id((int)id), r);
    }
    return n;
}

/* u's rooms, each once, with its connections in each: "room\nuser\ncount\n". */
static void user_rooms(struct buf *b, const struct user *u)
{
    for (uint32_t id = u->members; id != NO_MEMBER; id = connmgr_member_by_id(id)->next) {
        struct room *const *in;
        size_t n = rooms_of(conn_by_id((int)id), &in);
        for (size_t i = 0; i < n; i++) {
            unsigned here = in_room_from(id, in[i]);
            if (here != in_room_from(u->members, in[i]))
                continue;       /* an earlier connection of u counted this room */
            size_t len;
            const char *name = rooms_name(in[i], &len);
            buf_printf(b, "%.*s\n%s\n%u\n", (int)len, name, u->id, here);
        }
    }
}

/* This node's users and their connections, and their rooms, at once (at
 * start, after an outage, after being reaped). */
static void reregister(void)
{
    const uint32_t *ids;
    size_t n = connmgr_open_ids(&ids);
    /* As much as the client sends in one command. */
    struct buf users = buf_make(32u << 20), members = buf_make(32u << 20);
    for (size_t i = 0; i < n; i++) {
        const struct user *u = connmgr_member_by_id(ids[i])->user;
        if (u->members != ids[i])
            continue;           /* once per user: at its first connection */
        buf_printf(&users, "%s\n%u\n", u->id, u->nconns);
        user_rooms(&members, u);
    }
    if (!users.failed && !members.failed)
        cluster_reregister(users.data ? users.data : "", users.len,
                           members.data ? members.data : "", members.len);
    buf_free(&users);
    buf_free(&members);
}

/* The script's announcements, from one encoder: Online, Offline, Join,
 * Leave, with "from" and "to" empty. */
static char *templates(size_t *len)
{
    static const int types[] = {MSG_ONLINE, MSG_OFFLINE, MSG_JOIN, MSG_LEAVE};
    struct buf b = buf_make(1024);
    for (size_t i = 0; i < 4; i++) {
        struct message m = {.message_type = types[i]};
        size_t n;
        char *json = store_json(&m, &n);
        if (json)
            buf_append(&b, json, n);
        else
            b.failed = true;
        buf_append(&b, "\n", 1);
        free(json);
    }
    if (b.failed) {
        buf_free(&b);
        return NULL;
    }
    *len = b.len;
    return b.data;
}

/* Each room with a connection here, once: at its first member. */
static void local_rooms(void (*fn)(void *data, const char *room, size_t len), void *data)
{
    const uint32_t *ids;
    size_t n = connmgr_open_ids(&ids);
    for (size_t i = 0; i < n; i++) {
        struct room *const *in;
        size_t k = rooms_of(conn_by_id((int)ids[i]), &in);
        for (size_t j = 0; j < k; j++) {
            const uint32_t *members;
            size_t len;
            rooms_members(in[j], &members);
            const char *name = rooms_name(in[j], &len);
            if (members[0] == ids[i])
                fn(data, name, len);
        }
    }
}

static const struct cluster_owner owner = {
    .deliver = from_bus,
    .reregister = reregister,
    .templates = templates,
    .rooms = local_rooms,
};

const struct cluster_owner *connmgr_cluster_owner(void)
{
    return &owner;
}


/* -------------------------------------------------------------- pushes */

bool connmgr_push_cluster(struct message *m, cluster_done_fn *done, void *data, char *why,
                          size_t whycap)
{
    const char *bad = connmgr_refusal(m, true);
    if (bad) {
        snprintf(why, whycap, "%s", bad);
        return false;
    }
    enum cluster_op op = m->message_type == MSG_SINGLE ? CLUSTER_SINGLE
                         : m->to.len                   ? CLUSTER_ROOM
                                                       : CLUSTER_GROUP;
    if (!connmgr_bus_send(op, m, NULL, done, data)) {
        snprintf(why, whycap, "%s", cluster_problem() ? cluster_problem() : "Redis is not keeping up");
        return false;
    }
    return true;
}


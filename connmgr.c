/* connmgr.c - the routing of messages (PROTOCOL.md "Routing", "Rooms"):
 * Group to every other connection or to a room, Single to each connection
 * of one user (or, while it has none, kept for it), Online/Offline on a
 * user's first and last connection, Join and Leave on its first and last
 * in a room, and an `error:` SysNotify for whatever cannot be routed.
 * Every message is encoded once into one frame that all its recipients and
 * its history share. The users are users.c's table, the rooms rooms.c's;
 * what is remembered (ids, histories, kept messages) store.c's; with
 * --redis, messages go through connmgr_bus.c. This file never touches a
 * socket: it hands frames to conn_send().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connmgr.h"
#include "connmgr_int.h"
#include "journal.h"
#include "jwt.h"
#include "offline.h"
#include "rooms.h"
#include "stats.h"
#include "store.h"
#include "users.h"

/* A token's rooms claim, as the handshake kept it (a JSON array). */
struct claim {
    size_t len;                 /* 0: the token had none, and allows no room */
    char text[];
};

static struct {
    struct member *members;     /* indexed by conn_id() */
    size_t max_ids;             /* entries in members */
    uint32_t *open;             /* the id of every joined connection, for broadcasts */
    size_t nopen, max_open;
    uint32_t serial;            /* the last member's serial */
    size_t replaying;           /* members whose replay waits (--redis) */
} g;

int connmgr_init(size_t max_ids, size_t max_connections, size_t replay_budget,
                 size_t max_rooms, size_t max_room_histories)
{
    if (rooms_init(max_ids, max_rooms, max_room_histories) < 0)
        return -1;
    store_init(replay_budget);
    g.max_ids = max_ids;
    g.members = calloc(max_ids, sizeof *g.members);
    g.open = calloc(max_connections, sizeof *g.open);
    if (users_init(max_connections) < 0 || !g.open || !g.members)
        return -1;
    g.max_open = max_connections;
    return 0;
}

/* --------------------------------------------------------------- frames */

void connmgr_deliver(struct conn *c, struct frame *f)
{
    const struct member *m;
    if (g.replaying && (m = connmgr_member(c)) && m->waiting)
        connmgr_bus_hold(m->waiting, f);
    else
        store_deliver(c, f);
}

void connmgr_set_waiting(struct conn *c, struct waiting *w)
{
    struct member *m = connmgr_member(c);
    if (!m->waiting != !w)
        g.replaying += w ? 1 : (size_t)-1;
    m->waiting = w;
}

size_t connmgr_send_to_user(const struct user *u, struct frame *f)
{
    size_t n = 0;
    for (uint32_t id = u->members; id != NO_MEMBER; id = g.members[id].next, n++)
        connmgr_deliver(conn_by_id((int)id), f);
    return n;
}

size_t connmgr_broadcast(struct frame *f, const struct conn *except)
{
    size_t n = 0;
    for (size_t i = 0; i < g.nopen; i++) {
        struct conn *c = conn_by_id((int)g.open[i]);
        if (c != except) {
            connmgr_deliver(c, f);
            n++;
        }
    }
    return n;
}

static struct json_str str(const char *s)
{
    return (struct json_str){.p = s, .len = strlen(s)};
}

/* Online/Offline: to everyone but the user's new connection, and into the
 * history. */
static void announce(int type, const struct user *u, const struct conn *except)
{
    struct message m = {.message_type = type, .from = {u->id, u->len}};
    struct frame *f = store_encode(&m);
    if (!f)
        return;
    store_remember(NULL, f, (uint64_t)m.id);
    connmgr_broadcast(f, except);
    frame_unref(f);
}

/* A SysNotify to c alone, about a message of c's made at create_at (0:
 * now): why it could not be routed (error:), or that it was kept (queued:). */
void connmgr_reply(struct conn *c, int64_t create_at, const char *fmt, const char *detail)
{
    char text[256];
    snprintf(text, sizeof text, fmt, detail);
    struct message m = {
        .message_type = MSG_SYSNOTIFY,
        .to = str(connmgr_user_id(c)),
        .content = str(text),
        .create_at = create_at,
    };
    /* With several nodes the reply takes its id in the one order, through
     * Redis; while Redis is away, from this node's clock. */
    if (cluster_on()) {
        size_t len;
        char *json = store_json(&m, &len);
        bool sent = json && cluster_reply((struct cluster_sender){(uint32_t)conn_id(c),
                                                                   connmgr_member(c)->serial},
                                          json, len);
        free(json);
        if (sent)
            return;
    }
    struct frame *f = store_encode(&m);
    if (f) {
        connmgr_deliver(c, f);
        frame_unref(f);
    }
}

void connmgr_reply_error(struct conn *c, const char *fmt, const char *detail)
{
    connmgr_reply(c, 0, fmt, detail);
}

/* m's to, at most 64 bytes of it cut at a character boundary, so a reply
 * quoting it stays valid UTF-8 (RFC 6455 §8.1). In a buffer of one reply. */
const char *connmgr_quoted_to(const struct message *m)
{
    static char name[MESSAGE_MAX_USER_ID + 1];
    size_t n = m->to.len < MESSAGE_MAX_USER_ID ? m->to.len : MESSAGE_MAX_USER_ID;
    while (n < m->to.len && n > 0 && ((uint8_t)m->to.p[n] & 0xC0) == 0x80)
        n--;
    snprintf(name, sizeof name, "%.*s", (int)n, m->to.p);
    return name;
}

/* ----------------------------------------------------------- members */

struct member *connmgr_member(const struct conn *c)
{
    return connmgr_member_by_id((uint32_t)conn_id(c));
}

struct member *connmgr_member_by_id(uint32_t id)
{
    return id < g.max_ids && g.members[id].user ? &g.members[id] : NULL;
}

size_t connmgr_open_ids(const uint32_t **ids)
{
    *ids = g.open;
    return g.nopen;
}

/* ---------------------------------------------------------------- rooms */

/* Is another connection of c's user in r? A walk of the user's own few
 * connections and their rooms (at most --max-rooms each), never of r. */
static bool user_elsewhere_in(const struct conn *c, const struct room *r)
{
    for (uint32_t id = connmgr_member(c)->user->members; id != NO_MEMBER; id = g.members[id].next) {
        const struct conn *o = conn_by_id((int)id);
        if (o != c && rooms_has(o, r))
            return true;
    }
    return false;
}

/* Keeps f in r's history and sends it to every connection in r but except;
 * returns how many it reached. */
size_t connmgr_to_room(struct room *r, struct frame *f, int64_t id, const struct conn *except)
{
    store_remember(r, f, (uint64_t)id);
    const uint32_t *ids;
    uint32_t n = rooms_members(r, &ids);
    size_t sent = 0;
    for (uint32_t i = 0; i < n; i++) {
        struct conn *c = conn_by_id((int)ids[i]);
        if (c != except) {
            connmgr_deliver(c, f);
            sent++;
        }
    }
    return sent;
}

/* A Join or Leave of c's user in r, to the others in r and its history. */
static void announce_room(int type, const struct conn *c, struct room *r)
{
    const struct user *u = connmgr_member(c)->user;
    size_t len;
    const char *name = rooms_name(r, &len);
    struct message m = {.message_type = type, .from = {u->id, u->len}, .to = {name, len}};
    struct frame *f = store_encode(&m);
    if (!f)
        return;
    connmgr_to_room(r, f, m.id, c);
    frame_unref(f);
}

/* c is in r now: where that makes its user's first connection there (on
 * any node), the others hear a Join. */
static void room_joined(struct conn *c, struct room *r)
{
    if (cluster_on())
        connmgr_bus_room(MSG_JOIN, c, r, 1);
    else if (!user_elsewhere_in(c, r))
        announce_room(MSG_JOIN, c, r);
}

static void join_room(struct conn *c, const struct message *m)
{
    char name[MESSAGE_MAX_USER_ID + 1];
    snprintf(name, sizeof name, "%.*s", (int)m->to.len, m->to.p);
    if (m->since_bad) {
        connmgr_reply_error(c, "error: %s", "since must be an integer");
        return;
    }
    const struct claim *allowed = connmgr_member(c)->claim;
    if (allowed && !jwt_rooms_allow(allowed->text, allowed->len, m->to.p, m->to.len)) {
        connmgr_reply_error(c, "error: the token does not allow room \"%s\"", name);
        return;
    }
    struct room *r = rooms_get(m->to.p, m->to.len);
    switch (r ? rooms_join(c, r) : ROOMS_NO_MEMORY) {
    case ROOMS_OK:
        break;
    case ROOMS_ALREADY_IN:
        connmgr_reply_error(c, "error: you are in room \"%s\" already", name);
        return;
    case ROOMS_TOO_MANY:
        connmgr_reply_error(c, "error: %s", "a connection may be in at most --max-rooms rooms");
        return;
    default:
        connmgr_reply_error(c, "error: %s", "out of memory");
        return;
    }
    /* The history first, then the others hear of it: the joining
     * connection never sees its own Join. */
    store_replay_room(c, r, m->since > 0 ? (uint64_t)m->since : 0);
    room_joined(c, r);
}

/* c leaves r, one of its rooms; its user's last connection there says so. */
static void leave_room(struct conn *c, struct room *r)
{
    if (cluster_on())
        connmgr_bus_room(MSG_LEAVE, c, r, -1);
    else if (!user_elsewhere_in(c, r))
        announce_room(MSG_LEAVE, c, r);
    rooms_leave(c, r);
}

/* The room named by m->to that c is in, or NULL after telling c it is not. */
static struct room *room_of_sender(struct conn *c, const struct message *m)
{
    struct room *r = rooms_find(m->to.p, m->to.len);
    if (r && rooms_has(c, r))
        return r;
    char name[MESSAGE_MAX_USER_ID + 1];
    snprintf(name, sizeof name, "%.*s", (int)m->to.len, m->to.p);
    connmgr_reply_error(c, "error: you are not in room \"%s\": join it first", name);
    return NULL;
}

/* ------------------------------------------------------ joining, leaving */

/* Puts c in the rooms of the comma-separated list rooms[0..len), which the
 * handshake checked. */
static int join_rooms(struct conn *c, const char *list, size_t len)
{
    const char *p = list, *name;
    size_t n;
    while (len && (name = message_next_name(&p, list + len, &n))) {
        struct room *r = rooms_get(name, n);
        if (!r || rooms_join(c, r) != ROOMS_OK)
            return -1;
    }
    return 0;
}

int connmgr_join(struct conn *c, const char *id, size_t len, uint64_t since, const char *rooms,
                 size_t rooms_len, const char *claim, long claim_len)
{
    struct claim *allowed = NULL;
    if (claim_len >= 0) {
        if (!(allowed = malloc(sizeof *allowed + (size_t)claim_len)))
            return -1;
        allowed->len = (size_t)claim_len;
        memcpy(allowed->text, claim, (size_t)claim_len);
    }
    size_t slot_id = (size_t)conn_id(c);
    if (g.nopen == g.max_open || len > MESSAGE_MAX_USER_ID || slot_id >= g.max_ids) {
        free(allowed);
        return -1;
    }
    struct user *u = users_add(id, len);
    if (!u) {
        free(allowed);
        return -1;
    }
    struct member *m = &g.members[slot_id];
    *m = (struct member){.user = u, .claim = allowed, .next = u->members,
                         .open_index = (uint32_t)g.nopen, .serial = ++g.serial};
    u->members = (uint32_t)slot_id;
    u->nconns++;
    g.open[g.nopen++] = (uint32_t)slot_id;
    if (join_rooms(c, rooms, rooms_len) < 0)
        return -1;              /* the caller closes c, which leaves all */

    if (!cluster_on() || !connmgr_bus_joined(c, u, since))
        store_replay(c, u->id, u->len, since);
    if (!cluster_on() && u->nconns == 1)
        announce(MSG_ONLINE, u, c);
    struct room *const *in;
    size_t n = rooms_of(c, &in);
    for (size_t i = 0; i < n; i++)
        room_joined(c, in[i]);
    return 0;
}

void connmgr_written(struct conn *c)
{
    const struct member *m = connmgr_member(c);
    if (m)
        offline_sent(m->user->id, m->user->len, (uint32_t)conn_id(c));
}

void connmgr_leave(struct conn *c)
{
    struct member *m = connmgr_member(c);
    if (!m)
        return;
    /* Its rooms first, while its user can still be told apart from it. */
    struct room *const *rooms;
    size_t n;
    while ((n = rooms_of(c, &rooms)) > 0)
        leave_room(c, rooms[n - 1]);
    uint32_t last = g.open[--g.nopen];
    g.open[m->open_index] = last;
    g.members[last].open_index = m->open_index;

    struct user *u = m->user;
    uint32_t id = (uint32_t)conn_id(c), *p = &u->members;
    offline_unsent(u->id, u->len, id);
    if (cluster_on())
        connmgr_bus_left(c, u);
    connmgr_set_waiting(c, NULL);
    while (*p != id)
        p = &g.members[*p].next;
    *p = m->next;
    free(m->claim);
    *m = (struct member){0};
    if (cluster_on())
        connmgr_bus_presence(MSG_OFFLINE, u, -1, NULL);
    if (--u->nconns > 0)
        return;
    users_remove(u);
    if (!cluster_on())
        announce(MSG_OFFLINE, u, NULL);
    free(u);
}

/* -------------------------------------------------------------- routing */

/* Checks what a client or a push may send; NULL when m is routable. */
const char *connmgr_refusal(const struct message *m, bool pushed)
{
    if (m->media_type < 0 || m->media_type > 2)
        return "mediaType must be 0 (text), 1 (image) or 2 (file)";
    int64_t t = m->message_type;
    if (t == MSG_SINGLE && m->to.len == 0)
        return "a Single message needs \"to\", the userId it goes to";
    if (t == MSG_SINGLE && message_user_id_problem(m->to.p, m->to.len))
        return message_user_id_problem(m->to.p, m->to.len);
    if ((t == MSG_JOIN || t == MSG_LEAVE) && m->to.len == 0)
        return "Join and Leave need \"to\", the room";
    if (t != MSG_SINGLE && m->to.len > 0 && message_room_problem(m->to.p, m->to.len))
        return message_room_problem(m->to.p, m->to.len);
    if (t == MSG_SINGLE || t == MSG_GROUP)
        return NULL;
    if (pushed)
        return t == MSG_SYSNOTIFY ? NULL
                                  : "messageType must be 0 (Single), 1 (Group) or 2 (SysNotify)";
    if (t == MSG_JOIN || t == MSG_LEAVE)
        return NULL;
    return "messageType must be 0 (Single), 1 (Group), 5 (Join) or 6 (Leave)";
}

void connmgr_refuse(struct conn *from, const char *why)
{
    connmgr_reply_error(from, "error: %s", why);
}

void connmgr_route(struct conn *from, struct message *m)
{
    const char *bad = connmgr_refusal(m, false);
    if (bad) {
        connmgr_reply_error(from, "error: %s", bad);
        return;
    }
    struct room *room = NULL;
    if (m->message_type == MSG_JOIN) {
        join_room(from, m);
        return;
    }
    if (m->message_type == MSG_LEAVE) {
        if ((room = room_of_sender(from, m)))
            leave_room(from, room);
        return;
    }
    if (m->message_type == MSG_GROUP && m->to.len > 0 && !(room = room_of_sender(from, m)))
        return;
    if (cluster_on()) {
        connmgr_bus_route(from, m);
        return;
    }
    const struct user *to = NULL;
    if (m->message_type == MSG_SINGLE && !(to = users_find(m->to.p, m->to.len)) &&
        !offline_enabled()) {
        connmgr_reply_error(from, "error: user \"%s\" is not online", connmgr_quoted_to(m));
        return;
    }
    /* What would be remembered must be on disk first (--fsync always). */
    if (!to && journal_refuses()) {
        connmgr_reply_error(from, "error: %s; the message was not sent", journal_problem());
        return;
    }
    const struct user *sender = connmgr_member(from)->user;
    m->from = (struct json_str){sender->id, sender->len};
    struct frame *f = store_encode(m);
    if (!f)
        return;
    if (to) {
        connmgr_send_to_user(to, f);
    } else if (m->message_type == MSG_SINGLE) {
        /* The reply carries the Single's createAt, so a page can tell
         * which of its lines was kept. */
        if (store_keep(m, f) == 0)
            connmgr_answer_journaled(from, m, true);
        else
            connmgr_reply_error(from, "error: the message to %s could not be kept", connmgr_quoted_to(m));
    } else if (room) {
        connmgr_to_room(room, f, m->id, from);
        connmgr_answer_journaled(from, m, false);
    } else {
        store_remember(NULL, f, (uint64_t)m->id);
        connmgr_broadcast(f, from);
        connmgr_answer_journaled(from, m, false);
    }
    frame_unref(f);
}

long connmgr_push(struct message *m, int *queued, char *why, size_t whycap)
{
    *queued = 0;
    const char *bad = connmgr_refusal(m, true);
    if (bad) {
        snprintf(why, whycap, "%s", bad);
        return -1;
    }
    struct frame *f = store_encode(m);
    if (!f) {
        snprintf(why, whycap, "out of memory");
        return -1;
    }
    size_t n;
    struct room *room;
    if (m->message_type == MSG_SINGLE) {
        const struct user *u = users_find(m->to.p, m->to.len);
        n = u ? connmgr_send_to_user(u, f) : 0;
        *queued = !u && store_keep(m, f) == 0;
    } else if (m->to.len > 0) {
        /* To a room, which keeps the message for whoever joins it later. */
        n = (room = rooms_get(m->to.p, m->to.len)) ? connmgr_to_room(room, f, m->id, NULL) : 0;
    } else {
        store_remember(NULL, f, (uint64_t)m->id);
        n = connmgr_broadcast(f, NULL);
    }
    frame_unref(f);
    return (long)n;
}

const char *connmgr_user_id(const struct conn *c)
{
    const struct member *m = connmgr_member(c);
    return m ? m->user->id : "";
}

size_t connmgr_connections(void)
{
    return g.nopen;
}

size_t connmgr_users(void)
{
    return users_count();
}

uint64_t connmgr_last_id(void)
{
    return store_last_id();
}

size_t connmgr_user_ids(const char **ids, size_t cap)
{
    return users_ids(ids, cap);
}

long connmgr_room_user_ids(const char *room, size_t len, const char **ids, size_t cap)
{
    const struct room *r = rooms_find(room, len);
    if (!r)
        return -1;
    const uint32_t *members;
    uint32_t n = rooms_members(r, &members);
    size_t k = 0;
    for (uint32_t i = 0; i < n && k < cap; i++)
        ids[k++] = g.members[members[i]].user->id;
    return (long)k;
}

size_t connmgr_room_connections(const char *room, size_t len)
{
    const struct room *r = rooms_find(room, len);
    const uint32_t *members;
    return r ? rooms_members(r, &members) : 0;
}

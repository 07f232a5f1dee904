/* connmgr.c - the connection table and the routing of messages.
 *
 * The table maps a userId to that user's connections (several tabs or
 * devices each). It is open-addressed with linear probing, sized once at
 * start to twice the connection limit, so it never rehashes and its load
 * stays at or below one half. Deletion shifts later members of the probe
 * chain back into the hole ("backward-shift deletion") instead of leaving a
 * tombstone: under endless connect/disconnect churn tombstones pile up and
 * lengthen every probe until a rehash, while backward shift leaves the table
 * exactly as if the user had never been there.
 *
 * Routing follows PROTOCOL.md: Group to every other connection, Single to
 * each connection of one user, Online/Offline on a user's first and last
 * connection, a history of the last 100 Group and presence messages, and
 * an `error:` SysNotify for whatever cannot be routed. Every message is
 * encoded once into one frame that all its recipients and the history share.
 * This file never touches a socket: it hands frames to conn_send().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "connmgr.h"
#include "stats.h"

#define NO_MEMBER UINT32_MAX    /* the end of a user's list of connections */

struct user {
    uint32_t members;           /* its first connection's id; linked by next */
    uint32_t nconns;            /* how many */
    uint32_t hash;              /* of id, so a shift needs no rehash */
    uint8_t len;                /* bytes in id */
    char id[];                  /* the userId, stored once, NUL-terminated */
};

/* Routing's own state about a joined connection. It lives in a table
 * indexed by conn_id(), so the transport's struct conn holds nothing of it. */
struct member {
    struct user *user;          /* shared with its other connections; NULL: not joined */
    uint32_t next;              /* the id of the user's next connection, or NO_MEMBER */
    uint32_t open_index;        /* its slot in g.open */
};

struct past {
    struct frame *frame;        /* shared with everyone it was sent to */
    uint64_t id;                /* the message's id, for since= */
};

static struct {
    struct user **slots;        /* the open-addressed table */
    size_t mask;                /* slots - 1; a power of two minus one */
    uint64_t seed;              /* per-process hash seed */
    size_t users;               /* users online */
    struct member *members;     /* indexed by conn_id() */
    size_t max_ids;             /* entries in members */
    uint32_t *open;             /* the id of every joined connection, for broadcasts */
    size_t nopen, max_open;
    struct past history[CONNMGR_HISTORY]; /* a ring, oldest at hist_start */
    size_t hist_start, hist_len;
    uint64_t last_id;           /* the last id handed out */
    size_t replay_budget;       /* bytes of history a newcomer may be sent */
} g;

/* ------------------------------------------------------------ the table */

/* FNV-1a with a random seed and a final mix: cheap, and a client cannot
 * precompute userIds that collide, since the seed is new each run. */
static uint32_t hash_id(const char *id, size_t len)
{
    uint64_t h = 14695981039346656037ull ^ g.seed;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)id[i]) * 1099511628211ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return (uint32_t)h;
}

/* The slot holding id, or the empty slot where it would go. */
static size_t find_slot(const char *id, size_t len, uint32_t hash)
{
    size_t i = hash & g.mask;
    while (g.slots[i]) {
        struct user *u = g.slots[i];
        if (u->hash == hash && u->len == len && memcmp(u->id, id, len) == 0)
            return i;
        i = (i + 1) & g.mask;
    }
    return i;
}

static struct user *user_find(const char *id, size_t len)
{
    return g.slots[find_slot(id, len, hash_id(id, len))];
}

/* Backward-shift deletion: walk the chain after the hole and move back each
 * member whose home slot does not lie between the hole and itself. */
static void table_delete(size_t hole)
{
    g.slots[hole] = NULL;
    for (size_t j = (hole + 1) & g.mask; g.slots[j]; j = (j + 1) & g.mask) {
        size_t home = g.slots[j]->hash & g.mask;
        bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (stays)
            continue;
        g.slots[hole] = g.slots[j];
        g.slots[j] = NULL;
        hole = j;
    }
}

int connmgr_init(size_t max_ids, size_t max_connections, size_t replay_budget)
{
    g.replay_budget = replay_budget;
    g.max_ids = max_ids;
    g.members = calloc(max_ids, sizeof *g.members);
    size_t cap = 16;
    while (cap < 2 * max_connections)
        cap *= 2;
    g.slots = calloc(cap, sizeof *g.slots);
    g.open = calloc(max_connections, sizeof *g.open);
    if (!g.slots || !g.open || !g.members)
        return -1;
    g.mask = cap - 1;
    g.max_open = max_connections;
    if (getrandom(&g.seed, sizeof g.seed, GRND_NONBLOCK) != sizeof g.seed)
        g.seed = (uint64_t)time(NULL);
    return 0;
}

/* --------------------------------------------------------------- frames */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Ids start from the clock in microseconds, so a restarted server hands out
 * larger ones than its last run did (PROTOCOL.md "id"), and grow by at least
 * one, so they stay strictly increasing even within a microsecond. */
static uint64_t next_id(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t us = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
    g.last_id = us > g.last_id ? us : g.last_id + 1;
    return g.last_id;
}

/* Stamps m (updateAt, createAt when unset, id) and encodes it once. */
static struct frame *encode(struct message *m)
{
    int64_t now = now_ms();
    m->update_at = now;
    if (m->create_at == 0)
        m->create_at = now;
    m->id = (int64_t)next_id();
    struct frame *f = frame_alloc(message_bound(m));
    if (!f)
        return NULL;
    size_t n = message_write((char *)frame_payload(f), m);
    frame_seal(f, WS_OP_TEXT, n);
    return f;
}

static void deliver(struct conn *c, struct frame *f)
{
    conn_send(c, f);
    stats.messages_sent++;
}

static size_t send_to_user(const struct user *u, struct frame *f)
{
    size_t n = 0;
    for (uint32_t id = u->members; id != NO_MEMBER; id = g.members[id].next, n++)
        deliver(conn_by_id((int)id), f);
    return n;
}

static size_t broadcast(struct frame *f, const struct conn *except)
{
    size_t n = 0;
    for (size_t i = 0; i < g.nopen; i++) {
        struct conn *c = conn_by_id((int)g.open[i]);
        if (c != except) {
            deliver(c, f);
            n++;
        }
    }
    return n;
}

static void remember(struct frame *f, int64_t id)
{
    size_t slot = (g.hist_start + g.hist_len) % CONNMGR_HISTORY;
    if (g.hist_len == CONNMGR_HISTORY) {
        frame_unref(g.history[slot].frame);
        g.hist_start = (g.hist_start + 1) % CONNMGR_HISTORY;
    } else {
        g.hist_len++;
    }
    f->refs++;
    g.history[slot] = (struct past){.frame = f, .id = (uint64_t)id};
}

/* Sends the history newer than since, oldest first. A replay is limited to
 * the newest messages that fit in the budget (half of --max-pending), so a
 * history of large messages cannot push a newcomer over its own output cap
 * before it has read a byte. */
static void replay(struct conn *c, uint64_t since)
{
    size_t first = g.hist_len, bytes = 0;
    while (first > 0) {
        const struct past *p = &g.history[(g.hist_start + first - 1) % CONNMGR_HISTORY];
        if (p->id <= since || bytes + p->frame->len > g.replay_budget)
            break;
        bytes += p->frame->len;
        first--;
    }
    for (size_t i = first; i < g.hist_len; i++)
        deliver(c, g.history[(g.hist_start + i) % CONNMGR_HISTORY].frame);
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
    struct frame *f = encode(&m);
    if (!f)
        return;
    remember(f, m.id);
    broadcast(f, except);
    frame_unref(f);
}

/* The answer to anything that cannot be routed: a SysNotify to its sender
 * alone, saying what was wrong. */
static void reply_error(struct conn *c, const char *fmt, const char *detail)
{
    char text[256];
    snprintf(text, sizeof text, fmt, detail);
    struct message m = {
        .message_type = MSG_SYSNOTIFY,
        .to = str(connmgr_user_id(c)),
        .content = str(text),
    };
    struct frame *f = encode(&m);
    if (f) {
        deliver(c, f);
        frame_unref(f);
    }
}

/* ------------------------------------------------------ joining, leaving */

/* c's entry, where c has joined; NULL where it has not. */
static struct member *member_of(const struct conn *c)
{
    size_t i = (size_t)conn_id(c);
    return i < g.max_ids && g.members[i].user ? &g.members[i] : NULL;
}

int connmgr_join(struct conn *c, const char *id, size_t len, uint64_t since)
{
    size_t slot_id = (size_t)conn_id(c);
    if (g.nopen == g.max_open || len > MESSAGE_MAX_USER_ID || slot_id >= g.max_ids)
        return -1;
    uint32_t hash = hash_id(id, len);
    size_t slot = find_slot(id, len, hash);
    struct user *u = g.slots[slot];
    if (!u) {
        u = malloc(sizeof *u + len + 1);
        if (!u)
            return -1;
        *u = (struct user){.members = NO_MEMBER, .hash = hash, .len = (uint8_t)len};
        memcpy(u->id, id, len);
        u->id[len] = '\0';
        g.slots[slot] = u;
        g.users++;
    }
    struct member *m = &g.members[slot_id];
    *m = (struct member){.user = u, .next = u->members, .open_index = (uint32_t)g.nopen};
    u->members = (uint32_t)slot_id;
    u->nconns++;
    g.open[g.nopen++] = (uint32_t)slot_id;

    replay(c, since);
    if (u->nconns == 1)
        announce(MSG_ONLINE, u, c);
    return 0;
}

void connmgr_leave(struct conn *c)
{
    struct member *m = member_of(c);
    if (!m)
        return;
    uint32_t last = g.open[--g.nopen];
    g.open[m->open_index] = last;
    g.members[last].open_index = m->open_index;

    struct user *u = m->user;
    uint32_t id = (uint32_t)conn_id(c), *p = &u->members;
    while (*p != id)
        p = &g.members[*p].next;
    *p = m->next;
    *m = (struct member){0};
    if (--u->nconns > 0)
        return;
    table_delete(find_slot(u->id, u->len, u->hash));
    g.users--;
    announce(MSG_OFFLINE, u, NULL);
    free(u);
}

/* -------------------------------------------------------------- routing */

/* Checks what a client or a push may send; NULL when m is routable. */
static const char *refusal(const struct message *m, bool pushed)
{
    if (m->media_type < 0 || m->media_type > 2)
        return "mediaType must be 0 (text), 1 (image) or 2 (file)";
    if (m->message_type == MSG_GROUP && m->to.len > 0)
        return "Group messages go to everyone: leave \"to\" empty (named groups are not defined)";
    if (m->message_type == MSG_SYSNOTIFY && m->to.len > 0)
        return "SysNotify goes to everyone: leave \"to\" empty (named groups are not defined)";
    if (m->message_type == MSG_SINGLE && m->to.len == 0)
        return "a Single message needs \"to\", the userId it goes to";
    if (m->message_type == MSG_SINGLE || m->message_type == MSG_GROUP)
        return NULL;
    if (pushed && m->message_type == MSG_SYSNOTIFY)
        return NULL;
    return pushed ? "messageType must be 0 (Single), 1 (Group) or 2 (SysNotify)"
                  : "messageType must be 0 (Single) or 1 (Group)";
}

void connmgr_refuse(struct conn *from, const char *why)
{
    reply_error(from, "error: %s", why);
}

void connmgr_route(struct conn *from, struct message *m)
{
    const char *bad = refusal(m, false);
    if (bad) {
        reply_error(from, "error: %s", bad);
        return;
    }
    const struct user *to = NULL;
    if (m->message_type == MSG_SINGLE) {
        to = user_find(m->to.p, m->to.len);
        if (!to) {
            /* Quote at most 64 bytes of the name, cut at a character
             * boundary so the reply stays valid UTF-8 (§8.1). */
            size_t n = m->to.len < MESSAGE_MAX_USER_ID ? m->to.len : MESSAGE_MAX_USER_ID;
            while (n < m->to.len && n > 0 && ((uint8_t)m->to.p[n] & 0xC0) == 0x80)
                n--;
            char name[MESSAGE_MAX_USER_ID + 1];
            snprintf(name, sizeof name, "%.*s", (int)n, m->to.p);
            reply_error(from, "error: user \"%s\" is not online", name);
            return;
        }
    }
    const struct user *sender = member_of(from)->user;
    m->from = (struct json_str){sender->id, sender->len};
    struct frame *f = encode(m);
    if (!f)
        return;
    if (to) {
        send_to_user(to, f);
    } else {
        remember(f, m->id);
        broadcast(f, from);
    }
    frame_unref(f);
}

long connmgr_push(struct message *m, char *why, size_t whycap)
{
    const char *bad = refusal(m, true);
    if (bad) {
        snprintf(why, whycap, "%s", bad);
        return -1;
    }
    struct frame *f = encode(m);
    if (!f) {
        snprintf(why, whycap, "out of memory");
        return -1;
    }
    size_t n;
    if (m->message_type == MSG_SINGLE) {
        const struct user *u = user_find(m->to.p, m->to.len);
        n = u ? send_to_user(u, f) : 0;
    } else {
        remember(f, m->id);
        n = broadcast(f, NULL);
    }
    frame_unref(f);
    return (long)n;
}

const char *connmgr_user_id(const struct conn *c)
{
    const struct member *m = member_of(c);
    return m ? m->user->id : "";
}

size_t connmgr_connections(void)
{
    return g.nopen;
}

size_t connmgr_users(void)
{
    return g.users;
}

uint64_t connmgr_last_id(void)
{
    return g.last_id;
}

size_t connmgr_user_ids(const char **ids, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i <= g.mask && n < cap; i++)
        if (g.slots[i])
            ids[n++] = g.slots[i]->id;
    return n;
}

/* rooms.c - the rooms (see rooms.h): a table by name, each room's members,
 * the rooms of each connection, and the histories, least recently used
 * forgotten first.
 *
 * Joining and leaving cost O(1) in the room's size: a room's members are a
 * dense array of conn_id()s, and a connection's entry for a room remembers
 * its place there, so a leave swaps the last member into the hole. The
 * only walks are of one connection's own rooms (at most --max-rooms). */
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "rooms.h"

struct room {
    struct room *next;          /* in its hash bucket */
    struct room *newer, *older; /* among rooms with a history, by last use */
    struct history *history;    /* its recent messages, or NULL */
    uint32_t *members;          /* conn_id()s, dense */
    uint32_t nmembers, cap;     /* in members, and room */
    uint32_t hash;              /* of name */
    uint8_t len;                /* bytes in name */
    char name[];                /* NUL-terminated */
};

/* The rooms one connection is in, each with its index in the room's members. */
struct joined {
    uint32_t n, cap;            /* rooms it is in, and room for them */
    struct room *rooms[];       /* cap of them, then cap uint32_t places: see places() */
};

static struct {
    struct room **buckets;      /* a chained table; a power of two of them */
    size_t mask;                /* buckets - 1 */
    size_t nrooms;              /* rooms in the table */
    uint64_t seed;
    struct joined **by_id;      /* each connection's rooms, or NULL: by conn_id() */
    size_t max_ids, max_per_conn;
    struct room *newest, *oldest; /* the rooms with a history, by last use */
    size_t nhistories, max_histories;
    size_t open, memberships;   /* for /metrics */
} g;

static uint32_t *places(struct joined *j)
{
    return (uint32_t *)(j->rooms + j->cap);
}

/* Room for more rooms of one connection, doubling up to --max-rooms, so a
 * membership costs a dozen bytes however many rooms a connection may join.
 * NULL (j untouched) when out of memory. */
static struct joined *joined_grow(struct joined *j)
{
    uint32_t old = j ? j->cap : 0, cap = old ? 2 * old : 2;
    if (cap > g.max_per_conn)
        cap = (uint32_t)g.max_per_conn;
    struct joined *n = realloc(j, sizeof *n + cap * (sizeof n->rooms[0] + sizeof(uint32_t)));
    if (!n)
        return NULL;
    if (!j)
        n->n = 0;
    else                        /* the places move up behind the longer rooms[] */
        memmove(n->rooms + cap, n->rooms + old, n->n * sizeof(uint32_t));
    n->cap = cap;
    return n;
}

int rooms_init(size_t max_ids, size_t max_per_conn, size_t max_histories)
{
    g.seed = hash_seed();
    g.mask = 63;
    g.buckets = calloc(g.mask + 1, sizeof *g.buckets);
    g.by_id = calloc(max_ids, sizeof *g.by_id);
    g.max_ids = max_ids;
    g.max_per_conn = max_per_conn;
    g.max_histories = max_histories;
    return g.buckets && g.by_id ? 0 : -1;
}

/* ------------------------------------------------------------ the table */

struct room *rooms_find(const char *name, size_t len)
{
    uint32_t hash = hash_name(g.seed, name, len);
    for (struct room *r = g.buckets[hash & g.mask]; r; r = r->next)
        if (r->hash == hash && r->len == len && memcmp(r->name, name, len) == 0)
            return r;
    return NULL;
}

/* Doubles the buckets once rooms outnumber them, so chains stay short. */
static void grow(void)
{
    size_t mask = 2 * g.mask + 1;
    struct room **b = calloc(mask + 1, sizeof *b);
    if (!b)
        return;                 /* longer chains, still right */
    for (size_t i = 0; i <= g.mask; i++) {
        for (struct room *r = g.buckets[i], *next; r; r = next) {
            next = r->next;
            r->next = b[r->hash & mask];
            b[r->hash & mask] = r;
        }
    }
    free(g.buckets);
    g.buckets = b;
    g.mask = mask;
}

struct room *rooms_get(const char *name, size_t len)
{
    struct room *r = rooms_find(name, len);
    if (r || len > UINT8_MAX)
        return r;
    if (!(r = calloc(1, sizeof *r + len + 1)))
        return NULL;
    r->hash = hash_name(g.seed, name, len);
    r->len = (uint8_t)len;
    memcpy(r->name, name, len);
    r->next = g.buckets[r->hash & g.mask];
    g.buckets[r->hash & g.mask] = r;
    if (++g.nrooms > g.mask + 1)
        grow();
    return r;
}

const char *rooms_name(const struct room *r, size_t *len)
{
    *len = r->len;
    return r->name;
}

/* Frees r once it has neither members nor a history. */
static void drop_if_unused(struct room *r)
{
    if (r->nmembers || r->history)
        return;
    struct room **p = &g.buckets[r->hash & g.mask];
    while (*p != r)
        p = &(*p)->next;
    *p = r->next;
    g.nrooms--;
    free(r->members);
    free(r);
}

/* ------------------------------------------------------------ histories */

static void lru_unlink(struct room *r)
{
    if (r->newer)
        r->newer->older = r->older;
    else
        g.newest = r->older;
    if (r->older)
        r->older->newer = r->newer;
    else
        g.oldest = r->newer;
    r->newer = r->older = NULL;
}

static void lru_push(struct room *r)
{
    r->older = g.newest;
    r->newer = NULL;
    if (g.newest)
        g.newest->newer = r;
    else
        g.oldest = r;
    g.newest = r;
}

static void forget_history(struct room *r)
{
    lru_unlink(r);
    history_clear(r->history);
    free(r->history);
    r->history = NULL;
    g.nhistories--;
    drop_if_unused(r);
}

struct history *rooms_history(struct room *r)
{
    if (r->history) {
        lru_unlink(r);
        lru_push(r);
        return r->history;
    }
    if (!(r->history = calloc(1, sizeof *r->history)))
        return NULL;
    lru_push(r);
    if (++g.nhistories > g.max_histories)
        forget_history(g.oldest);
    return r->history;
}

void rooms_each_history(void (*fn)(const struct room *r, const struct history *h))
{
    for (const struct room *r = g.oldest; r; r = r->newer)
        fn(r, r->history);
}

const struct history *rooms_history_if_any(const struct room *r)
{
    return r->history;
}

/* ---------------------------------------------------------- membership */

static struct joined *joined_of(const struct conn *c)
{
    size_t id = (size_t)conn_id(c);
    return id < g.max_ids ? g.by_id[id] : NULL;
}

/* Where r is among c's rooms, or -1. */
static long find_joined(const struct joined *j, const struct room *r)
{
    for (uint32_t i = 0; j && i < j->n; i++)
        if (j->rooms[i] == r)
            return i;
    return -1;
}

bool rooms_has(const struct conn *c, const struct room *r)
{
    return find_joined(joined_of(c), r) >= 0;
}

size_t rooms_of(const struct conn *c, struct room *const **rooms)
{
    struct joined *j = joined_of(c);
    *rooms = j ? j->rooms : NULL;
    return j ? j->n : 0;
}

int rooms_join(struct conn *c, struct room *r)
{
    size_t id = (size_t)conn_id(c);
    if (id >= g.max_ids)
        return ROOMS_NO_MEMORY;
    struct joined *j = g.by_id[id];
    if (find_joined(j, r) >= 0)
        return ROOMS_ALREADY_IN;
    if (j && j->n == g.max_per_conn) {
        drop_if_unused(r);      /* made for this join, perhaps */
        return ROOMS_TOO_MANY;
    }
    if (!j || j->n == j->cap) {
        /* Made on a first join, so a connection in no room costs nothing. */
        struct joined *grown = joined_grow(j);
        if (!grown) {
            drop_if_unused(r);
            return ROOMS_NO_MEMORY;
        }
        g.by_id[id] = j = grown;
    }
    if (r->nmembers == r->cap) {
        uint32_t cap = r->cap ? 2 * r->cap : 4;
        uint32_t *m = realloc(r->members, cap * sizeof *m);
        if (!m) {
            if (j->n == 0) {
                free(j);
                g.by_id[id] = NULL;
            }
            drop_if_unused(r);
            return ROOMS_NO_MEMORY;
        }
        r->members = m;
        r->cap = cap;
    }
    if (r->nmembers == 0)
        g.open++;
    j->rooms[j->n] = r;
    places(j)[j->n++] = r->nmembers;
    r->members[r->nmembers++] = (uint32_t)id;
    g.memberships++;
    return ROOMS_OK;
}

int rooms_leave(struct conn *c, struct room *r)
{
    struct joined *j = joined_of(c);
    long k = find_joined(j, r);
    if (k < 0)
        return ROOMS_NOT_IN;
    /* The room's last member takes c's place there. */
    uint32_t at = places(j)[k], last = r->members[--r->nmembers];
    if (last != (uint32_t)conn_id(c)) {
        r->members[at] = last;
        struct joined *lj = g.by_id[last];
        places(lj)[find_joined(lj, r)] = at;
    }
    /* And c's last room takes r's place among c's. */
    j->rooms[k] = j->rooms[--j->n];
    places(j)[k] = places(j)[j->n];
    if (j->n == 0) {
        free(j);
        g.by_id[conn_id(c)] = NULL;
    }
    g.memberships--;
    if (r->nmembers == 0) {
        g.open--;
        drop_if_unused(r);
    }
    return ROOMS_OK;
}

uint32_t rooms_members(const struct room *r, const uint32_t **ids)
{
    *ids = r->members;
    return r->nmembers;
}

size_t rooms_open(void)
{
    return g.open;
}

size_t rooms_memberships(void)
{
    return g.memberships;
}

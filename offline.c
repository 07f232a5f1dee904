/* offline.c - the kept messages (see offline.h): a box per user that has
 * some, in a table by name, and every kept message on two lists, its
 * user's and everyone's, both oldest first.
 *
 * Ids grow with time, so everyone's list in the order of keeping is also
 * the order of ids and of age: the age limit and the bytes limit both drop
 * from its head, and the oldest message of all is always the oldest of its
 * own user. A message leaves by one path (drop), which unlinks it from both
 * lists and frees its user's box with its last message. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "offline.h"
#include "stats.h"

struct kept {
    struct history_entry e;     /* the frame and its id, as histories have them */
    int64_t at_ms;              /* when it was made, for the age limit */
    struct kept *older, *newer; /* on everyone's list */
    struct kept *uolder, *unewer; /* on its user's list */
    struct box *box;            /* its user's */
};

struct box {
    struct box *next;           /* in its hash bucket */
    struct kept *oldest, *newest;
    uint32_t n;                 /* messages in it */
    uint32_t hash;              /* of name */
    uint32_t tag;               /* the delivery under way (offline_sending), or NO_TAG */
    uint64_t lo, hi;            /* the ids it carries */
    uint8_t len;
    char name[];
};

#define NO_TAG UINT32_MAX

static struct {
    struct offline_limits limits;
    struct box **buckets;       /* chained; a power of two of them, or none yet */
    size_t mask;
    size_t nboxes;
    uint64_t seed;
    struct kept *oldest, *newest; /* everyone's list */
    size_t count, bytes;
} g;

void offline_init(const struct offline_limits *l)
{
    g.limits = *l;
    if (!g.buckets)
        g.seed = hash_seed();   /* never under boxes already placed by it */
}

bool offline_enabled(void)
{
    return g.limits.per_user > 0;
}

size_t offline_per_user(void)
{
    return g.limits.per_user;
}

/* ------------------------------------------------------------ the boxes */

static struct box **slot_of(const char *name, size_t len, uint32_t hash)
{
    struct box **p = &g.buckets[hash & g.mask];
    while (*p && !((*p)->hash == hash && (*p)->len == len && memcmp((*p)->name, name, len) == 0))
        p = &(*p)->next;
    return p;
}

static struct box *find(const char *name, size_t len)
{
    if (!g.buckets)
        return NULL;
    return *slot_of(name, len, hash_name(g.seed, name, len));
}

/* Doubles the buckets once boxes outnumber them; a failure only makes the
 * chains longer. */
static void grow(void)
{
    size_t mask = g.buckets ? 2 * g.mask + 1 : 63;
    struct box **b = calloc(mask + 1, sizeof *b);
    if (!b)
        return;
    for (size_t i = 0; g.buckets && i <= g.mask; i++) {
        for (struct box *x = g.buckets[i], *next; x; x = next) {
            next = x->next;
            x->next = b[x->hash & mask];
            b[x->hash & mask] = x;
        }
    }
    free(g.buckets);
    g.buckets = b;
    g.mask = mask;
}

static struct box *get(const char *name, size_t len)
{
    struct box *x = find(name, len);
    if (x || len > UINT8_MAX)
        return x;
    if ((!g.buckets || g.nboxes > g.mask) && (grow(), !g.buckets))
        return NULL;
    if (!(x = calloc(1, sizeof *x + len + 1)))
        return NULL;
    x->hash = hash_name(g.seed, name, len);
    x->len = (uint8_t)len;
    x->tag = NO_TAG;
    memcpy(x->name, name, len);
    struct box **p = &g.buckets[x->hash & g.mask];
    x->next = *p;
    *p = x;
    g.nboxes++;
    return x;
}

static void box_free(struct box *x)
{
    struct box **p = slot_of(x->name, x->len, x->hash);
    *p = x->next;
    g.nboxes--;
    free(x);
}

/* -------------------------------------------------------- the messages */

/* Forgets k, whatever the reason; its box goes with its last message. */
static void drop(struct kept *k)
{
    struct box *x = k->box;
    *(k->older ? &k->older->newer : &g.oldest) = k->newer;
    *(k->newer ? &k->newer->older : &g.newest) = k->older;
    *(k->uolder ? &k->uolder->unewer : &x->oldest) = k->unewer;
    *(k->unewer ? &k->unewer->uolder : &x->newest) = k->uolder;
    g.count--;
    g.bytes -= k->e.frame->len;
    frame_unref(k->e.frame);
    free(k);
    if (--x->n == 0)
        box_free(x);
}

/* A drop because a connection saw k, which the journal hears of. */
static void forget(struct kept *k)
{
    if (g.limits.forgotten)
        g.limits.forgotten(k->box->name, k->box->len, k->e.id);
    drop(k);
}

/* A drop for a limit, which /metrics counts. */
static void evict(struct kept *k)
{
    drop(k);
    stats.offline_dropped++;
}

void offline_expire(int64_t now_ms)
{
    while (g.oldest && now_ms - g.oldest->at_ms > g.limits.ttl_ms)
        evict(g.oldest);
}

int offline_keep(const char *user, size_t len, struct frame *f, uint64_t id, int64_t at_ms)
{
    if (g.limits.per_user == 0 || f->len > g.limits.bytes)
        return -1;
    offline_expire(at_ms);
    struct box *x = get(user, len);
    struct kept *k = x ? malloc(sizeof *k) : NULL;
    if (!k) {
        if (x && x->n == 0)
            box_free(x);
        return -1;
    }
    while (x->n >= g.limits.per_user)
        evict(x->oldest);       /* never x's last: per_user is at least 1 */
    f->refs++;
    *k = (struct kept){.e = {f, id}, .at_ms = at_ms, .older = g.newest,
                       .uolder = x->newest, .box = x};
    *(g.newest ? &g.newest->newer : &g.oldest) = k;
    g.newest = k;
    *(x->newest ? &x->newest->unewer : &x->oldest) = k;
    x->newest = k;
    x->n++;
    g.count++;
    g.bytes += f->len;
    while (g.bytes > g.limits.bytes)
        evict(g.oldest);        /* never k: it fits alone */
    return 0;
}

size_t offline_list(const char *user, size_t len, uint64_t since,
                    const struct history_entry **v, size_t cap)
{
    struct box *x = find(user, len);
    while (x && x->oldest->e.id <= since) {
        bool last = x->n == 1;
        forget(x->oldest);
        if (last)
            return 0;
    }
    size_t n = 0;
    for (struct kept *k = x ? x->oldest : NULL; k && n < cap; k = k->unewer)
        v[n++] = &k->e;
    return x ? x->n : 0;
}

void offline_sending(const char *user, size_t len, uint32_t tag, uint64_t lo, uint64_t hi)
{
    struct box *x = find(user, len);
    if (!x)
        return;
    x->tag = tag;
    x->lo = lo;
    x->hi = hi;
}

void offline_sent(const char *user, size_t len, uint32_t tag)
{
    struct box *x = find(user, len);
    if (!x || x->tag != tag)
        return;
    x->tag = NO_TAG;
    uint64_t lo = x->lo, hi = x->hi;
    /* What it carried is the newest of the box, but a message may have come
     * in above it since: walk down from the newest. */
    struct kept *k = x->newest;
    while (k) {
        struct kept *older = k->uolder;
        bool last = x->n == 1;
        if (k->e.id < lo)
            break;
        if (k->e.id <= hi)
            forget(k);
        if (last)
            break;              /* the box went with it */
        k = older;
    }
}

void offline_forget(const char *user, size_t len, uint64_t id)
{
    struct box *x = find(user, len);
    for (struct kept *k = x ? x->newest : NULL; k && k->e.id >= id; k = k->uolder) {
        if (k->e.id == id) {
            drop(k);
            return;
        }
    }
}

void offline_each(void (*fn)(const char *user, size_t len, struct frame *f, uint64_t id))
{
    for (struct kept *k = g.oldest; k; k = k->newer)
        fn(k->box->name, k->box->len, k->e.frame, k->e.id);
}

void offline_take(const char *user, size_t len, offline_take_fn *fn, void *data)
{
    struct box *x = find(user, len);
    for (struct kept *k = x ? x->oldest : NULL, *newer; k; k = newer) {
        newer = k->unewer;
        bool on_its_way = x->tag != NO_TAG && k->e.id >= x->lo && k->e.id <= x->hi;
        if (on_its_way)
            continue;
        bool last = x->n == 1;
        fn(data, k->e.frame, k->e.id);
        drop(k);
        if (last)
            return;             /* the box went with it */
    }
}

void offline_unsent(const char *user, size_t len, uint32_t tag)
{
    struct box *x = find(user, len);
    if (x && x->tag == tag)
        x->tag = NO_TAG;
}

size_t offline_count(void)
{
    return g.count;
}

size_t offline_bytes(void)
{
    return g.bytes;
}

size_t offline_users(void)
{
    return g.nboxes;
}

/* cluster_bus.c - the bus of routing with several nodes, as cluster.c
 * reads it: every message the routing script publishes comes back here, on
 * the subscriber connection, and goes to routing once, in id order. Where
 * the bus skipped some (its place numbers jump: a dropped subscriber, a
 * node stopped for a while), the bus is held while the histories are read
 * back, and what they have that was missed goes first. At start the same
 * reading gives the node every history. A Single has no history: one the
 * bus skipped is lost, as on a connection that drops. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_bus.h"

#define HOLD_MAX (64u << 20)    /* bus messages held while a gap is filled, bytes */
#define ROOMS_PAGE 1000         /* room names in one ZRANGE, within a reply's elements */

/* A bus message held while a gap before it is filled. */
struct held {
    struct held *next;
    size_t len;
    char text[];
};

static struct {
    struct loop *loop;
    struct redis *redis;
    const struct cluster_owner *owner;
    const char *node;           /* this node's id, to tell its own messages */
    bool ready;                 /* subscribed: the bus counts from here */
    uint64_t seq;               /* the last bus message's place on the bus; 0: none yet */
    uint64_t last_id;           /* the newest id delivered */
    int filling;                /* history reads still out while a gap is filled; 0: none */
    struct held *held, **held_tail; /* the bus while filling, oldest first */
    size_t held_bytes;
    struct cluster_msg *found;  /* what the reads found to fill the gap */
    char **found_text;          /* their bytes, one copy each */
    size_t nfound, found_cap;
    uint64_t received, gaps, lost;
} b;

/* Cuts the next '\n'-ended field off *p. */
static bool field(const char **p, const char *end, const char **f, size_t *len)
{
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    if (!nl)
        return false;
    *f = *p;
    *len = (size_t)(nl - *p);
    *p = nl + 1;
    return true;
}

static uint64_t number(const char *s, size_t len)
{
    char text[24];
    snprintf(text, sizeof text, "%.*s", (int)(len < 23 ? len : 23), s);
    return strtoull(text, NULL, 10);
}

/* "node\nsender\n..." into m's mine and from. */
static bool sender_fields(const char **p, const char *end, struct cluster_msg *m)
{
    const char *node, *sender;
    size_t nl, sl;
    if (!field(p, end, &node, &nl) || !field(p, end, &sender, &sl))
        return false;
    m->mine = nl == strlen(b.node) && memcmp(node, b.node, nl) == 0;
    char text[40];
    snprintf(text, sizeof text, "%.*s", (int)(sl < 39 ? sl : 39), sender);
    if (sscanf(text, "%u:%u", &m->from.conn, &m->from.serial) != 2)
        m->from = (struct cluster_sender){0, 0};
    return true;
}

/* A bus message, "op\nnode\nsender\ntarget\nid\nseq\njson", into m and
 * *seq; false for anything else. */
static bool parse_bus(const char *text, size_t len, struct cluster_msg *m, uint64_t *seq)
{
    const char *p = text, *end = text + len, *kind, *id, *s;
    size_t kl, il, sl;
    *m = (struct cluster_msg){0};
    if (!field(&p, end, &kind, &kl) || kl != 1 || !sender_fields(&p, end, m) ||
        !field(&p, end, &m->target, &m->target_len) || !field(&p, end, &id, &il) ||
        !field(&p, end, &s, &sl))
        return false;
    m->op = kind[0];
    m->id = number(id, il);
    *seq = number(s, sl);
    m->json = p;
    m->json_len = (size_t)(end - p);
    return true;
}

/* On to routing, once: the bus and the histories can both bring an id. */
static void deliver(const struct cluster_msg *m)
{
    if (m->id <= b.last_id)
        return;
    b.last_id = m->id;
    b.owner->deliver(m);
}

static void hold(const char *payload, size_t len)
{
    struct held *h = b.held_bytes + len <= HOLD_MAX ? malloc(sizeof *h + len) : NULL;
    if (!h) {
        b.lost++;         /* counted, never waited for without bound */
        return;
    }
    h->next = NULL;
    h->len = len;
    memcpy(h->text, payload, len);
    *b.held_tail = h;
    b.held_tail = &h->next;
    b.held_bytes += len;
}

static void on_bus(void *data, const char *channel, size_t channel_len, const char *payload,
                   size_t len)
{
    (void)data, (void)channel, (void)channel_len;
    struct cluster_msg m;
    uint64_t seq;
    if (!b.ready || !parse_bus(payload, len, &m, &seq))
        return;                 /* at start, before the histories: they hold it */
    b.received++;
    if (b.filling) {
        hold(payload, len);
        return;
    }
    bool skipped = b.seq && seq > b.seq + 1;
    b.seq = seq;
    if (skipped) {
        /* The subscriber lost some of the bus (a dropped connection, a
         * node stopped for a while): the histories have what had one. */
        hold(payload, len);
        bus_fill_gap();
        return;
    }
    deliver(&m);
}

/* ----------------------------------------------------- reading histories */

static int by_id(const void *a, const void *b)
{
    uint64_t x = ((const struct cluster_msg *)a)->id, y = ((const struct cluster_msg *)b)->id;
    return x < y ? -1 : x > y;
}

/* The gap is filled: what the histories had, in id order, then the bus
 * held meanwhile, in its order. */
static void gap_filled(void)
{
    if (b.nfound)
        qsort(b.found, b.nfound, sizeof *b.found, by_id);
    for (size_t i = 0; i < b.nfound; i++)
        deliver(&b.found[i]);
    for (size_t i = 0; i < b.nfound; i++)
        free(b.found_text[i]);
    free(b.found), free(b.found_text);
    b.found = NULL, b.found_text = NULL;
    b.nfound = b.found_cap = 0;
    while (b.held) {
        struct held *h = b.held;
        struct cluster_msg m;
        uint64_t seq;
        if (parse_bus(h->text, h->len, &m, &seq)) {
            b.seq = seq;
            deliver(&m);
        }
        b.held = h->next;
        free(h);
    }
    b.held_tail = &b.held;
    b.held_bytes = 0;
}

/* An entry of a history, "id\nnode\nsender\njson", kept for gap_filled. */
static void found(char op, const char *room, size_t room_len, const char *entry, size_t len)
{
    if (b.nfound == b.found_cap) {
        size_t cap = b.found_cap ? 2 * b.found_cap : 128;
        struct cluster_msg *f = realloc(b.found, cap * sizeof *f);
        if (f)
            b.found = f;
        char **t = f ? realloc(b.found_text, cap * sizeof *t) : NULL;
        if (!t)
            return;
        b.found_text = t;
        b.found_cap = cap;
    }
    char *copy = malloc(len + room_len + 1);
    if (!copy)
        return;
    memcpy(copy, entry, len);
    memcpy(copy + len, room, room_len);
    const char *p = copy, *end = copy + len, *id;
    size_t il;
    struct cluster_msg *m = &b.found[b.nfound];
    *m = (struct cluster_msg){.op = op, .target = copy + len, .target_len = room_len};
    if (!field(&p, end, &id, &il) || !sender_fields(&p, end, m) || (m->id = number(id, il)) <= b.last_id) {
        free(copy);
        return;
    }
    m->json = p;
    m->json_len = (size_t)(end - p);
    b.found_text[b.nfound++] = copy;
}

/* One LRANGE of a history, its room named after the struct. */
struct read {
    size_t room_len;
    char room[];
};

static void on_read(void *data, const struct resp_elem *reply, const char *failure)
{
    (void)failure;              /* what could not be read stays missed, as a Single does */
    struct read *r = data;
    for (size_t i = 1; reply && reply->type == RESP_ARRAY && i < reply->next; i++)
        if (reply[i].type == RESP_BULK)
            found(r->room_len ? CLUSTER_ROOM : CLUSTER_GROUP, r->room, r->room_len, reply[i].str,
                  reply[i].len);
    free(r);
    if (--b.filling == 0)
        gap_filled();
}

/* Asks for room's history (len 0: everyone's). */
static void read_history(const char *room, size_t len)
{
    struct read *r = malloc(sizeof *r + len);
    if (!r)
        return;
    r->room_len = len;
    memcpy(r->room, room, len);
    char key[16 + 64 + 1];
    int kl = len ? snprintf(key, sizeof key, "pusher:room:%.*s", (int)len, room)
                 : snprintf(key, sizeof key, "pusher:history");
    const char *argv[] = {"LRANGE", key, "0", "-1"};
    size_t lens[] = {6, (size_t)kl, 1, 2};
    if (redis_command(b.redis, 4, argv, lens, on_read, r))
        b.filling++;
    else
        free(r);
}

static void read_room(void *data, const char *room, size_t len)
{
    (void)data;
    read_history(room, len);
}

/* Reads back everyone's history and those of the rooms the node has
 * members in, then delivers what it has not delivered yet. */
void bus_fill_gap(void)
{
    if (b.filling || !b.ready)
        return;
    b.gaps++;
    b.filling = 1;              /* until every read is sent */
    read_history("", 0);
    b.owner->rooms(read_room, NULL);
    if (--b.filling == 0)
        gap_filled();
}

/* ---------------------------------------------------------------- start */

/* One page of the rooms with a history, least recently used first. */
struct page {
    bool done;
    size_t got;                 /* names in it */
    const char *failure;
};

static void on_rooms(void *data, const struct resp_elem *reply, const char *failure)
{
    struct page *p = data;
    p->done = true;
    if (!reply || reply->type != RESP_ARRAY) {
        p->failure = failure ? failure : "Redis did not list the rooms";
        return;
    }
    for (size_t i = 1; i < reply->next; i++)
        if (reply[i].type == RESP_BULK && reply[i].len > 0 && reply[i].len <= 64)
            read_history(reply[i].str, reply[i].len);
    p->got = reply->len;
}

int bus_start(struct loop *l, struct redis *r, const char *node, const struct cluster_owner *o,
              char *why, size_t cap)
{
    b.loop = l;
    b.redis = r;
    b.node = node;
    b.owner = o;
    b.held_tail = &b.held;
    if (redis_subscribe(r, "pusher:bus", 10, false, on_bus, NULL) < 0) {
        snprintf(why, cap, "cannot subscribe to pusher:bus");
        return -1;
    }
    b.ready = true;
    b.filling = 1;              /* the bus is held from here until the histories are read */
    /* Rooms first, the least recently used first, so the node forgets
     * them in the order Redis would; then everyone's. */
    for (size_t from = 0;; from += ROOMS_PAGE) {
        char start[24], stop[24];
        snprintf(start, sizeof start, "%zu", from);
        snprintf(stop, sizeof stop, "%zu", from + ROOMS_PAGE - 1);
        const char *argv[] = {"ZRANGE", "pusher:rooms", start, stop};
        size_t lens[] = {6, 12, strlen(start), strlen(stop)};
        struct page p = {0};
        if (!redis_command(r, 4, argv, lens, on_rooms, &p)) {
            snprintf(why, cap, "cannot list the rooms");
            return -1;
        }
        while (!p.done)
            loop_wait(l, 100);
        if (p.failure) {
            snprintf(why, cap, "%s", p.failure);
            return -1;
        }
        if (p.got < ROOMS_PAGE)
            break;
    }
    read_history("", 0);
    if (--b.filling == 0)
        gap_filled();
    while (b.filling)
        loop_wait(l, 100);
    return 0;
}

void bus_stats(struct cluster_stats *s)
{
    s->received = b.received;
    s->gaps = b.gaps;
    s->lost = b.lost;
}

/* store.c - what routing keeps (see store.h): the id counter, everyone's
 * history and, through rooms.c and offline.c, the rooms' histories and the
 * kept messages; what a newcomer is replayed from them; and their journal,
 * written as they change and read back at start. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "journal.h"
#include "offline.h"
#include "rooms.h"
#include "stats.h"
#include "store.h"

static struct {
    struct history history;     /* everyone's recent messages */
    uint64_t last_id;           /* the last id handed out */
    size_t replay_budget;       /* bytes a newcomer may be sent at once */
} g;

void store_init(size_t replay_budget)
{
    g.replay_budget = replay_budget;
}

uint64_t store_last_id(void)
{
    return g.last_id;
}

void store_deliver(struct conn *c, struct frame *f)
{
    conn_send(c, f);
    stats.messages_sent++;
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
    journal_ids(g.last_id);
    return g.last_id;
}

struct frame *store_encode(struct message *m)
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

char *store_json(struct message *m, size_t *len)
{
    int64_t now = now_ms();
    m->update_at = now;
    if (m->create_at == 0)
        m->create_at = now;
    m->id = 0;
    char *out = malloc(message_bound(m));
    if (out)
        *len = message_write(out, m);
    return out;
}

void store_seen_id(uint64_t id)
{
    if (id > g.last_id)
        g.last_id = id;
}

/* ------------------------------------------------------------ histories */

void store_remember(struct room *r, struct frame *f, uint64_t id)
{
    struct history *h = r ? rooms_history(r) : &g.history;
    if (!h)
        return;                 /* out of memory: the room goes without */
    size_t len = 0;
    const char *name = r ? rooms_name(r, &len) : "";
    history_add(h, f, id);
    journal_history(name, len, f, id);
}

/* Sends the everyone history newer than since and up to upto, oldest
 * first, within the replay budget. */
static void replay(struct conn *c, uint64_t since, uint64_t upto)
{
    uint32_t first;
    history_since(&g.history, since, g.replay_budget, &first);
    for (uint32_t i = first; i < g.history.len && history_at(&g.history, i)->id <= upto; i++)
        store_deliver(c, history_at(&g.history, i)->frame);
}

void store_replay_room(struct conn *c, struct room *r, uint64_t since)
{
    if (!rooms_history_if_any(r))
        return;
    const struct history *h = rooms_history(r); /* a join is a use */
    uint32_t first;
    history_since(h, since, g.replay_budget, &first);
    for (uint32_t i = first; i < h->len; i++)
        store_deliver(c, history_at(h, i)->frame);
}

/* ------------------------------------------------- what a newcomer gets */

/* Adds every entry of h newer than since, up to upto, to v. */
static void collect(const struct history *h, uint64_t since, uint64_t upto,
                    const struct history_entry **v, size_t *n)
{
    for (uint32_t i = 0; h && i < h->len; i++)
        if (history_at(h, i)->id > since && history_at(h, i)->id <= upto)
            v[(*n)++] = history_at(h, i);
}

static int by_id(const void *a, const void *b)
{
    uint64_t x = (*(const struct history_entry *const *)a)->id;
    uint64_t y = (*(const struct history_entry *const *)b)->id;
    return x < y ? -1 : x > y;
}

void store_replay(struct conn *c, const char *user, size_t len, uint64_t since)
{
    store_replay_upto(c, user, len, since, UINT64_MAX);
}

void store_replay_upto(struct conn *c, const char *user, size_t len, uint64_t since,
                       uint64_t upto)
{
    struct room *const *rooms;
    size_t nrooms = rooms_of(c, &rooms);
    offline_expire(now_ms());
    size_t nkept = offline_list(user, len, since, NULL, 0);
    if (nrooms == 0 && nkept == 0) {
        replay(c, since, upto);
        return;
    }
    const struct history_entry **v = malloc((HISTORY_LEN * (1 + nrooms) + nkept) * sizeof *v);
    if (!v) {
        replay(c, since, upto); /* the everyone history, at least */
        return;
    }
    size_t n = offline_list(user, len, since, v, nkept);
    uint64_t kept_hi = n ? v[n - 1]->id : 0;
    collect(&g.history, since, upto, v, &n);
    for (size_t i = 0; i < nrooms; i++)
        if (rooms_history_if_any(rooms[i]))  /* a use, which forgets no other room's */
            collect(rooms_history(rooms[i]), since, upto, v, &n);
    qsort(v, n, sizeof *v, by_id);
    size_t first = n, bytes = 0;
    while (first > 0 && bytes + v[first - 1]->frame->len <= g.replay_budget)
        bytes += v[--first]->frame->len;
    for (size_t i = first; i < n; i++)
        store_deliver(c, v[i]->frame);
    if (first < n && kept_hi >= v[first]->id) {
        offline_sending(user, len, (uint32_t)conn_id(c), v[first]->id, kept_hi);
        conn_notify_written(c);
    }
    free(v);
}

int store_keep(const struct message *m, struct frame *f)
{
    if (offline_keep(m->to.p, m->to.len, f, (uint64_t)m->id, m->update_at) < 0)
        return -1;
    journal_kept(m->to.p, m->to.len, f, (uint64_t)m->id);
    return 0;
}

void store_expire(void)
{
    offline_expire(now_ms());
}

/* ------------------------------------------------------------ journal */

/* Start-up gives back what the journal holds, in the order it was written:
 * the histories fill their rings (rooms in the order of their last use),
 * the kept messages their boxes under today's limits, and ids go on above
 * every one seen. */
static void restore_history(const char *room, size_t len, struct frame *f, uint64_t id)
{
    struct room *r = len ? rooms_get(room, len) : NULL;
    struct history *h = len ? (r ? rooms_history(r) : NULL) : &g.history;
    if (h)
        history_add(h, f, id);
    store_seen_id(id);
}

static void restore_kept(const char *user, size_t len, struct frame *f, uint64_t id)
{
    offline_keep(user, len, f, id, (int64_t)(id / 1000)); /* ids are the clock in µs */
    store_seen_id(id);
}

static void restore_forget(const char *user, size_t len, uint64_t id)
{
    offline_forget(user, len, id);
}

static void dump_room(const struct room *r, const struct history *h)
{
    size_t len;
    const char *name = rooms_name(r, &len);
    for (uint32_t i = 0; i < h->len; i++)
        journal_history(name, len, history_at(h, i)->frame, history_at(h, i)->id);
}

/* A rewrite: all that is live, in an order whose replay rebuilds it. */
static void dump(void)
{
    journal_ids(g.last_id);
    for (uint32_t i = 0; i < g.history.len; i++)
        journal_history("", 0, history_at(&g.history, i)->frame, history_at(&g.history, i)->id);
    rooms_each_history(dump_room);
    offline_each(journal_kept);
}

/* What a rewrite writes, near enough: the frames and a line's overhead each. */
static size_t live_bytes(void)
{
    size_t bytes, entries;
    history_totals(&bytes, &entries);
    return bytes + offline_bytes() + (entries + offline_count()) * 64;
}

static const struct journal_owner owner = {
    .history = restore_history,
    .kept = restore_kept,
    .forget = restore_forget,
    .id_mark = store_seen_id,
    .dump = dump,
    .live_bytes = live_bytes,
};

const struct journal_owner *store_journal_owner(void)
{
    return &owner;
}

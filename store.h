/* store.h - what routing keeps: the id counter, the histories (everyone's
 * here, the rooms' through rooms.c), the messages kept for offline users
 * (offline.c), what a connection is replayed from them as it opens or joins
 * a room, and their journal (journal.c), written as they change and read
 * back at start. connmgr.c decides where messages go; this file remembers. */
#ifndef STORE_H
#define STORE_H

#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "message.h"
#include "rooms.h"

/* replay_budget: the bytes a connection may be sent at once as it opens. */
void store_init(size_t replay_budget);

/* Stamps m (updateAt, createAt when unset, a new id) and encodes it once,
 * into the frame all its recipients share; NULL when out of memory. */
struct frame *store_encode(struct message *m);
/* Stamps m as store_encode does but with id 0 (with --redis, the routing
 * script gives the id) and writes its JSON into a new buffer of *len bytes
 * (free it); NULL when out of memory. */
char *store_json(struct message *m, size_t *len);
/* An id given elsewhere (the routing script) was seen. */
void store_seen_id(uint64_t id);
/* The last id handed out. */
uint64_t store_last_id(void);
/* Queues f for c, counted as sent: how every message leaves routing. */
void store_deliver(struct conn *c, struct frame *f);

/* Keeps f, the message of that id, in r's history (NULL: everyone's). */
void store_remember(struct room *r, struct frame *f, uint64_t id);
/* Keeps the encoded Single m for its offline user. 0, or -1 (none kept). */
int store_keep(const struct message *m, struct frame *f);
/* Forgets the kept messages past --offline-ttl now. */
void store_expire(void);

/* What c, a new connection of user[0..len), is sent as it opens
 * (PROTOCOL.md "Recent history", "Offline messages"): the everyone history,
 * those of the rooms it joined at connect and the user's kept messages,
 * merged in id order, newer than since, the newest that fit in the budget.
 * The kept ones sent are forgotten once written (offline_sent); older ones
 * that did not fit stay kept. */
void store_replay(struct conn *c, const char *user, size_t len, uint64_t since);
/* The same with no history entry above upto: with several nodes, what came
 * after was held for c while its kept messages were fetched, and follows. */
void store_replay_upto(struct conn *c, const char *user, size_t len, uint64_t since,
                       uint64_t upto);
/* r's history newer than since, oldest first, within the budget: a join. */
void store_replay_room(struct conn *c, struct room *r, uint64_t since);

/* What the journal replays into, and rewrites from. */
struct journal_owner;
const struct journal_owner *store_journal_owner(void);

#endif

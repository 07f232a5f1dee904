/* rooms.h - the rooms of routing (PROTOCOL.md "Rooms"): a table of rooms by
 * name, which connections are in each, and each room's recent history, the
 * least recently used forgotten first past a limit. It knows connections by
 * conn_id() and nothing of users or messages: connmgr.c routes. */
#ifndef ROOMS_H
#define ROOMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "history.h"

struct room;

/* For conn_id()s below max_ids, each in at most max_per_conn rooms, with the
 * histories of at most max_histories rooms kept. 0, or -1 out of memory. */
int rooms_init(size_t max_ids, size_t max_per_conn, size_t max_histories);

/* The room called name[0..len), or NULL where there is none. */
struct room *rooms_find(const char *name, size_t len);
/* The room called name, made where there is none; NULL when out of memory. */
struct room *rooms_get(const char *name, size_t len);
const char *rooms_name(const struct room *r, size_t *len);

enum { ROOMS_OK = 0, ROOMS_NO_MEMORY = -1, ROOMS_ALREADY_IN = -2, ROOMS_TOO_MANY = -3,
       ROOMS_NOT_IN = -4 };
/* Puts c in r (ROOMS_OK) or says why not. */
int rooms_join(struct conn *c, struct room *r);
/* Takes c out of r (ROOMS_OK, or ROOMS_NOT_IN); r may be freed then. */
int rooms_leave(struct conn *c, struct room *r);
bool rooms_has(const struct conn *c, const struct room *r);
/* The rooms c is in: their number, and *rooms (valid until c next joins or
 * leaves one). */
size_t rooms_of(const struct conn *c, struct room *const **rooms);

/* The connections in r, as conn_id()s. */
uint32_t rooms_members(const struct room *r, const uint32_t **ids);
/* r's history, made where it has none (NULL when out of memory), and r
 * becomes the most recently used; past max_histories the least recently
 * used history is forgotten (and its room, if empty). */
struct history *rooms_history(struct room *r);
/* r's history where it has one, else NULL; r's place in the order stays. */
const struct history *rooms_history_if_any(const struct room *r);

/* Calls fn for every room with a history, the least recently used first. */
void rooms_each_history(void (*fn)(const struct room *r, const struct history *h));

size_t rooms_open(void);        /* rooms with a connection in them */
size_t rooms_memberships(void); /* connections in rooms, counted once per room */

#endif

/* offline.h - the kept messages (PROTOCOL.md "Offline messages"): Singles
 * for users with no open connection, each one frame as it was encoded,
 * bounded by a count per user, an age and the bytes of all, the oldest
 * going first. It knows frames, ids and names, not connections: routing
 * says when kept messages are on their way and when they were written. */
#ifndef OFFLINE_H
#define OFFLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "history.h"

struct offline_limits {
    size_t per_user;            /* --offline-max; 0 keeps nothing */
    int64_t ttl_ms;             /* --offline-ttl */
    size_t bytes;               /* --offline-bytes, of frames, for all users */
    /* Told of each message forgotten as seen (offline_list's since, and
     * offline_sent), not of those dropped for a limit, which replaying
     * the same keeps under the same limits drops again (the journal). */
    void (*forgotten)(const char *user, size_t len, uint64_t id);
};

/* Sets the limits (again, in tests: what is kept stays). */
void offline_init(const struct offline_limits *l);
/* Are messages kept at all (--offline-max above 0)? */
bool offline_enabled(void);
/* How many a user may have kept (--offline-max). */
size_t offline_per_user(void);
/* Keeps f (taking a reference), the message of that id made at at_ms, for
 * user[0..len), dropping the oldest where a limit says so. 0, or -1 when
 * nothing may be kept (--offline-max 0, a frame over --offline-bytes) or
 * out of memory. */
int offline_keep(const char *user, size_t len, struct frame *f, uint64_t id, int64_t at_ms);
/* Drops what has passed the age limit at now_ms. */
void offline_expire(int64_t now_ms);
/* Forgets the user's kept message of that id, if it is kept. */
void offline_forget(const char *user, size_t len, uint64_t id);
/* Calls fn for every kept message, the oldest first. */
void offline_each(void (*fn)(const char *user, size_t len, struct frame *f, uint64_t id));

/* Forgets the user's kept messages with an id at or below since (a
 * connection that says it saw them), fills v with up to cap of the rest,
 * oldest first, and returns how many the rest are (cap 0 only counts).
 * The entries stay good until the next call into this file. */
size_t offline_list(const char *user, size_t len, uint64_t since,
                    const struct history_entry **v, size_t cap);
/* The user's kept messages with ids from lo to hi are on their way through
 * tag (a connection), the only one: a later call replaces it. */
void offline_sending(const char *user, size_t len, uint32_t tag, uint64_t lo, uint64_t hi);
/* Tag's bytes were written: what it carried is forgotten. */
void offline_sent(const char *user, size_t len, uint32_t tag);
/* Tag ended before that: what it carried stays kept. */
void offline_unsent(const char *user, size_t len, uint32_t tag);

/* Takes away the user's kept messages that are not on their way, calling
 * fn for each, oldest first (with several nodes, they go back to Redis). */
typedef void offline_take_fn(void *data, struct frame *f, uint64_t id);
void offline_take(const char *user, size_t len, offline_take_fn *fn, void *data);
size_t offline_count(void);     /* messages kept */
size_t offline_bytes(void);     /* their frames' bytes */
size_t offline_users(void);     /* users with one at least */

#endif

/* history.h - recent messages: the last HISTORY_LEN frames of a chat (the
 * everyone one, or a room), replayed to whoever comes in. */
#ifndef HISTORY_H
#define HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"

#define HISTORY_LEN 100         /* messages kept, the oldest going first */

struct history_entry {
    struct frame *frame;        /* shared with everyone it was sent to */
    uint64_t id;                /* the message's id, for since= */
};

struct history {
    struct history_entry e[HISTORY_LEN]; /* a ring, oldest at start */
    uint32_t start, len;
};

/* Keeps f (taking a reference) as the newest entry. */
void history_add(struct history *h, struct frame *f, uint64_t id);
/* Drops every entry. */
void history_clear(struct history *h);
/* The entries newer than since that fit in budget bytes, newest kept first:
 * sets *first to the oldest of them (an index for history_at) and returns
 * their bytes. */
size_t history_since(const struct history *h, uint64_t since, size_t budget, uint32_t *first);
/* The bytes and entries of all histories together. */
void history_totals(size_t *bytes, size_t *entries);
/* The i-th entry, oldest first (i < h->len). */
const struct history_entry *history_at(const struct history *h, uint32_t i);

#endif

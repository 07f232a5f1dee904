/* deadline.h - deadline lists: thousands of timeouts on one loop timer.
 *
 * Every member of a list has the same timeout, counted from a time that only
 * grows along the list (each joins at its tail), so the earliest deadline of
 * a list is always at its head: one timer for the earliest head serves them
 * all, and no wake-up scans every member. What has a deadline embeds a
 * struct deadline. */
#ifndef DEADLINE_H
#define DEADLINE_H

#include <stdint.h>

#include "loop.h"

#define DEADLINE_NONE UINT8_MAX /* struct deadline's list when it is on none */

struct deadline {
    struct deadline *prev, *next; /* neighbours on its list */
    uint32_t since;             /* deadline_now() it counts from */
    uint8_t list;               /* the list it is on, or DEADLINE_NONE */
};

/* expired(d, list) is called for each member whose deadline passed, after
 * taking it off its list. */
void deadline_init(struct loop *l, void (*expired)(struct deadline *d, int list));
/* A new list whose members expire timeout_ms after their since; its number. */
int deadline_list(uint32_t timeout_ms);
/* Puts d at the tail of list, counting from since (deadline_now(), or an
 * earlier time: since must not decrease along a list). */
void deadline_set(struct deadline *d, int list, uint32_t since);
void deadline_clear(struct deadline *d);
/* The first member of list, or NULL; the rest follow by next. */
struct deadline *deadline_first(int list);
int deadline_lists(void);
/* Milliseconds on the deadlines' clock: 32 bits, compared by difference,
 * which stays right across the wrap since no timeout is longer than a day. */
uint32_t deadline_now(void);

#endif

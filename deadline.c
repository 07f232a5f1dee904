/* deadline.c - deadline lists on one loop timer (see deadline.h). */
#include <stdlib.h>

#include "deadline.h"

#define MAX_LISTS 4             /* a few owners ask for one each, once */

struct list {
    struct deadline *head, *tail;
    uint32_t timeout_ms;        /* the same for every member */
};

static struct {
    struct loop *loop;
    void (*expired)(struct deadline *d, int list);
    struct list lists[MAX_LISTS];
    int nlists;
    struct loop_timer timer;    /* armed for the earliest head */
    int64_t epoch;              /* loop time the clock counts from */
} g;

uint32_t deadline_now(void)
{
    return (uint32_t)(loop_now(g.loop) - g.epoch);
}

/* Milliseconds until the head of l is due (<= 0: due now). */
static int64_t due_in(const struct list *l)
{
    uint32_t elapsed = deadline_now() - l->head->since;
    return (int64_t)l->timeout_ms - (int64_t)elapsed;
}

static void arm(int64_t when)
{
    if (!g.timer.armed || when < g.timer.when)
        loop_timer_arm(g.loop, &g.timer, when);
}

void deadline_clear(struct deadline *d)
{
    if (d->list == DEADLINE_NONE)
        return;
    struct list *l = &g.lists[d->list];
    if (d->prev)
        d->prev->next = d->next;
    else
        l->head = d->next;
    if (d->next)
        d->next->prev = d->prev;
    else
        l->tail = d->prev;
    d->prev = d->next = NULL;
    d->list = DEADLINE_NONE;
}

void deadline_set(struct deadline *d, int which, uint32_t since)
{
    deadline_clear(d);
    struct list *l = &g.lists[which];
    d->list = (uint8_t)which;
    d->since = since;
    d->prev = l->tail;
    d->next = NULL;
    if (l->tail)
        l->tail->next = d;
    else
        l->head = d;
    l->tail = d;
    arm(loop_now(g.loop) + (int64_t)l->timeout_ms - (int64_t)(uint32_t)(deadline_now() - since));
}

static void on_timer(struct loop *l, void *data)
{
    (void)l;
    (void)data;
    int64_t next = INT64_MAX;
    for (int i = 0; i < g.nlists; i++) {
        struct list *list = &g.lists[i];
        while (list->head && due_in(list) <= 0) {
            struct deadline *d = list->head;
            deadline_clear(d);
            g.expired(d, i);
        }
        if (list->head && due_in(list) < next)
            next = due_in(list);
    }
    if (next != INT64_MAX)
        arm(loop_now(g.loop) + next);
}

void deadline_init(struct loop *l, void (*expired)(struct deadline *d, int list))
{
    g.loop = l;
    g.expired = expired;
    g.epoch = loop_now(l);
    g.timer = (struct loop_timer){.fn = on_timer};
}

int deadline_list(uint32_t timeout_ms)
{
    if (g.nlists == MAX_LISTS)
        abort();                /* a broken invariant: the owners are few and fixed */
    g.lists[g.nlists].timeout_ms = timeout_ms;
    return g.nlists++;
}

struct deadline *deadline_first(int list)
{
    return g.lists[list].head;
}

int deadline_lists(void)
{
    return g.nlists;
}

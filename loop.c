/* loop.c - the event loop: the fd table, dispatch, and timers.
 *
 * The design is Redis's ae: a table indexed by fd holds each descriptor's
 * callback and interest mask; a backend (loop_poll.c, loop_epoll.c) waits
 * and reports which descriptors are ready. Timers are few (the connection
 * layer keeps its thousands of deadlines in FIFO lists and arms one timer for
 * the earliest), so a sorted list is all they need. */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "loop.h"
#include "loop_backend.h"

struct loop_fd {
    loop_io_fn *fn;             /* callback, NULL when the slot is free */
    void *data;                 /* handed to fn */
    int mask;                   /* LOOP_READ | LOOP_WRITE interest */
};

struct loop {
    const struct loop_backend_ops *ops; /* the OS mechanism */
    void *backend;              /* its state */
    struct loop_fd *fds;        /* indexed by fd, max_fds entries */
    struct loop_fired *fired;   /* filled by the backend each turn */
    int max_fds;                /* size of both arrays */
    int64_t now;                /* monotonic ms at the start of this turn */
    struct loop_timer *timers;  /* armed timers, earliest first */
    loop_turn_fn *before_sleep; /* run before each wait, or NULL */
    void *before_sleep_data;    /* handed to it */
};

static int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct loop *loop_create(int max_fds, enum loop_backend backend)
{
    struct loop *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->ops = backend == BACKEND_POLL ? &loop_poll_ops : &loop_epoll_ops;
    l->max_fds = max_fds;
    l->fds = calloc((size_t)max_fds, sizeof *l->fds);
    l->fired = calloc((size_t)max_fds, sizeof *l->fired);
    l->backend = l->ops->create(max_fds);
    if (!l->fds || !l->fired || !l->backend)
        goto fail;
    l->now = monotonic_ms();
    return l;
fail:
    loop_destroy(l);
    return NULL;
}

void loop_destroy(struct loop *l)
{
    if (!l)
        return;
    if (l->backend)
        l->ops->destroy(l->backend);
    free(l->fds);
    free(l->fired);
    free(l);
}

const char *loop_backend_name(const struct loop *l)
{
    return l->ops->name;
}

int loop_add(struct loop *l, int fd, int mask, loop_io_fn *fn, void *data)
{
    if (fd < 0 || fd >= l->max_fds) {
        errno = ERANGE;
        return -1;
    }
    if (l->ops->set(l->backend, fd, 0, mask) < 0)
        return -1;
    l->fds[fd] = (struct loop_fd){.fn = fn, .data = data, .mask = mask};
    return 0;
}

int loop_modify(struct loop *l, int fd, int mask)
{
    struct loop_fd *e = &l->fds[fd];
    if (e->mask == mask)
        return 0;
    if (l->ops->set(l->backend, fd, e->mask, mask) < 0)
        return -1;
    e->mask = mask;
    return 0;
}

void loop_remove(struct loop *l, int fd)
{
    struct loop_fd *e = &l->fds[fd];
    if (!e->fn)
        return;
    l->ops->set(l->backend, fd, e->mask, 0);
    *e = (struct loop_fd){0};
}

void loop_timer_cancel(struct loop *l, struct loop_timer *t)
{
    if (!t->armed)
        return;
    for (struct loop_timer **p = &l->timers; *p; p = &(*p)->next) {
        if (*p == t) {
            *p = t->next;
            break;
        }
    }
    t->armed = 0;
}

void loop_timer_arm(struct loop *l, struct loop_timer *t, int64_t when)
{
    loop_timer_cancel(l, t);
    t->when = when;
    struct loop_timer **p = &l->timers;
    while (*p && (*p)->when <= when)
        p = &(*p)->next;
    t->next = *p;
    *p = t;
    t->armed = 1;
}

int64_t loop_now(const struct loop *l)
{
    return l->now;
}

static void run_timers(struct loop *l)
{
    /* A timer callback may re-arm itself or others, so take one at a time
     * from the head rather than walking a list that changes under us. */
    while (l->timers && l->timers->when <= l->now) {
        struct loop_timer *t = l->timers;
        l->timers = t->next;
        t->armed = 0;
        t->fn(l, t->data);
    }
}

void loop_before_sleep(struct loop *l, loop_turn_fn *fn, void *data)
{
    l->before_sleep = fn;
    l->before_sleep_data = data;
}

int loop_wait(struct loop *l, int timeout_ms)
{
    if (l->before_sleep)
        l->before_sleep(l, l->before_sleep_data);
    if (l->timers) {
        int64_t until = l->timers->when - monotonic_ms();
        if (until < 0)
            until = 0;
        if (timeout_ms < 0 || until < timeout_ms)
            timeout_ms = (int)until;
    }
    int n = l->ops->wait(l->backend, timeout_ms, l->fired, l->max_fds);
    l->now = monotonic_ms();
    for (int i = 0; i < n; i++) {
        struct loop_fired *f = &l->fired[i];
        struct loop_fd *e = &l->fds[f->fd];
        /* An earlier callback of this turn may have dropped interest. */
        int mask = f->mask & e->mask;
        if (mask && e->fn)
            e->fn(l, f->fd, e->data, mask);
    }
    run_timers(l);
    return n;
}

/* loop.h - the event loop: file descriptors, callbacks and timers.
 *
 * Four calls (add, modify, remove, wait) over a table indexed by fd, as in
 * Redis's ae; the OS mechanism (poll or epoll) is a backend behind it. The
 * loop knows nothing of HTTP or WebSocket. */
#ifndef LOOP_H
#define LOOP_H

#include <stdint.h>

enum { LOOP_READ = 1, LOOP_WRITE = 2 };
/* The OS mechanism. uring waits as epoll does; what it changes is how the
 * connections' writes go out (conn_batch_writes), not the loop. */
enum loop_backend { BACKEND_POLL, BACKEND_EPOLL, BACKEND_URING };

struct loop;
typedef void loop_io_fn(struct loop *l, int fd, void *data, int mask);
typedef void loop_timer_fn(struct loop *l, void *data);
typedef void loop_turn_fn(struct loop *l, void *data);

/* A timer is owned by its caller and linked into the loop while armed. */
struct loop_timer {
    int64_t when;               /* deadline, loop_now() milliseconds */
    loop_timer_fn *fn;          /* called once when the deadline passes */
    void *data;                 /* handed to fn */
    struct loop_timer *next;    /* the loop's list, sorted by deadline */
    int armed;                  /* linked into the list? */
};

struct loop *loop_create(int max_fds, enum loop_backend backend);
void loop_destroy(struct loop *l);
const char *loop_backend_name(const struct loop *l);

int loop_add(struct loop *l, int fd, int mask, loop_io_fn *fn, void *data);
int loop_modify(struct loop *l, int fd, int mask);
void loop_remove(struct loop *l, int fd);

/* Runs the before-sleep hook, waits at most timeout_ms (or until the next
 * timer), then runs the callbacks of the ready descriptors and of the
 * expired timers. Returns the
 * number of ready descriptors, 0 when interrupted by a signal. */
int loop_wait(struct loop *l, int timeout_ms);

/* fn runs at the start of every loop_wait, before it sleeps (Redis's
 * beforesleep): where the work of the last turn is finished, such as
 * writing out the output its callbacks queued. One hook; NULL removes it. */
void loop_before_sleep(struct loop *l, loop_turn_fn *fn, void *data);

/* Arms (or re-arms) t to fire at when; cancels it. */
void loop_timer_arm(struct loop *l, struct loop_timer *t, int64_t when);
void loop_timer_cancel(struct loop *l, struct loop_timer *t);

/* Monotonic milliseconds, read once per loop turn so every callback of one
 * turn agrees on "now" and no callback pays for a clock read. */
int64_t loop_now(const struct loop *l);

#endif

/* loop_backend.h - what an OS backend of the event loop provides (private to
 * loop.c and the backends). Each backend is one file with these few
 * functions, filling one array of fired {fd, mask}. */
#ifndef LOOP_BACKEND_H
#define LOOP_BACKEND_H

struct loop_fired {
    int fd;                     /* ready descriptor */
    int mask;                   /* LOOP_READ and/or LOOP_WRITE */
};

struct loop_backend_ops {
    const char *name;
    void *(*create)(int max_fds);
    void (*destroy)(void *state);
    /* Sets the interest mask of fd (0 removes it); old is its previous mask. */
    int (*set)(void *state, int fd, int old, int mask);
    /* Waits and fills fired; returns how many, 0 on timeout or EINTR. */
    int (*wait)(void *state, int timeout_ms, struct loop_fired *fired, int max);
};

extern const struct loop_backend_ops loop_poll_ops;
extern const struct loop_backend_ops loop_epoll_ops;

#endif

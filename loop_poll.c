/* loop_poll.c - the portable poll(2) backend of the event loop.
 *
 * poll() takes a dense array, so the backend keeps one (pfds) plus the index
 * of each fd in it; removing swaps the last entry into the hole. The cost of
 * poll() grows with the number of descriptors on every wake-up, which is why
 * Linux builds default to the epoll backend. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>

#include "loop.h"
#include "loop_backend.h"

struct poll_state {
    struct pollfd *pfds;        /* dense array handed to poll() */
    int *index;                 /* fd -> position in pfds, -1 when absent */
    int count;                  /* entries in use */
};

static void *poll_create(int max_fds)
{
    struct poll_state *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->pfds = calloc((size_t)max_fds, sizeof *s->pfds);
    s->index = malloc((size_t)max_fds * sizeof *s->index);
    if (!s->pfds || !s->index) {
        free(s->pfds);
        free(s->index);
        free(s);
        return NULL;
    }
    for (int i = 0; i < max_fds; i++)
        s->index[i] = -1;
    return s;
}

static void poll_destroy(void *state)
{
    struct poll_state *s = state;
    free(s->pfds);
    free(s->index);
    free(s);
}

static short poll_events(int mask)
{
    return (short)((mask & LOOP_READ ? POLLIN : 0) | (mask & LOOP_WRITE ? POLLOUT : 0));
}

static int poll_set(void *state, int fd, int old, int mask)
{
    struct poll_state *s = state;
    (void)old;
    int i = s->index[fd];
    if (mask == 0) {
        if (i < 0)
            return 0;
        s->pfds[i] = s->pfds[--s->count];
        s->index[s->pfds[i].fd] = i;
        s->index[fd] = -1;
        return 0;
    }
    if (i < 0) {
        i = s->count++;
        s->index[fd] = i;
        s->pfds[i].fd = fd;
    }
    s->pfds[i].events = poll_events(mask);
    s->pfds[i].revents = 0;
    return 0;
}

static int poll_wait(void *state, int timeout_ms, struct loop_fired *fired, int max)
{
    struct poll_state *s = state;
    int n = poll(s->pfds, (nfds_t)s->count, timeout_ms);
    if (n <= 0)
        return 0;
    int out = 0;
    for (int i = 0; i < s->count && out < max; i++) {
        short re = s->pfds[i].revents;
        if (!re)
            continue;
        int mask = 0;
        /* An error or hang-up is reported as readable and writable, so the
         * owner's next read() or write() meets it and closes. */
        if (re & (POLLIN | POLLERR | POLLHUP))
            mask |= LOOP_READ;
        if (re & (POLLOUT | POLLERR | POLLHUP))
            mask |= LOOP_WRITE;
        fired[out++] = (struct loop_fired){.fd = s->pfds[i].fd, .mask = mask};
    }
    return out;
}

const struct loop_backend_ops loop_poll_ops = {
    .name = "poll",
    .create = poll_create,
    .destroy = poll_destroy,
    .set = poll_set,
    .wait = poll_wait,
};

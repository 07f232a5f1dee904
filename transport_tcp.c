/* transport_tcp.c - the plain TCP transport: the system calls themselves. */
#include <sys/socket.h>
#include <unistd.h>

#include "transport.h"

static ssize_t tcp_read(int fd, void *state, void *buf, size_t len)
{
    (void)state;
    return read(fd, buf, len);
}

/* One piece goes by write(), which skips writev's walk of an iovec array
 * in the kernel: most writes under light load carry a single frame. */
static ssize_t tcp_writev(int fd, void *state, const struct iovec *iov, int n)
{
    (void)state;
    return n == 1 ? write(fd, iov[0].iov_base, iov[0].iov_len) : writev(fd, iov, n);
}

static int tcp_wants(void *state)
{
    (void)state;
    return 0;                   /* TCP reads and writes when asked */
}

static void tcp_shutdown(int fd, void *state)
{
    (void)state;
    shutdown(fd, SHUT_WR);
}

static void tcp_close(int fd, void *state)
{
    (void)state;
    close(fd);
}

const struct transport transport_tcp = {
    .name = "tcp",
    .read = tcp_read,
    .writev = tcp_writev,
    .wants = tcp_wants,
    .shutdown = tcp_shutdown,
    .close = tcp_close,
};

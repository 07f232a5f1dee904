/* transport_tcp.c - the plain TCP transport: the system calls themselves. */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport.h"

static ssize_t tcp_read(int fd, void *state, void *buf, size_t len)
{
    (void)state;
    return read(fd, buf, len);
}

#define GATHER_MAX 16384         /* bytes copied together for one send() */

/* Small pieces are copied together and go by one send(): a broadcast's
 * write carries a few frames of a few hundred bytes, and a copy of them
 * costs less than writev's way through the kernel (the file layer, the
 * iovec array brought in and walked). A large piece goes by itself. */
static ssize_t tcp_writev(int fd, void *state, const struct iovec *iov, int n)
{
    (void)state;
    static char gather[GATHER_MAX];
    if (n == 1 || iov[0].iov_len >= GATHER_MAX)
        return send(fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL);
    size_t len = 0;
    for (int i = 0; i < n && len + iov[i].iov_len <= GATHER_MAX; i++) {
        memcpy(gather + len, iov[i].iov_base, iov[i].iov_len);
        len += iov[i].iov_len;
    }
    return send(fd, gather, len, MSG_NOSIGNAL);
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

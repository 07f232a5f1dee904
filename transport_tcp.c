/* transport_tcp.c - the plain TCP transport: the system calls themselves,
 * one by one, or (--backend uring) a turn's writes all at once. */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport.h"
#include "uring.h"

static ssize_t tcp_read(int fd, void *state, void *buf, size_t len)
{
    (void)state;
    return read(fd, buf, len);
}

#define GATHER_MAX 16384         /* bytes copied together for one send() */
#define RING_BYTES (256 << 10)   /* room for a batch's copied pieces */

/* Small pieces are copied together and go by one send(): a broadcast's
 * write carries a few frames of a few hundred bytes, and a copy of them
 * costs less than writev's way through the kernel (the file layer, the
 * iovec array brought in and walked). A large piece goes by itself.
 * Answers the bytes to send: at `to`, or the first piece's own. */
static const void *gather(char *to, const struct iovec *iov, int n, size_t *len)
{
    if (n == 1 || iov[0].iov_len >= GATHER_MAX) {
        *len = iov[0].iov_len;
        return iov[0].iov_base;
    }
    *len = 0;
    for (int i = 0; i < n && *len + iov[i].iov_len <= GATHER_MAX; i++) {
        memcpy(to + *len, iov[i].iov_base, iov[i].iov_len);
        *len += iov[i].iov_len;
    }
    return to;
}

static ssize_t tcp_writev(int fd, void *state, const struct iovec *iov, int n)
{
    (void)state;
    static char buf[GATHER_MAX];
    size_t len;
    const void *bytes = gather(buf, iov, n, &len);
    return send(fd, bytes, len, MSG_NOSIGNAL);
}

/* The ring, and the bytes copied for the sends it holds. */
static struct {
    struct uring *ring;
    size_t used;                /* of bytes */
    char bytes[RING_BYTES];     /* untouched, so not resident, until used */
} batch;

int transport_tcp_use_ring(unsigned entries)
{
    batch.ring = uring_create(entries);
    return batch.ring ? 0 : -1;
}

static bool tcp_write_later(int fd, void *state, const struct iovec *iov, int n, uint32_t tag)
{
    (void)state;
    if (!batch.ring || batch.used + GATHER_MAX > RING_BYTES)
        return false;
    size_t len;
    const void *bytes = gather(batch.bytes + batch.used, iov, n, &len);
    if (!uring_send(batch.ring, fd, bytes, len, tag))
        return false;
    if (bytes != iov[0].iov_base)
        batch.used += len;
    return true;
}

void transport_write_queued(void (*done)(uint32_t tag, ssize_t result, void *arg), void *arg)
{
    if (batch.ring)
        uring_run(batch.ring, done, arg);
    batch.used = 0;
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
    .write_later = tcp_write_later,
    .wants = tcp_wants,
    .shutdown = tcp_shutdown,
    .close = tcp_close,
};

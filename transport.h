/* transport.h - how bytes cross a connection's socket: plain TCP
 * (transport_tcp.c) or TLS (transport_tls.c), the same calls side by side
 * as Redis's connection.h puts TLS beside TCP, so the transport above
 * (conn.c) and everything over it neither know nor care which one a
 * connection uses.
 *
 * Each call gets the socket and the connection's own state for this
 * transport (NULL for TCP; a TLS session for TLS), and answers as read(2)
 * and writev(2) do: -1 with errno EAGAIN where the socket would block. */
#ifndef TRANSPORT_H
#define TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct transport {
    const char *name;
    ssize_t (*read)(int fd, void *state, void *buf, size_t len);
    /* Writes the gathered queue: n pieces, in order, as one stream; it may
     * take fewer bytes than offered. Bytes it counts as taken may still sit
     * in the transport (TLS: a record the socket had no room for): n == 0
     * pushes those on, and answers 0 once none are left. */
    ssize_t (*writev)(int fd, void *state, const struct iovec *iov, int n);
    /* Optional (NULL where the transport has none): queues the write that
     * writev would make, to go out with the turn's other queued writes by
     * one system call (transport_write_queued); the pieces must stay as they
     * are until then. false when it queued nothing (no ring, or a full one). */
    bool (*write_later)(int fd, void *state, const struct iovec *iov, int n, uint32_t tag);
    /* LOOP_WRITE when the transport itself needs the socket to take bytes
     * (TLS: a handshake flight, a record it holds) or has an answer for the
     * next read at once: the caller then polls for room, and on it pushes
     * writes on (writev with n == 0) and reads. 0 for TCP, always. */
    int (*wants)(void *state);
    /* No more output: the peer reads an end after what was written. */
    void (*shutdown)(int fd, void *state);
    /* Frees the state and closes the socket. */
    void (*close)(int fd, void *state);
};

extern const struct transport transport_tcp;
extern const struct transport transport_tls;

/* --backend uring: plain TCP queues its writes on an io_uring ring of this
 * many entries (uring.c) instead of making them one by one. -1 with errno
 * where the kernel has no io_uring or forbids it. */
int transport_tcp_use_ring(unsigned entries);

/* Makes every queued write, then done(tag, result) for each: result is
 * what writev would have answered, or -errno where it failed. */
void transport_write_queued(void (*done)(uint32_t tag, ssize_t result, void *arg), void *arg);

/* On a TLS port: does an accepted socket speak TLS? Its first byte says,
 * peeked so that the transport chosen reads it again. 2 when it is TLS, with
 * *state a new session from the certificate in force (tls.c); 1 when it is
 * plain; 0 while nothing came yet; -1 when the connection ended or there is
 * no memory for a session. */
int transport_tls_sniff(int fd, void **state);

#endif

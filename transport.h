/* transport.h - how bytes cross a connection's socket: plain TCP today
 * (transport_tcp.c). TLS implements the same calls beside it, as Redis's
 * connection.h puts TLS beside TCP, so the transport above (conn.c) and
 * everything over it neither know nor care which one a connection uses.
 *
 * Each call gets the socket and the connection's own state for this
 * transport (NULL for TCP; a TLS session for TLS), and answers as read(2)
 * and writev(2) do: -1 with errno EAGAIN where the socket would block. */
#ifndef TRANSPORT_H
#define TRANSPORT_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

struct transport {
    const char *name;
    ssize_t (*read)(int fd, void *state, void *buf, size_t len);
    /* Writes the gathered queue: n pieces, in order, as one stream. */
    ssize_t (*writev)(int fd, void *state, const struct iovec *iov, int n);
    /* What the transport itself waits for beyond what its caller asked:
     * LOOP_READ and LOOP_WRITE bits (TLS may need to read to write). */
    int (*wants)(void *state);
    /* No more output: the peer reads an end after what was written. */
    void (*shutdown)(int fd, void *state);
    /* Frees the state and closes the socket. */
    void (*close)(int fd, void *state);
};

extern const struct transport transport_tcp;

#endif

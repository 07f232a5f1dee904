/* server.h - accepting connections and answering HTTP. */
#ifndef SERVER_H
#define SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "loop.h"

/* Starts serving on a bound, listening, non-blocking socket (or none, -1).
 * At most max_sockets connections exist at once; past that the listener
 * waits. Descriptors are below max_ids. 0, or -1 when out of memory. */
int server_init(struct loop *l, const struct config *cfg, int listen_fd, size_t max_sockets,
                size_t max_ids);
/* Serves an accepted non-blocking socket; false when out of memory (the
 * caller closes it). */
bool server_accept(int fd);
/* Closes the listening socket, gives every WebSocket close 1001 and drops
 * every request not yet answered (shutdown). */
void server_shutdown(void);

#endif

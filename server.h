/* server.h - accepting connections and answering HTTP. */
#ifndef SERVER_H
#define SERVER_H

#include <stddef.h>

#include "config.h"
#include "loop.h"

/* Starts serving on a bound, listening, non-blocking socket. At most
 * max_sockets connections exist at once; past that the listener waits. */
void server_init(struct loop *l, const struct config *cfg, int listen_fd, size_t max_sockets);
/* Closes the listening socket (shutdown). */
void server_stop_accepting(void);

#endif

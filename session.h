/* session.h - an open WebSocket: frames in, whole messages out to routing
 * (or back, on /echo), and its policy: close, ping, idle, rate, and what a
 * reader that does not keep up gets. */
#ifndef SESSION_H
#define SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "conn.h"
#include "handshake.h"

/* Sessions of conn_id()s below max_ids. 0, or -1 when out of memory. */
int session_init(const struct config *cfg, size_t max_ids);

/* Makes c, just answered with its 101, a WebSocket. On /echo (echo) it has
 * no user; else it joins routing as the user hs names, in its rooms, with
 * the history after its since. */
void session_open(struct conn *c, bool echo, const struct handshake *hs);

/* Feeds bytes from c's socket: the transport's input for a session, and the
 * bytes that came right after the handshake. */
void session_input(struct conn *c, uint8_t *data, size_t len);

/* Sends a close frame with code (§5.5.1, §7.4) and reason, then finishes
 * the connection once it is written. Counts the close by code. */
void session_close(struct conn *c, unsigned code, const char *reason);

/* Is c an open WebSocket session? */
bool session_is(const struct conn *c);

#endif

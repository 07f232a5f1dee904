/* conn.h - the transport: a socket, its queue of shared output frames,
 * gathered writes, deadlines, and the one place where connections die.
 *
 * It knows no opcode and no user. Whoever owns a connection (the HTTP front
 * while a request comes in, then its WebSocket session) says through its
 * conn_ops what the bytes mean and what a deadline or an overflow calls
 * for; the bytes themselves move through a struct transport (transport.h),
 * plain TCP or TLS. */
#ifndef CONN_H
#define CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "loop.h"

struct conn;

/* What the owner of a connection does with its events. Any may be NULL. */
struct conn_ops {
    /* Bytes read, in a scratch buffer the owner may change (unmask) in place. */
    void (*input)(struct conn *c, uint8_t *data, size_t len);
    /* Its deadline (conn_deadline) passed. */
    void (*expired)(struct conn *c);
    /* Its unsent output passed --max-pending: what it had not started to
     * receive is already dropped; the owner closes it. */
    void (*overflow)(struct conn *c);
    /* It stopped being open (conn_finish, conn_kill), told at the end of the
     * turn, never inside the broadcast that may have caused it. */
    void (*ended)(struct conn *c);
    /* Everything queued before conn_notify_written() was asked has been
     * taken by the socket. */
    void (*written)(struct conn *c);
    /* Just before it is freed. */
    void (*freed)(struct conn *c);
};

/* For sockets below max_ids (the loop's descriptor limit). released, if not
 * NULL, is called each time a connection is freed (there is room for
 * another). 0, or -1 when out of memory. */
int conn_init(struct loop *l, size_t max_ids, void (*released)(void));
/* fn runs at the end of every loop turn, before its output is written:
 * what must be on disk before anyone sees it is written there first
 * (journal.c), and fn may queue output of its own. */
void conn_set_before_write(void (*fn)(void));
/* The unsent bytes (--max-pending) past which a connection overflows; one
 * frame alone never does. */
void conn_set_max_pending(size_t max_pending);

/* --backend uring: from now on a turn's writes to plain TCP connections go
 * to the kernel together, by one system call (uring.c). -1 with errno where
 * the kernel has no io_uring or forbids it. */
int conn_batch_writes(void);
/* Takes an accepted non-blocking socket, owned by ops; NULL when out of
 * memory (the caller closes the socket). */
struct conn *conn_accept(int fd, const struct conn_ops *ops);
/* On a TLS port: the first byte c sends picks its transport, TLS for a TLS
 * handshake record and plain TCP for anything else. */
void conn_sniff_tls(struct conn *c);
/* Is c's transport TLS? (false until its first byte came) */
bool conn_is_tls(const struct conn *c);
/* Hands c to a new owner (an upgrade), with its data pointer reset. */
void conn_set_ops(struct conn *c, const struct conn_ops *ops);
/* The owner's pointer, for its partial input; NULL at first. */
void *conn_data(const struct conn *c);
void conn_set_data(struct conn *c, void *data);

/* A small integer unique among live connections and below the loop's
 * descriptor limit, for the layers above to keep their own state about a
 * connection in a table beside it. */
int conn_id(const struct conn *c);
/* The live connection of that id, or NULL. */
struct conn *conn_by_id(int id);
/* Open: neither finishing nor dead. Only an open connection is sent to. */
bool conn_is_open(const struct conn *c);

/* Queues f (taking a reference) for c; written before the loop next sleeps. */
void conn_send(struct conn *c, struct frame *f);
void conn_send_raw(struct conn *c, const void *bytes, size_t len);
/* Asks for ops->written once all c has queued so far is written, at once
 * when nothing is; an overflow, which drops output, cancels it. What is
 * written is delivered as far as the server can know (a kept message is
 * forgotten then). */
void conn_notify_written(struct conn *c);
/* Holds c's output back (on) until it is let go (off): with several
 * nodes, a new connection's 101 waits until Redis counts it. */
void conn_cork(struct conn *c, bool on);
/* Queues f whatever the limit (a close frame), then finishes c. */
void conn_send_last(struct conn *c, struct frame *f);
/* Shuts c down once its queued output is written, then lingers briefly,
 * reading and discarding, so unread input does not turn the end into a
 * reset the peer would see instead of our last bytes. */
void conn_finish(struct conn *c);
/* Drops c now (EOF, socket error, timeout). */
void conn_kill(struct conn *c);

/* Deadlines. A connection is on at most one deadline list; every member of
 * a list has the same timeout, counted from a time that only grows along
 * the list, so one loop timer for the earliest head serves them all. */
/* A new list whose members expire timeout_ms after they joined it; its
 * number, for conn_deadline. */
int conn_deadline_list(uint32_t timeout_ms);
/* Puts c on list, its deadline counting from since (conn_now(), or an
 * earlier time: since never decreases along a list). */
void conn_deadline(struct conn *c, int list, uint32_t since);
/* Milliseconds on the connections' clock: 32 bits, compared by difference
 * (no timeout is longer than a day). */
uint32_t conn_now(void);

/* Calls fn for every connection that is not finishing or dead (shutdown). */
void conn_each_open(void (*fn)(struct conn *c));
/* Drops every connection at once (the end of a shutdown). */
void conn_drop_all(void);
size_t conn_count(void);

#endif

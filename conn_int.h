/* conn_int.h - a connection as the transport's two files see it: conn.c
 * (its socket, input, deadlines and death) and conn_output.c (its queue and
 * writes). Nothing above the transport includes this; they have conn.h. */
#ifndef CONN_INT_H
#define CONN_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "conn.h"
#include "deadline.h"
#include "loop.h"
#include "transport.h"

enum conn_state {
    CONN_OPEN,                  /* reading and writing */
    CONN_DRAIN,                 /* last bytes queued; shut down once written */
    CONN_LINGER,                /* write side shut; discarding input until EOF */
    CONN_DEAD,                  /* waiting for the reaper */
};

enum {
    CONN_FLUSHING = 1,          /* on the flush list */
    CONN_WANT_WRITE = 2,        /* the socket was full; waiting for it to drain */
    CONN_NOTIFY = 4,            /* its owner waits for ops->written */
    CONN_SNIFF = 8,             /* on a TLS port: its first byte picks the transport */
    CONN_CORKED = 16,           /* its output waits for conn_cork(c, false) */
};

struct conn {
    int fd;                     /* the socket */
    uint8_t state;              /* enum conn_state */
    uint8_t flags;              /* CONN_* bits */
    uint8_t transport;          /* how its bytes cross the socket: conn_transports[] */
    struct deadline deadline;   /* on one of the owners' lists, or lingering */
    const struct conn_ops *ops; /* its owner's handlers; NULL while the slot is free */
    void *tstate;               /* the transport's state for it (TLS) */
    void *data;                 /* the owner's, for partial input */
    struct conn *flush_next;    /* next on the flush list, or the reap list */
    struct outq *out;           /* bytes the socket has not taken yet, or NULL */
};

/* The transports a connection may use, by struct conn's transport. */
enum { TRANSPORT_TCP, TRANSPORT_TLS };
extern const struct transport *const conn_transports[];
#define T(c) conn_transports[(c)->transport]

/* conn.c: a dead connection taken off the flush list goes to be freed. */
void conn_reap_later(struct conn *c);

/* conn_output.c, for conn.c. */
void output_init(struct loop *l);
/* Tells the loop what c waits for: input, and room where it has output
 * the socket would not take or its transport wants to write. */
void output_interest(struct conn *c);
/* c's socket has room again: its output goes out at the end of the turn. */
void output_writable(struct conn *c);
/* All of c's output is written: a finishing connection shuts its write side. */
void output_done(struct conn *c);
bool output_pending(void);      /* does any connection have output to write? */
void output_flush(void);        /* writes it all, as far as the sockets take it */

#endif

/* redis_link.h - one connection of redis.c's client to Redis: a socket, its
 * non-blocking connect, the bounded output of encoded commands, the bounded
 * FIFO of their callbacks, the bounded input and the replies handed out in
 * order, and the one place the connection dies. What a connection says
 * first (AUTH, PING, SUBSCRIBE), when it is retried and what its pushes
 * mean are the client's, through the hooks; nothing else includes this. */
#ifndef REDIS_LINK_H
#define REDIS_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "loop.h"
#include "redis.h"
#include "resp.h"

#define LINK_WHY 256 /* a reason, with the connection's name before it */

enum link_state {
    LINK_CLOSED,     /* no socket: waiting for its retry, or not started */
    LINK_CONNECTING, /* connect() under way */
    LINK_HANDSHAKE,  /* connected; the client's first commands sent, their replies awaited */
    LINK_READY,      /* the client found every handshake reply good */
};

struct link;

struct link_hooks {
    /* The socket is connected: queue the handshake. */
    void (*connected)(struct link *k);
    /* The link just died, its socket closed, its callbacks not yet failed:
     * why is "NAME connection: WHAT". */
    void (*dropped)(struct link *k, const char *why);
    /* A reply that is not one to a command (a subscriber's message)? It
     * takes it then, and true; else the reply goes to the FIFO's head. */
    bool (*push)(struct link *k, const struct resp_elem *reply);
};

struct link_pending {
    redis_reply_fn *fn; /* NULL: the reply is not wanted */
    void *data;
    int64_t sent;       /* loop_now() when queued: the reply timeout runs from it */
};

struct link {
    const struct link_hooks *hooks;
    void *owner;                   /* the client */
    struct loop *loop;
    const struct redis_options *o; /* the address and the limits */
    const struct resp_limits *lim;
    const char *name;              /* "command" or "subscriber", for the reasons given */
    enum link_state state;
    int fd;                        /* -1 while closed */
    int64_t since;                 /* loop_now() when the connect began */
    struct buf out;                /* encoded commands, the first out_off of them written */
    size_t out_off;
    struct buf in;                 /* bytes read and not yet handled */
    struct link_pending *fifo;     /* a ring of max_pending: callbacks in the order sent */
    size_t head, count;
    struct resp_elem *elems;       /* max_elems, for the reply being handed out */
    char broken[LINK_WHY];         /* set by a callback: dropped once it returns */
    /* The client's own, per connection: */
    bool subscriber;               /* pushes may come between replies */
    size_t handshake_left;         /* handshake replies still to come */
    unsigned failures;             /* since the last good PING: the backoff's exponent */
    struct loop_timer retry;       /* the next connect */
    bool pinging;                  /* a PING is out */
    int64_t ping_us;               /* when it was queued */
};

/* Allocates k's FIFO and reply elements by o's limits: 0, or -1. */
int link_init(struct link *k, const struct link_hooks *hooks, void *owner, struct loop *l,
              const struct redis_options *o, const struct resp_limits *lim, const char *name);
/* Drops k (its callbacks hear why) and frees what link_init took. */
void link_free(struct link *k, const char *why);

/* Begins the connect; a failure is a drop, at once or later. */
void link_open(struct link *k);
/* Queues a command while k has a socket (handshake included): false when
 * it has none, or the FIFO or the output is full. */
bool link_send(struct link *k, size_t argc, const char *const argv[], const size_t lens[],
               redis_reply_fn *fn, void *data);
/* Writes what is queued now, rather than when the loop next finds room. */
void link_flush(struct link *k);
/* The one place a link dies (see hooks->dropped); no-op when closed. */
void link_drop(struct link *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* From inside a reply callback: drops k once the callback returns. */
void link_break(struct link *k, const char *what, const struct resp_elem *error);
/* When the oldest command still waiting was queued; -1 with none. */
int64_t link_oldest(const struct link *k);

#endif

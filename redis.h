/* redis.h - a client of Redis (or Valkey) on the event loop: a command
 * connection, and beside it, when asked for, a subscriber connection.
 *
 * Commands are pipelined: each is encoded (resp.c) into a bounded output
 * buffer at once and written when the socket takes it, and its callback
 * waits in a bounded FIFO, since Redis answers a connection's commands in
 * the order they came. Replies are parsed from a bounded input buffer and
 * handed to the callbacks in that order. A subscriber connection is a
 * second socket because once it subscribes, Redis sends it pushes and
 * takes few commands on it.
 *
 * The client keeps itself up: every connect does AUTH (with a password)
 * and a PING, the subscriber's SUBSCRIBEs again; a PING each ping_ms
 * measures the round trip, and a connect or a reply slower than timeout_ms
 * drops the connection, which is tried again after a backoff that doubles,
 * with jitter, so many nodes never retry in step nor in a tight loop.
 * Nothing is queued while it is down: commands are refused at once. */
#ifndef REDIS_H
#define REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "loop.h"
#include "resp.h"

/* "unix:" and the longest path a sockaddr_un holds fit, with room. */
#define REDIS_ADDRESS_TEXT 128
#define REDIS_MAX_SUBSCRIPTIONS 8 /* channels and patterns, together */
#define REDIS_MAX_CHANNEL 256     /* longest channel or pattern name, bytes */

struct redis_address {
    struct sockaddr_storage sa;    /* AF_INET, AF_INET6 or AF_UNIX */
    socklen_t len;                 /* of sa; 0 for no address */
    char text[REDIS_ADDRESS_TEXT]; /* as it was given, for logs */
};

/* Reads "HOST:PORT" or "unix:PATH" into *out. HOST is an IPv4 literal, an
 * IPv6 literal in brackets ("[::1]:6379") or localhost (127.0.0.1); PORT is
 * 1 to 65535. Any other name is refused, not looked up: a static binary
 * has no resolver. false, with *out cleared, for anything else. */
bool redis_address_parse(const char *s, struct redis_address *out);

struct redis_options {
    struct redis_address addr;
    const char *password;     /* AUTH with it on every connect; NULL: none (kept, not copied) */
    bool subscriber;          /* open the subscriber connection too */
    size_t max_output;        /* a connection's commands not yet written, bytes */
    size_t max_input;         /* a connection's replies read and not yet handled, bytes */
    size_t max_pending;       /* a connection's commands waiting for their reply */
    size_t max_elems;         /* elements in one reply (resp.h) */
    unsigned ping_ms;         /* a PING this often; the timeouts are checked as often */
    unsigned timeout_ms;      /* a connect or a reply slower than this drops the connection */
    unsigned backoff_min_ms;  /* the first retry after a failure waits about this */
    unsigned backoff_max_ms;  /* doubling up to this */
};

/* 64 MiB of output and input: a message (16 MiB at most, --max-message)
 * always fits whole, with room for the commands queued beside it. Retries
 * at most 4 s apart, so a node is back within 5 s of its Redis. */
#define REDIS_OPTIONS_DEFAULT                                                                  \
    ((struct redis_options){.max_output = 64 << 20, .max_input = 64 << 20,                     \
                            .max_pending = 16384, .max_elems = 4096, .ping_ms = 1000,          \
                            .timeout_ms = 5000, .backoff_min_ms = 100, .backoff_max_ms = 4000})

struct redis;

/* A command's reply, reply[0 .. reply[0].next) as resp_parse gives it (an
 * error reply is one of them, RESP_ERROR), pointing into the client's input:
 * valid only during the call. Or reply NULL and failure saying why the
 * command will have none (the connection was lost, the client freed). Each
 * accepted command has its callback called exactly once. */
typedef void redis_reply_fn(void *data, const struct resp_elem *reply, const char *failure);
/* A message published on a subscribed channel (or one matching a pattern):
 * the bytes are valid only during the call. */
typedef void redis_message_fn(void *data, const char *channel, size_t channel_len,
                              const char *payload, size_t payload_len);
/* The client came up (every connection ready, why NULL) or went down (why
 * says which connection and what happened). */
typedef void redis_state_fn(void *data, bool up, const char *why);

/* A client of o's Redis on l, not connected yet; NULL when out of memory.
 * state (may be NULL) hears every change after the start. */
struct redis *redis_create(struct loop *l, const struct redis_options *o, redis_state_fn *state,
                           void *data);
/* Connects and runs l until every connection is ready: 0. Or -1, with why
 * (up to cap bytes) saying what failed, as soon as a connect or a
 * handshake fails (refused, timed out, AUTH refused): a server with a
 * wrong address or password stops at its start rather than retrying. After
 * -1 only redis_free is left to call. */
int redis_start(struct redis *r, char *why, size_t cap);
/* Closes the connections; the callbacks still waiting get their failure
 * first. Never from inside one of r's callbacks. */
void redis_free(struct redis *r);

/* Sends argv[0..argc) (lens[i] bytes each) on the command connection; cb
 * (NULL: the reply is not wanted) gets its reply. false when the client is
 * down (redis_problem says why), or when the output or the FIFO is full:
 * the caller outruns Redis. cb is not called then. A reply later than
 * timeout_ms drops the connection, so blocking commands (BLPOP, a long
 * script) have no place here. */
bool redis_command(struct redis *r, size_t argc, const char *const argv[], const size_t lens[],
                   redis_reply_fn *cb, void *data);
/* Subscribes the subscriber connection to name[0..len) (a pattern, for
 * PSUBSCRIBE, when pattern), now and after every reconnect; fn gets its
 * messages. -1 without a subscriber connection, past the limits, or when
 * the output is full. */
int redis_subscribe(struct redis *r, const char *name, size_t len, bool pattern,
                    redis_message_fn *fn, void *data);

/* Writes the commands queued so far now: with several nodes, before the
 * turn's answers to clients, so that Redis hears of a new connection
 * before its client can act on the 101. */
void redis_flush(struct redis *r);
/* For /healthz and /metrics. */
bool redis_up(const struct redis *r);
const char *redis_problem(const struct redis *r); /* why it is down; NULL while up */
int64_t redis_rtt_us(const struct redis *r);      /* the last PING's round trip; -1: none yet */
uint64_t redis_reconnects(const struct redis *r); /* times it came back up after going down */
uint64_t redis_connects(const struct redis *r);   /* connects begun, the first ones included */

#endif

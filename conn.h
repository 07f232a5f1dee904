/* conn.h - connections: sockets, buffers, shared output frames, limits,
 * timeouts, and the one place where connections die. */
#ifndef CONN_H
#define CONN_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "loop.h"
#include "ws.h"

/* An encoded frame (or raw HTTP bytes), written once and shared by every
 * recipient: a broadcast to N connections is N references, not N copies. */
struct frame {
    uint32_t refs;              /* owners: queues, history, the builder */
    uint32_t len;               /* bytes to send, from data() */
    uint16_t off;               /* where the bytes start in buf */
    bool raw;                   /* HTTP bytes, not a WebSocket frame */
    uint8_t buf[];              /* WS_MAX_SERVER_HEADER of room, then payload */
};

/* A frame with room for a payload of up to cap bytes at frame_payload(). */
struct frame *frame_alloc(size_t cap);
static inline uint8_t *frame_payload(struct frame *f) { return f->buf + WS_MAX_SERVER_HEADER; }
static inline const uint8_t *frame_data(const struct frame *f) { return f->buf + f->off; }
/* Puts the WebSocket header right before a payload of len bytes (§5.2). */
void frame_seal(struct frame *f, enum ws_opcode op, size_t len);
/* Marks the payload as raw bytes to send as they are (HTTP answers). */
void frame_seal_raw(struct frame *f, size_t len);
struct frame *frame_make(enum ws_opcode op, const void *payload, size_t len);
void frame_unref(struct frame *f);

enum conn_state {
    CONN_HTTP,                  /* reading an HTTP request */
    CONN_WS,                    /* an open WebSocket */
    CONN_DRAIN,                 /* last bytes queued; shut down once written */
    CONN_LINGER,                /* write side shut; discarding input until EOF */
    CONN_DEAD,                  /* waiting for the reaper */
};

enum {
    CONN_ECHO = 1,              /* an /echo connection: no user, binary allowed */
    CONN_FLUSHING = 2,          /* on the flush list */
    CONN_WANT_WRITE = 4,        /* the socket was full; waiting for POLLOUT */
    CONN_UPGRADED = 8,          /* input is frames: in.rx, not in.http */
};

struct rx;
struct outq;
struct http_in;

struct conn {
    int fd;                     /* the socket */
    uint8_t state;              /* enum conn_state */
    uint8_t flags;              /* CONN_* bits */
    uint8_t timer_list;         /* which deadline list holds it */
    uint16_t close_code;        /* sent or received; 1006 when none */
    uint32_t since;             /* ms (conn clock) its current deadline counts from */
    uint32_t last_input;        /* ms (conn clock) of its last bytes in */
    uint32_t bucket_ms;         /* last token-bucket refill */
    float tokens;               /* messages it may still send at once */
    struct conn *tprev, *tnext; /* neighbours in its deadline list */
    struct conn *flush_next;    /* next on the flush list, or the reap list */
    union {
        struct http_in *http;   /* CONN_HTTP: a partly received request */
        struct rx *rx;          /* CONN_WS: a partly received frame or message */
    } in;                       /* NULL while nothing is partial */
    struct outq *out;           /* bytes the socket has not taken yet, or NULL */
};

/* A small integer unique among live connections and below the loop's
 * descriptor limit, for the layers above to keep their own state about a
 * connection in a table beside it. */
static inline int conn_id(const struct conn *c)
{
    return c->fd;
}

/* What the layers above do with a connection's input and its end. */
struct conn_hooks {
    void (*http_input)(struct conn *c, uint8_t *data, size_t len);
    void (*ws_input)(struct conn *c, uint8_t *data, size_t len);
    void (*left)(struct conn *c);     /* a WebSocket stopped being open */
    void (*closed)(struct conn *c);   /* just before it is freed */
};

void conn_init(struct loop *l, const struct config *cfg, const struct conn_hooks *hooks);
/* Takes an accepted non-blocking socket; NULL when out of memory. */
struct conn *conn_accept(int fd);

/* Queues f (taking a reference) for c; written at the end of the loop turn. */
void conn_send(struct conn *c, struct frame *f);
void conn_send_raw(struct conn *c, const void *bytes, size_t len);

/* The handshake succeeded: from now on input is WebSocket frames. */
void conn_upgrade(struct conn *c);
/* Sends a close frame with code (§5.5.1, §7.4) and reason, then shuts the
 * connection down once it is written. Counts the close by code. */
void conn_close(struct conn *c, unsigned code, const char *reason);
/* Plain HTTP: shut down once the queued answer is written. */
void conn_finish(struct conn *c);
/* Drops the connection now (EOF, socket error, or timeout). */
void conn_kill(struct conn *c);

/* c showed life: a whole message, or a control frame (§5.5.2: a pong is
 * the usual answer) between messages. Bytes alone do not count, or a frame
 * trickled in a byte at a time would hold its connection for ever. */
void conn_alive(struct conn *c);

/* The token bucket (--max-rate, --max-burst): true when c may send one more
 * message or ping now, which takes a token; false after closing it with 1008
 * (counted) for sending faster than allowed. */
bool conn_within_rate(struct conn *c);

/* Closes every WebSocket with 1001 and refuses nothing else (shutdown). */
void conn_close_all(unsigned code, const char *reason);
/* Drops every connection at once (the end of a shutdown). */
void conn_drop_all(void);
size_t conn_count(void);

#endif

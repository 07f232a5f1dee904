/* session.c - an open WebSocket (RFC 6455 §5, §6, §7): frames in, whole
 * messages out, straight to routing (or back, on /echo); and the policy of
 * a session: the close handshake, pings and the idle timeout, the rate
 * limit, and what a slow reader gets.
 *
 * Bytes arrive in pieces of any size. They are unmasked and UTF-8-checked
 * in place, in the transport's read buffer, as they come, so a bad byte
 * fails the connection at once (§8.1 "fail fast") and a message that will
 * be too big is refused at its header, before any of it is stored (§10.4).
 * A message that arrives whole in one read is handed on where it lies,
 * without a copy; only a message split across frames or reads is
 * assembled, in a buffer that exists while it does.
 *
 * A session's state lives in a table indexed by conn_id(), beside the
 * transport's connection, as routing's does. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "connmgr.h"
#include "log.h"
#include "session.h"
#include "stats.h"

#define ECHO_MAX_MESSAGE (16u << 20)

/* A frame or message under way. A connection has one only while something
 * is partial; between messages it owns none. */
struct rx {
    struct ws_header h;         /* the current frame's header */
    uint64_t got;               /* payload bytes of it seen so far */
    bool in_frame;              /* h is valid and its payload is coming */
    uint8_t hdr_len;            /* bytes of a partial header in hdr */
    uint8_t hdr[WS_MAX_HEADER]; /* a header split across reads */
    uint8_t msg_op;             /* opcode of the data message under way, or 0 */
    uint32_t utf8;              /* validator state across its fragments */
    struct buf msg;             /* the fragmented message so far; its max is the limit */
    uint8_t ctl_len;            /* bytes of a split control payload */
    uint8_t ctl[WS_MAX_CONTROL];/* a control payload split across reads */
};

enum {
    SESSION_OPEN = 1,           /* the slot holds a WebSocket */
    SESSION_ECHO = 2,           /* an /echo connection: no user, binary allowed */
    SESSION_PINGED = 4,         /* silent for the ping interval: pinged */
};

struct session {
    struct rx *rx;              /* a partial frame or message, or NULL */
    float tokens;               /* messages it may still send at once */
    uint32_t bucket_ms;         /* conn_now() of the last token refill */
    uint32_t alive;             /* conn_now() of its last sign of life */
    uint32_t last_input;        /* conn_now() of its last bytes in */
    uint16_t close_code;        /* sent or received; 1006 when none */
    uint8_t flags;              /* SESSION_* bits */
};

static struct {
    const struct config *cfg;
    struct session *sessions;   /* indexed by conn_id() */
    size_t max_ids;             /* entries in sessions */
    int active, pinged;         /* the transport's deadline lists */
    char *scratch;              /* the decoded strings of the message in hand */
} g;

static const struct conn_ops session_ops;
static void send_frame(struct conn *c, enum ws_opcode op, const uint8_t *payload, size_t len);
static void free_rx(struct session *s);

static struct session *session_of(const struct conn *c)
{
    return &g.sessions[conn_id(c)];
}

bool session_is(const struct conn *c)
{
    size_t i = (size_t)conn_id(c);
    return i < g.max_ids && (g.sessions[i].flags & SESSION_OPEN);
}

/* ------------------------------------------------------------- policy */

void session_close(struct conn *c, unsigned code, const char *reason)
{
    if (!conn_is_open(c))
        return;
    /* §5.5.1: the body is the 2-byte code and a UTF-8 reason, 123 bytes at
     * most, so the whole close frame stays a legal control frame. */
    uint8_t body[WS_MAX_CONTROL] = {0};
    size_t rlen = reason ? strnlen(reason, sizeof body - 2) : 0;
    size_t blen = 0;
    if (code != WS_CLOSE_NO_STATUS) {
        body[0] = (uint8_t)(code >> 8);
        body[1] = (uint8_t)code;
        if (rlen)
            memcpy(body + 2, reason, rlen);
        blen = 2 + rlen;
    }
    session_of(c)->close_code = (uint16_t)code;
    if (code >= WS_CLOSE_PROTOCOL_ERROR && code != WS_CLOSE_NO_STATUS)
        log_conn(LOG_INFO, "event=close fd=%d code=%u reason=\"%s\"", conn_id(c), code,
                 reason ? reason : "");
    if (code != WS_CLOSE_NO_STATUS && code >= STATS_CLOSE_MIN &&
        code < STATS_CLOSE_MIN + STATS_CLOSE_CODES)
        stats.closes[code - STATS_CLOSE_MIN]++;
    struct frame *f = frame_make(WS_OP_CLOSE, body, blen);
    if (f) {
        conn_send_last(c, f);
        frame_unref(f);
    } else {
        conn_kill(c);
    }
}

/* c showed life: a whole message, or a control frame (§5.5.2: a pong is
 * the usual answer) between messages. Bytes alone do not count, or a frame
 * trickled in a byte at a time would hold its connection for ever. */
static void alive(struct conn *c)
{
    struct session *s = session_of(c);
    uint32_t now = conn_now();
    if (!(s->flags & SESSION_PINGED) && s->alive == now)
        return;                 /* already counting from now */
    s->flags &= (uint8_t)~SESSION_PINGED;
    s->alive = now;
    conn_deadline(c, g.active, now);
}

/* The token bucket (--max-rate, --max-burst): true when c may send one more
 * message or ping now, which takes a token; false after closing it with 1008
 * (counted) for sending faster than allowed. An /echo connection is not
 * limited: every message it sends comes back (PROTOCOL.md), however many a
 * conformance suite sends at once. */
static bool within_rate(struct conn *c)
{
    const struct config *cfg = g.cfg;
    struct session *s = session_of(c);
    if (cfg->max_rate <= 0 || (s->flags & SESSION_ECHO))
        return true;
    uint32_t now = conn_now();
    float refill = (float)((now - s->bucket_ms) * cfg->max_rate / 1000.0);
    s->bucket_ms = now;
    s->tokens += refill;
    if (s->tokens > (float)cfg->max_burst)
        s->tokens = (float)cfg->max_burst;
    if (s->tokens < 1.0f) {
        stats.rate_closes++;
        session_close(c, WS_CLOSE_POLICY_VIOLATION, "rate limit exceeded");
        return false;
    }
    s->tokens -= 1.0f;
    return true;
}

/* A complete data message: read as a Message and handed to routing, or
 * sent back on /echo. */
static void deliver(struct conn *c, uint8_t op, uint8_t *p, size_t len)
{
    if (session_of(c)->flags & SESSION_ECHO) {
        send_frame(c, (enum ws_opcode)op, p, len);
        return;
    }
    struct message m;
    char why[160];
    if (message_read((const char *)p, len, g.scratch, &m, why, sizeof why) < 0)
        connmgr_refuse(c, why);
    else
        connmgr_route(c, &m);
}

/* conn_ops.expired: silent for the ping interval, it is asked to speak
 * (§5.5.2), its deadline still counting from its last sign of life; silent
 * past the idle timeout, it is closed. */
static void on_expired(struct conn *c)
{
    struct session *s = session_of(c);
    if (!(s->flags & SESSION_PINGED)) {
        static struct frame *ping;
        if (!ping)
            ping = frame_make(WS_OP_PING, NULL, 0);
        if (ping)
            conn_send(c, ping);
        s->flags |= SESSION_PINGED;
        conn_deadline(c, g.pinged, s->alive);
        return;
    }
    /* Bytes still coming (within the last ping interval) but never a whole
     * message: not silent, but too slow to keep its buffer and its slot any
     * longer. */
    if (s->rx && conn_now() - s->last_input < g.cfg->ping_interval_ms)
        session_close(c, WS_CLOSE_POLICY_VIOLATION, "message too slow");
    else
        session_close(c, WS_CLOSE_GOING_AWAY, "idle timeout");
}

/* conn_ops.overflow: a reader that does not keep up is closed, so it cannot
 * hold the server's memory hostage. */
static void on_overflow(struct conn *c)
{
    stats.slow_closes++;
    session_close(c, WS_CLOSE_POLICY_VIOLATION, "too much unread output");
}

/* conn_ops.ended: no longer open; its user may be leaving. */
static void on_ended(struct conn *c)
{
    char quoted[2 * MESSAGE_MAX_USER_ID + 1];
    log_conn(LOG_INFO, "event=disconnect fd=%d user=\"%s\" code=%u", conn_id(c),
             log_quote(connmgr_user_id(c), quoted, sizeof quoted), session_of(c)->close_code);
    connmgr_leave(c);
}

/* conn_ops.written: what routing asked to hear about is written. */
static void on_written(struct conn *c)
{
    connmgr_written(c);
}

/* conn_ops.freed */
static void on_freed(struct conn *c)
{
    connmgr_leave(c);           /* a no-op unless on_ended could not be told */
    struct session *s = session_of(c);
    free_rx(s);
    *s = (struct session){0};
}

static const struct conn_ops session_ops = {
    .input = session_input,
    .expired = on_expired,
    .overflow = on_overflow,
    .ended = on_ended,
    .written = on_written,
    .freed = on_freed,
};

/* ------------------------------------------------------------ sessions */

int session_init(const struct config *cfg, size_t max_ids)
{
    g.cfg = cfg;
    g.max_ids = max_ids;
    g.sessions = calloc(max_ids, sizeof *g.sessions);
    g.scratch = malloc(cfg->max_message);
    g.active = conn_deadline_list(cfg->ping_interval_ms);
    g.pinged = conn_deadline_list(cfg->idle_timeout_ms);
    return g.sessions && g.scratch ? 0 : -1;
}

void session_open(struct conn *c, bool echo, const struct handshake *hs)
{
    size_t i = (size_t)conn_id(c);
    if (i >= g.max_ids) {
        conn_kill(c);
        return;
    }
    uint32_t now = conn_now();
    g.sessions[i] = (struct session){.tokens = (float)g.cfg->max_burst, .bucket_ms = now,
                                     .alive = now, .last_input = now,
                                     .close_code = WS_CLOSE_ABNORMAL,
                                     .flags = SESSION_OPEN | (echo ? SESSION_ECHO : 0)};
    conn_set_ops(c, &session_ops);
    conn_deadline(c, g.active, now);
    if (echo) {
        log_conn(LOG_INFO, "event=connect fd=%d user=\"\" endpoint=echo", conn_id(c));
        return;
    }
    if (connmgr_join(c, hs->user, hs->user_len, hs->since, hs->rooms, hs->rooms_len, hs->claim,
                     hs->claim_len) < 0) {
        session_close(c, WS_CLOSE_INTERNAL_ERROR, "out of memory");
        return;
    }
    char quoted[2 * MESSAGE_MAX_USER_ID + 1];
    log_conn(LOG_INFO, "event=connect fd=%d user=\"%s\" connections=%zu", conn_id(c),
             log_quote(connmgr_user_id(c), quoted, sizeof quoted), connmgr_connections());
}

/* ----------------------------------------------------- frames to messages */

static bool rx_idle(const struct rx *rx)
{
    return !rx->in_frame && rx->hdr_len == 0 && rx->msg_op == 0;
}

/* Sends a frame of op made of payload[0..len): a pong, or an echo. */
static void send_frame(struct conn *c, enum ws_opcode op, const uint8_t *payload, size_t len)
{
    struct frame *f = frame_make(op, payload, len);
    if (f) {
        conn_send(c, f);
        frame_unref(f);
    }
}

/* A whole control frame (§5.5): close, ping or pong. */
static void on_control(struct conn *c, uint8_t op, const uint8_t *p, size_t len)
{
    if (op == WS_OP_PING) {
        if (within_rate(c))
            send_frame(c, WS_OP_PONG, p, len); /* §5.5.3: the same application data */
    } else if (op == WS_OP_CLOSE) {
        unsigned code;
        int bad = ws_parse_close(p, len, &code);
        if (bad) {
            session_close(c, (unsigned)bad,
                       bad == WS_CLOSE_PROTOCOL_ERROR ? "bad close code" : "close reason is not UTF-8");
            return;
        }
        /* §5.5.1: answer with a close echoing the code; an empty close is
         * answered with an empty one (1005 is never sent, §7.4.1). */
        session_close(c, code, NULL);
    }
    /* An unsolicited pong needs no answer (§5.5.3). */
}

/* A complete data message: count it, limit its rate, hand it on. */
static void on_data_message(struct conn *c, uint8_t op, uint8_t *p, size_t len)
{
    alive(c);
    stats.messages_received++;
    if (within_rate(c))
        deliver(c, op, p, len);
}

/* Checks a new frame header against the state of the message under way and
 * the limits. Returns false after failing the connection. */
static bool accept_header(struct conn *c, struct rx *rx, const struct ws_header *h)
{
    bool echo = session_of(c)->flags & SESSION_ECHO;
    if (h->opcode >= WS_OP_CLOSE)
        return true;            /* ws_parse_header checked control frames */
    if (h->opcode == WS_OP_CONT && rx->msg_op == 0) {
        session_close(c, WS_CLOSE_PROTOCOL_ERROR, "continuation without a message");
        return false;
    }
    if (h->opcode != WS_OP_CONT && rx->msg_op != 0) {
        session_close(c, WS_CLOSE_PROTOCOL_ERROR, "new message inside a fragmented one");
        return false;
    }
    if (h->opcode == WS_OP_BINARY && !echo) {
        session_close(c, WS_CLOSE_UNSUPPORTED_DATA, "binary messages are not accepted");
        return false;
    }
    size_t max = echo ? ECHO_MAX_MESSAGE : g.cfg->max_message;
    if (h->len > max - rx->msg.len) {
        session_close(c, WS_CLOSE_MESSAGE_TOO_BIG, "message too big");
        return false;
    }
    if (h->opcode != WS_OP_CONT) {
        rx->msg_op = h->opcode;
        rx->utf8 = UTF8_ACCEPT;
        rx->msg = buf_make(max); /* accept_header bounds it by the limit too */
    }
    return true;
}

/* Reads a header from the stash plus new bytes. Returns the bytes of p it
 * used, or 0 when the header is still partial (all of p is stashed), or -1
 * after failing the connection. */
static long take_header(struct conn *c, struct rx *rx, const uint8_t *p, size_t n)
{
    const uint8_t *src = p;
    size_t have = n;
    size_t old = rx->hdr_len;
    if (old) {
        size_t add = n < WS_MAX_HEADER - old ? n : WS_MAX_HEADER - old;
        memcpy(rx->hdr + old, p, add);
        src = rx->hdr;
        have = old + add;
    }
    int r = ws_parse_header(src, have, true, &rx->h);
    if (r < 0) {
        session_close(c, WS_CLOSE_PROTOCOL_ERROR, ws_strerror(r));
        return -1;
    }
    if (r == WS_NEED_MORE) {
        if (!old)
            memcpy(rx->hdr, p, n);
        rx->hdr_len = (uint8_t)have;
        return 0;
    }
    rx->hdr_len = 0;
    if (!accept_header(c, rx, &rx->h))
        return -1;
    rx->in_frame = true;
    rx->got = 0;
    return (long)((size_t)r - old);
}

/* Takes up to n payload bytes of the current frame. Returns the bytes used,
 * or -1 after failing the connection. */
static long take_payload(struct conn *c, struct rx *rx, uint8_t *p, size_t n)
{
    struct ws_header *h = &rx->h;
    size_t take = h->len - rx->got < n ? (size_t)(h->len - rx->got) : n;
    ws_mask(p, take, h->mask, rx->got);
    bool whole = rx->got == 0 && take == h->len;
    rx->got += take;
    bool done = rx->got == h->len;

    if (h->opcode >= WS_OP_CLOSE) {
        if (done && rx->msg_op == 0)
            alive(c);      /* inside a message only its end counts */
        if (whole) {
            rx->in_frame = false;
            on_control(c, h->opcode, p, take);
            return (long)take;
        }
        memcpy(rx->ctl + rx->ctl_len, p, take);
        rx->ctl_len = (uint8_t)(rx->ctl_len + take);
        if (done) {
            rx->in_frame = false;
            rx->ctl_len = 0;
            on_control(c, h->opcode, rx->ctl, h->len);
        }
        return (long)take;
    }

    if (rx->msg_op == WS_OP_TEXT) {
        rx->utf8 = utf8_validate(rx->utf8, p, take);
        if (rx->utf8 == UTF8_REJECT || (done && h->fin && rx->utf8 != UTF8_ACCEPT)) {
            session_close(c, WS_CLOSE_INVALID_PAYLOAD, "text is not valid UTF-8");
            return -1;
        }
    }
    uint8_t op = rx->msg_op;
    if (whole && h->fin && rx->msg.len == 0) {
        /* The common case: a one-frame message that arrived in one read. */
        rx->in_frame = false;
        rx->msg_op = 0;
        on_data_message(c, op, p, take);
        return (long)take;
    }
    buf_append(&rx->msg, p, take);
    if (rx->msg.failed) {
        session_close(c, WS_CLOSE_INTERNAL_ERROR, "out of memory");
        return -1;
    }
    if (done) {
        rx->in_frame = false;
        if (h->fin) {
            struct buf msg = rx->msg;
            rx->msg = buf_make(0);
            rx->msg_op = 0;
            on_data_message(c, op, (uint8_t *)msg.data, msg.len);
            buf_free(&msg);
        }
    }
    return (long)take;
}

/* Saves the state of a partial frame or message in the session, which owns
 * no receive state between messages. */
static void keep_state(struct conn *c, struct rx *rx)
{
    struct session *s = session_of(c);
    if (s->rx)
        return;
    struct rx *kept = malloc(sizeof *kept);
    if (!kept) {
        buf_free(&rx->msg);
        conn_kill(c);
        return;
    }
    *kept = *rx;
    s->rx = kept;
}

static void free_rx(struct session *s)
{
    if (!s->rx)
        return;
    buf_free(&s->rx->msg);
    free(s->rx);
    s->rx = NULL;
}

/* conn_ops.input: bytes read from c's socket, unmasked here in place. */
void session_input(struct conn *c, uint8_t *p, size_t n)
{
    struct session *s = session_of(c);
    s->last_input = conn_now();
    struct rx local = {0};
    struct rx *rx = s->rx ? s->rx : &local;
    while (conn_is_open(c)) {
        long used;
        if (!rx->in_frame) {
            if (n == 0)
                break;
            used = take_header(c, rx, p, n);
            if (used <= 0)
                break;          /* stashed, or failed */
        } else {
            used = take_payload(c, rx, p, n);
            if (used < 0)
                break;
            if (used == 0 && rx->in_frame)
                break;          /* the payload needs more bytes */
        }
        p += used;
        n -= (size_t)used;
    }
    if (!conn_is_open(c)) {
        if (rx == &local)
            buf_free(&local.msg);
        else
            free_rx(s);
        return;
    }
    if (rx == &local) {
        if (!rx_idle(rx))
            keep_state(c, rx);
    } else if (rx_idle(rx)) {
        free_rx(s);
    }
}

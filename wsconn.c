/* wsconn.c - the receiving side of an open WebSocket (RFC 6455 §5, §6.2).
 *
 * Bytes arrive in pieces of any size. They are unmasked and UTF-8-checked
 * in place, in the shared read buffer, as they come, so a bad byte fails the
 * connection at once (§8.1 "fail fast") and a message that will be too big
 * is refused at its header, before any of it is stored (§10.4). A message
 * that arrives whole in one read is handed on where it lies, without a copy;
 * only a message split across frames or reads is assembled, in a buffer that
 * exists while it does.
 */
#include <stdlib.h>
#include <string.h>

#include "stats.h"
#include "wsconn.h"

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
    size_t msg_len;             /* bytes assembled in msg */
    size_t msg_cap;             /* room in msg */
    uint8_t *msg;               /* the fragmented message so far */
    uint8_t ctl_len;            /* bytes of a split control payload */
    uint8_t ctl[WS_MAX_CONTROL];/* a control payload split across reads */
};

static struct {
    size_t max_message;         /* --max-message for chat connections */
    wsconn_message_fn *on_message;
} g;

void wsconn_init(size_t max_message, wsconn_message_fn *on_message)
{
    g.max_message = max_message;
    g.on_message = on_message;
}

void wsconn_free(struct conn *c)
{
    struct rx *rx = c->in.rx;
    if (!rx)
        return;
    free(rx->msg);
    free(rx);
    c->in.rx = NULL;
}

static bool rx_idle(const struct rx *rx)
{
    return !rx->in_frame && rx->hdr_len == 0 && rx->msg_op == 0;
}

static void pong(struct conn *c, const uint8_t *payload, size_t len)
{
    struct frame *f = frame_make(WS_OP_PONG, payload, len);
    if (f) {
        conn_send(c, f);
        frame_unref(f);
    }
}

/* A whole control frame (§5.5): close, ping or pong. */
static void on_control(struct conn *c, uint8_t op, const uint8_t *p, size_t len)
{
    if (op == WS_OP_PING) {
        if (conn_within_rate(c))
            pong(c, p, len);    /* §5.5.3: the same application data */
    } else if (op == WS_OP_CLOSE) {
        unsigned code;
        int bad = ws_parse_close(p, len, &code);
        if (bad) {
            conn_close(c, (unsigned)bad,
                       bad == WS_CLOSE_PROTOCOL_ERROR ? "bad close code" : "close reason is not UTF-8");
            return;
        }
        /* §5.5.1: answer with a close echoing the code; an empty close is
         * answered with an empty one (1005 is never sent, §7.4.1). */
        conn_close(c, code, NULL);
    }
    /* An unsolicited pong needs no answer (§5.5.3). */
}

/* A complete data message: count it, limit its rate, hand it on. */
static void on_data_message(struct conn *c, uint8_t op, uint8_t *p, size_t len)
{
    conn_alive(c);
    stats.messages_received++;
    if (conn_within_rate(c))
        g.on_message(c, op, p, len);
}

/* Checks a new frame header against the state of the message under way and
 * the limits. Returns false after failing the connection. */
static bool accept_header(struct conn *c, struct rx *rx, const struct ws_header *h)
{
    bool echo = c->flags & CONN_ECHO;
    if (h->opcode >= WS_OP_CLOSE)
        return true;            /* ws_parse_header checked control frames */
    if (h->opcode == WS_OP_CONT && rx->msg_op == 0) {
        conn_close(c, WS_CLOSE_PROTOCOL_ERROR, "continuation without a message");
        return false;
    }
    if (h->opcode != WS_OP_CONT && rx->msg_op != 0) {
        conn_close(c, WS_CLOSE_PROTOCOL_ERROR, "new message inside a fragmented one");
        return false;
    }
    if (h->opcode == WS_OP_BINARY && !echo) {
        conn_close(c, WS_CLOSE_UNSUPPORTED_DATA, "binary messages are not accepted");
        return false;
    }
    size_t max = echo ? ECHO_MAX_MESSAGE : g.max_message;
    if (h->len > max - rx->msg_len) {
        conn_close(c, WS_CLOSE_MESSAGE_TOO_BIG, "message too big");
        return false;
    }
    if (h->opcode != WS_OP_CONT) {
        rx->msg_op = h->opcode;
        rx->utf8 = UTF8_ACCEPT;
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
        conn_close(c, WS_CLOSE_PROTOCOL_ERROR, ws_strerror(r));
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

static bool append_msg(struct rx *rx, const uint8_t *p, size_t n)
{
    if (n == 0)
        return true;
    if (rx->msg_len + n > rx->msg_cap) {
        /* Doubling keeps a message that trickles in byte by byte linear;
         * accept_header already bounded the total by the message limit. */
        size_t cap = rx->msg_cap ? rx->msg_cap : 256;
        while (cap < rx->msg_len + n)
            cap *= 2;
        uint8_t *m = realloc(rx->msg, cap);
        if (!m)
            return false;
        rx->msg = m;
        rx->msg_cap = cap;
    }
    memcpy(rx->msg + rx->msg_len, p, n);
    rx->msg_len += n;
    return true;
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
            conn_alive(c);      /* inside a message only its end counts */
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
            conn_close(c, WS_CLOSE_INVALID_PAYLOAD, "text is not valid UTF-8");
            return -1;
        }
    }
    uint8_t op = rx->msg_op;
    if (whole && h->fin && rx->msg_len == 0) {
        /* The common case: a one-frame message that arrived in one read. */
        rx->in_frame = false;
        rx->msg_op = 0;
        on_data_message(c, op, p, take);
        return (long)take;
    }
    if (!append_msg(rx, p, take)) {
        conn_close(c, WS_CLOSE_INTERNAL_ERROR, "out of memory");
        return -1;
    }
    if (done) {
        rx->in_frame = false;
        if (h->fin) {
            uint8_t *msg = rx->msg;
            size_t len = rx->msg_len;
            rx->msg = NULL;
            rx->msg_len = rx->msg_cap = 0;
            rx->msg_op = 0;
            on_data_message(c, op, msg, len);
            free(msg);
        }
    }
    return (long)take;
}

/* Saves the state of a partial frame or message on the connection, which
 * owns no receive state between messages. */
static void keep_state(struct conn *c, struct rx *rx)
{
    if (c->in.rx)
        return;
    struct rx *kept = malloc(sizeof *kept);
    if (!kept) {
        free(rx->msg);
        conn_kill(c);
        return;
    }
    *kept = *rx;
    c->in.rx = kept;
}

void wsconn_input(struct conn *c, uint8_t *p, size_t n)
{
    struct rx local = {0};
    struct rx *rx = c->in.rx ? c->in.rx : &local;
    while (c->state == CONN_WS) {
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
    if (c->state != CONN_WS) {
        if (rx == &local)
            free(local.msg);
        else
            wsconn_free(c);
        return;
    }
    if (rx == &local) {
        if (!rx_idle(rx))
            keep_state(c, rx);
    } else if (rx_idle(rx)) {
        wsconn_free(c);
    }
}

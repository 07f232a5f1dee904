/* test_session.c - the WebSocket session layer over a fake transport.
 *
 * session.c is linked for real. The transport below it (conn_*) and routing
 * beside it (connmgr_*) are stubs that record what the session does: the
 * frames it queues (decoded again with ws_parse_header), the deadline list
 * each connection is on, whether it was finished or killed, what was routed
 * or refused. conn_now() is a clock the test moves, and the conn_ops the
 * session installs are called directly to play the transport's events. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "check.h"
#include "conn.h"
#include "connmgr.h"
#include "session.h"
#include "stats.h"
#include "ws.h"

struct stats stats;

/* ------------------------------------------------ the fake transport */

struct conn {
    int id;
    bool open, finished, killed;
    const struct conn_ops *ops;
    int list;                   /* deadline list, -1: none */
    uint32_t since;
    int joins, leaves;
};

enum { ACTIVE, PINGED, NLISTS };    /* the order session_init asks for them */
static struct conn conns[4];
static uint32_t now_ms = UINT32_MAX - 20000; /* the clock wraps during the tests */
static uint32_t list_timeout[NLISTS], list_last[NLISTS];
static bool list_used[NLISTS];
static int nlists, order_errors;

struct sent { int to; uint8_t op; bool last; size_t len; uint8_t *p; };
static struct sent sent[64];
static size_t nsent;

int conn_id(const struct conn *c) { return c->id; }
bool conn_is_open(const struct conn *c) { return c->open; }
uint32_t conn_now(void) { return now_ms; }
void conn_set_ops(struct conn *c, const struct conn_ops *ops) { c->ops = ops; }
void conn_kill(struct conn *c) { c->open = false; c->killed = true; }

int conn_deadline_list(uint32_t timeout_ms)
{
    CHECK(nlists < NLISTS);
    list_timeout[nlists] = timeout_ms;
    return nlists++;
}

/* The transport's rule: since never decreases along a list. */
void conn_deadline(struct conn *c, int list, uint32_t since)
{
    if (list_used[list] && (int32_t)(since - list_last[list]) < 0)
        order_errors++;
    list_used[list] = true;
    list_last[list] = since;
    c->list = list;
    c->since = since;
}

static void record(struct conn *c, struct frame *f, bool last)
{
    CHECK(c->open);             /* only an open connection is sent to */
    struct ws_header h;
    int n = ws_parse_header(frame_data(f), f->len, false, &h);
    CHECK(n > 0 && h.fin && !h.masked && n + h.len == f->len);
    if (n <= 0 || nsent == sizeof sent / sizeof sent[0])
        return;
    struct sent *s = &sent[nsent++];
    *s = (struct sent){.to = c->id, .op = h.opcode, .last = last, .len = h.len};
    s->p = check_tail_copy(frame_data(f) + n, h.len);
}

void conn_send(struct conn *c, struct frame *f) { record(c, f, false); }

void conn_send_last(struct conn *c, struct frame *f)
{
    record(c, f, true);
    c->open = false;
    c->finished = true;
}

/* ------------------------------------------------------ fake routing */

static int routed, refused;
static char got[8][200];        /* contents routed, in order */
static char why[160];

void connmgr_route(struct conn *from, struct message *m)
{
    CHECK(from->open && m->message_type == MSG_GROUP);
    if (routed < 8)
        snprintf(got[routed], sizeof got[0], "%.*s", (int)m->content.len, m->content.p);
    routed++;
}

void connmgr_refuse(struct conn *from, const char *reason)
{
    CHECK(from->open);
    snprintf(why, sizeof why, "%s", reason);
    refused++;
}

int connmgr_join(struct conn *c, const char *id, size_t len, uint64_t since, const char *rooms,
                 size_t rooms_len, const char *claim, long claim_len)
{
    CHECK(claim_len == -1 && claim); /* no secret: any room */
    CHECK(len == 5 && memcmp(id, "alice", 5) == 0 && since == 7);
    CHECK(rooms_len == 3 && memcmp(rooms, "a,b", 3) == 0); /* handed on as the handshake read them */
    c->joins++;
    return 0;
}

void connmgr_leave(struct conn *c) { c->leaves++; }
void connmgr_written(struct conn *c) { (void)c; }
const char *connmgr_user_id(const struct conn *c) { (void)c; return "alice"; }
size_t connmgr_connections(void) { return 1; }

/* --------------------------------------------------------------- helpers */

/* Small limits; max_rate is 0 (no limit) but in the rate test. */
static struct config cfg = {
    .max_message = 128, .max_rate = 0, .max_burst = 3,
    .ping_interval_ms = 1000, .idle_timeout_ms = 3000,
};

#define FIN 0x80
#define RSV1 0x40

static void reset(void)
{
    for (size_t i = 0; i < nsent; i++)
        free(sent[i].p);
    nsent = 0;
    routed = refused = 0;
    memset(got, 0, sizeof got);
}

/* A new session (after reset(): nothing sent or routed yet). */
static struct conn *open_conn(int id, bool echo)
{
    reset();
    struct conn *c = &conns[id];
    *c = (struct conn){.id = id, .open = true, .list = -1};
    static struct handshake hs = {.user = "alice", .user_len = 5, .since = 7, .rooms = "a,b",
                                  .rooms_len = 3, .claim_len = -1};
    session_open(c, echo, &hs);
    return c;
}

/* What the transport does at the end: ended, then freed. */
static void drop(struct conn *c)
{
    c->ops->ended(c);
    c->ops->freed(c);
    c->open = false;
}

/* The client's bytes: masked frames (§5.3) built up in wire. */
static struct buf wire;
static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};

static void hdr(uint8_t b0, uint64_t len)
{
    uint8_t h[WS_MAX_HEADER] = {b0};
    int ext = len < 126 ? 0 : len < 65536 ? 2 : 8;
    h[1] = (uint8_t)(0x80 | (ext == 0 ? len : ext == 2 ? 126 : 127));
    for (int i = 0; i < ext; i++)       /* network byte order */
        h[2 + i] = (uint8_t)(len >> (8 * (ext - 1 - i)));
    memcpy(h + 2 + ext, key, 4);
    buf_append(&wire, h, (size_t)(6 + ext));
}

static void body(const void *p, size_t len)
{
    if (!len)
        return;
    uint8_t *at = (uint8_t *)buf_reserve(&wire, len);
    memcpy(at, p, len);
    ws_mask(at, len, key, 0);
    wire.len += len;
}

static void frm(uint8_t b0, const void *p, size_t len) { hdr(b0, len); body(p, len); }
static void frs(uint8_t b0, const char *s) { frm(b0, s, strlen(s)); }

/* Feeds bytes as one read, from a copy (they are unmasked in place). */
static void feed(struct conn *c, const void *p, size_t n)
{
    uint8_t *copy = check_tail_copy(p, n);
    c->ops->input(c, copy, n);
    free(copy);
}

/* Feeds the wire in reads of step bytes (the last may be shorter), as long
 * as the transport would (only while open); then empties it. */
static void feed_wire(struct conn *c, size_t step)
{
    for (size_t at = 0; at < wire.len && c->open; at += step)
        feed(c, (uint8_t *)wire.data + at, wire.len - at < step ? wire.len - at : step);
    wire.len = 0;
}

/* Takes the wire's bytes, to feed them again and again. */
static uint8_t *take_wire(size_t *n)
{
    *n = wire.len;
    wire.len = 0;
    return check_tail_copy(wire.data, *n);
}

/* Feeds p[0..n) in one read (k = n), byte by byte (k = 0), or as two reads
 * split at k; only while c is open, as the transport does. */
static void split_feed(struct conn *c, const uint8_t *p, size_t n, size_t k)
{
    if (k == 0) {
        for (size_t i = 0; i < n && c->open; i++)
            feed(c, p + i, 1);
    } else {
        feed(c, p, k);
        if (k < n && c->open)
            feed(c, p + k, n - k);
    }
}

/* The transport's expiry: once c's deadline has passed, taken off its list. */
static void expire(struct conn *c)
{
    CHECK(c->list >= 0 && now_ms - c->since >= list_timeout[c->list]);
    c->list = -1;
    c->ops->expired(c);
}

/* The last frame c got is a close with code (0: empty), and c is finished. */
static bool closed(const struct conn *c, int code)
{
    const struct sent *s = nsent ? &sent[nsent - 1] : NULL;
    return s && s->to == c->id && s->last && s->op == WS_OP_CLOSE &&
           (s->len < 2 ? 0 : s->p[0] << 8 | s->p[1]) == code && c->finished && !c->open;
}

/* sent[i] is a frame of op carrying p[0..len). */
static bool is_frame(size_t i, uint8_t op, const void *p, size_t len)
{
    return i < nsent && sent[i].op == op && sent[i].len == len && memcmp(sent[i].p, p, len) == 0;
}

static bool reason_is(const char *r)
{
    const struct sent *s = nsent ? &sent[nsent - 1] : NULL;
    return s && s->len == 2 + strlen(r) && memcmp(s->p + 2, r, strlen(r)) == 0;
}

/* ------------------------------------------------------------------ tests */

/* One message, whole, byte by byte and split at every point; two in one read. */
static void test_messages(void)
{
    CHECK(list_timeout[ACTIVE] == 1000 && list_timeout[PINGED] == 3000);

    struct conn *c = open_conn(0, false);
    CHECK(session_is(c) && c->joins == 1 && c->list == ACTIVE && c->since == now_ms);
    drop(c);
    frs(FIN | WS_OP_TEXT, "{\"messageType\":1,\"content\":\"hello\"}");
    size_t n;
    uint8_t *saved = take_wire(&n);
    int wrong = 0;
    for (size_t k = 0; k <= n; k++) {   /* byte by byte, split at k, whole */
        c = open_conn(0, false);
        split_feed(c, saved, n, k);
        wrong += routed != 1 || strcmp(got[0], "hello") != 0 || nsent != 0 || !c->open;
        drop(c);
    }
    CHECK(wrong == 0);
    c = open_conn(0, false);            /* all but the last byte: nothing yet */
    split_feed(c, saved, n - 1, 0);
    CHECK(routed == 0);
    feed(c, saved + n - 1, 1);
    CHECK(routed == 1);
    drop(c);
    free(saved);

    c = open_conn(0, false);
    frs(FIN | WS_OP_TEXT, "{\"messageType\":1,\"content\":\"one\"}");
    frs(FIN | WS_OP_TEXT, "{\"messageType\":1,\"content\":\"two\"}");
    feed_wire(c, 4096);
    CHECK(routed == 2 && strcmp(got[0], "one") == 0 && strcmp(got[1], "two") == 0);
    drop(c);

    /* Two connections' halves interleaved: each keeps its own state. */
    c = open_conn(0, false);
    struct conn *d = open_conn(1, false);
    frs(FIN | WS_OP_TEXT, "{\"messageType\":1,\"content\":\"from c\"}");
    uint8_t *pc = take_wire(&n);
    frs(FIN | WS_OP_TEXT, "{\"messageType\":1,\"content\":\"from d\"}");
    uint8_t *pd = take_wire(&n);
    feed(c, pc, 9), feed(d, pd, 20), feed(c, pc + 9, n - 9);
    CHECK(routed == 1 && strcmp(got[0], "from c") == 0);
    feed(d, pd + 20, n - 20);
    CHECK(routed == 2 && strcmp(got[1], "from d") == 0);
    drop(c), drop(d), free(pc), free(pd);
}

/* Text + two pings + continuation: one message, a pong with each ping's
 * payload, however the bytes are split; an empty first fragment works too. */
static void test_fragments(void)
{
    const char *m = "{\"messageType\":1,\"content\":\"frag\"}";
    frm(WS_OP_TEXT, m, 20);
    frs(FIN | WS_OP_PING, "ping!");
    frs(FIN | WS_OP_PING, "again");
    frs(FIN | WS_OP_CONT, m + 20);
    size_t n;
    uint8_t *saved = take_wire(&n);
    int wrong = 0;
    for (size_t k = 0; k <= n; k++) {
        struct conn *c = open_conn(0, false);
        split_feed(c, saved, n, k);
        wrong += routed != 1 || strcmp(got[0], "frag") != 0 || nsent != 2 || !c->open ||
                 !is_frame(0, WS_OP_PONG, "ping!", 5) || !is_frame(1, WS_OP_PONG, "again", 5);
        drop(c);
    }
    CHECK(wrong == 0);
    free(saved);

    struct conn *c = open_conn(0, false);
    frs(WS_OP_TEXT, "");
    frs(FIN | WS_OP_CONT, m);
    feed_wire(c, 4096);
    CHECK(routed == 1 && strcmp(got[0], "frag") == 0);
    drop(c);
}

/* Feeds the wire byte by byte to one connection and whole to another: both
 * close with code at once, routing nothing and sending nothing else. */
static void expect_close(bool echo, int code, const char *what)
{
    size_t n;
    uint8_t *saved = take_wire(&n);
    for (int whole = 0; whole < 2; whole++) {
        struct conn *c = open_conn(1, echo);
        split_feed(c, saved, n, whole ? n : 0);
        bool ok = closed(c, code) && nsent == 1 && routed == 0 && refused == 0;
        CHECK(ok);
        if (!ok)
            fprintf(stderr, "  %s: expected close %d (%s)\n", what, code, whole ? "whole" : "bytewise");
        drop(c);
    }
    free(saved);
}

static void test_bad_input(void)
{
    char xs[129];
    memset(xs, 'x', 128);
    xs[128] = '\0';

    buf_append(&wire, "\x81\x02hi", 4);         expect_close(false, 1002, "unmasked");
    frs(FIN | RSV1 | WS_OP_TEXT, "{}");         expect_close(false, 1002, "RSV1");
    frs(FIN | 0x3, "x");                        expect_close(false, 1002, "reserved opcode");
    frm(FIN | WS_OP_BINARY, "\x01\x02", 2);     expect_close(false, 1003, "binary on chat");
    frs(FIN | WS_OP_TEXT, "\"\xff\"");          expect_close(false, 1007, "not UTF-8");
    frs(FIN | WS_OP_TEXT, "\"\xff\"");          expect_close(true, 1007, "not UTF-8 on echo");
    frs(WS_OP_TEXT, "\"\xc3");
    frs(FIN | WS_OP_CONT, "\x28\"");            expect_close(false, 1007, "bad across fragments");
    frs(WS_OP_TEXT, "\"\xc3");
    frs(FIN | WS_OP_CONT, "");                  expect_close(false, 1007, "ends in a character");
    hdr(FIN | WS_OP_TEXT, 129);                 expect_close(false, 1009, "over max: header alone");
    frm(WS_OP_TEXT, xs, 100);
    hdr(FIN | WS_OP_CONT, 29);                  expect_close(false, 1009, "over max: 100 + 29");
    frs(FIN | WS_OP_CONT, "x");                 expect_close(false, 1002, "continuation alone");
    frs(WS_OP_TEXT, "a");
    frs(FIN | WS_OP_TEXT, "b");                 expect_close(false, 1002, "message in a message");
    hdr(FIN | WS_OP_PING, 126);                 expect_close(false, 1002, "control over 125");
    frs(WS_OP_PING, "");                        expect_close(false, 1002, "fragmented control");
    frm(FIN | WS_OP_CLOSE, "\x03\xed", 2);      expect_close(false, 1002, "close 1005");
    frm(FIN | WS_OP_CLOSE, "\x03\xe7", 2);      expect_close(false, 1002, "close 999");
    frm(FIN | WS_OP_CLOSE, "\x03", 1);          expect_close(false, 1002, "1-byte close");
    frm(FIN | WS_OP_CLOSE, "\x03\xe8\xff", 3);  expect_close(false, 1007, "close reason not UTF-8");

    /* Exactly max_message: whole, byte by byte, and as 100 + 28 fragments. */
    char m[129];
    int pad = 128 - (int)strlen("{\"messageType\":1,\"content\":\"\"}");
    snprintf(m, sizeof m, "{\"messageType\":1,\"content\":\"%.*s\"}", pad, xs);
    for (int way = 0; way < 3; way++) {
        struct conn *c = open_conn(0, false);
        if (way < 2) {
            frs(FIN | WS_OP_TEXT, m);
        } else {
            frm(WS_OP_TEXT, m, 100);
            frs(FIN | WS_OP_CONT, m + 100);
        }
        feed_wire(c, way == 1 ? 1 : 4096);
        CHECK(strlen(m) == 128 && routed == 1 && strlen(got[0]) == (size_t)pad && c->open);
        drop(c);
    }
}

/* The close handshake (§5.5.1, §7.4): a client's close is answered with its
 * code (an empty one with an empty one), and nothing after it is read. */
static void test_close(void)
{
    struct { const char *p; size_t len; int code; } in[] = {
        {"\x03\xe8" "bye", 5, 1000}, {"", 0, 0}, {"\x0b\xb8", 2, 3000},
    };
    struct conn *c;
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        c = open_conn(0, false);
        frm(FIN | WS_OP_CLOSE, in[i].p, in[i].len);
        frs(FIN | WS_OP_TEXT, "{\"messageType\":1}");
        feed_wire(c, 4096);
        CHECK(closed(c, in[i].code) && sent[0].len == (in[i].code ? 2u : 0u));
        CHECK(nsent == 1 && routed == 0);
        session_close(c, 1011, "again");            /* already closing: nothing more */
        CHECK(nsent == 1 && !c->killed);
        drop(c);
    }
}

/* JSON that is no Message is refused, not routed. */
static void test_refuse(void)
{
    const char *bad[] = {"[1]", "{", "{\"content\":5}", "\"x\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct conn *c = open_conn(0, false);
        frs(FIN | WS_OP_TEXT, bad[i]);
        feed_wire(c, 4096);
        CHECK(refused == 1 && routed == 0 && why[0] != '\0' && c->open);
        drop(c);
    }
}

/* Idle: ping after the ping interval, back to active on a pong or a
 * message, 1001 at the idle timeout; 1008 when a message trickles in. */
static void test_idle(void)
{
    struct conn *c = open_conn(0, false);
    uint32_t t0 = now_ms;
    now_ms += 1000;
    expire(c);
    CHECK(nsent == 1 && is_frame(0, WS_OP_PING, "", 0) && !sent[0].last);
    CHECK(c->list == PINGED && c->since == t0 && c->open);

    now_ms += 100;                              /* a pong: active again */
    frs(FIN | WS_OP_PONG, "");
    feed_wire(c, 4096);
    CHECK(c->list == ACTIVE && c->since == now_ms && nsent == 1);

    now_ms += 1000;
    expire(c);
    CHECK(nsent == 2 && sent[1].op == WS_OP_PING && c->list == PINGED);
    now_ms += 500;                              /* a whole message: active again */
    frs(FIN | WS_OP_TEXT, "{\"messageType\":1,\"content\":\"hi\"}");
    feed_wire(c, 4096);
    CHECK(routed == 1 && c->list == ACTIVE && c->since == now_ms);

    now_ms += 1000;
    expire(c);
    CHECK(nsent == 3 && c->list == PINGED);
    now_ms += 2000;                             /* silent to the idle timeout */
    expire(c);
    CHECK(closed(c, 1001) && reason_is("idle timeout"));
    drop(c);

    /* A message trickling in: bytes alone are no sign of life... */
    c = open_conn(0, false);
    t0 = now_ms;
    frs(FIN | WS_OP_TEXT, "{\"messageType\":1,\"content\":\"slow\"}");
    size_t n;
    uint8_t *saved = take_wire(&n);
    feed(c, saved, 10);
    now_ms += 1000;
    expire(c);
    CHECK(c->list == PINGED && c->since == t0);
    now_ms += 1500;
    feed(c, saved + 10, 1);
    CHECK(c->list == PINGED && c->since == t0 && routed == 0);
    now_ms += 500;                              /* ...and the last came 500 ms ago */
    expire(c);
    CHECK(closed(c, 1008) && reason_is("message too slow"));
    drop(c);

    /* A half message whose bytes stopped is merely idle. */
    c = open_conn(0, false);
    feed(c, saved, 10);
    now_ms += 1000;
    expire(c);
    now_ms += 2000;
    expire(c);
    CHECK(closed(c, 1001) && reason_is("idle timeout"));
    drop(c);
    free(saved);
}

/* The token bucket: max_rate 1/s, max_burst 3 (pings take tokens too). */
static void test_rate(void)
{
    cfg.max_rate = 1;
    now_ms = UINT32_MAX - 500;  /* forward, to wrap inside the second case */
    const char *m = "{\"messageType\":1,\"content\":\"r\"}";
    struct conn *c = open_conn(0, false);
    for (int i = 0; i < 4; i++)
        frs(FIN | WS_OP_TEXT, m);
    feed_wire(c, 4096);
    CHECK(routed == 3 && closed(c, 1008) && reason_is("rate limit exceeded"));
    CHECK(stats.rate_closes == 1);
    drop(c);

    /* A second later one more may go (the clock wraps in between), not two. */
    c = open_conn(0, false);
    for (int i = 0; i < 3; i++)
        frs(FIN | WS_OP_TEXT, m);
    feed_wire(c, 4096);
    now_ms += 1000;
    frs(FIN | WS_OP_TEXT, m);
    feed_wire(c, 4096);
    CHECK(routed == 4 && c->open);
    frs(FIN | WS_OP_PING, "");
    feed_wire(c, 4096);
    CHECK(routed == 4 && closed(c, 1008) && nsent == 1);
    drop(c);
    cfg.max_rate = 0;
}

/* Overflow, ended and freed. */
static void test_hooks(void)
{
    struct conn *c = open_conn(0, false);
    uint64_t slow = stats.slow_closes, counted = stats.closes[1008 - STATS_CLOSE_MIN];
    c->ops->overflow(c);
    CHECK(closed(c, 1008) && reason_is("too much unread output"));
    CHECK(stats.slow_closes == slow + 1 && stats.closes[1008 - STATS_CLOSE_MIN] == counted + 1);
    c->ops->ended(c);
    CHECK(c->leaves == 1);
    c->ops->freed(c);
    CHECK(!session_is(c));

    /* Freed with a fragment and a half stored: ASan's leak check frees it. */
    c = open_conn(0, false);
    frs(WS_OP_TEXT, "{\"messageType\":1,");
    frs(FIN | WS_OP_CONT, "\"content\":\"x\"}");
    wire.len -= 5;
    feed_wire(c, 4096);
    CHECK(session_is(c) && routed == 0 && c->open);
    drop(c);
    CHECK(!session_is(c));
}

/* /echo: text and binary come back as they were, up to 16 MiB. */
static void test_echo(void)
{
    struct conn *c = open_conn(2, true);
    CHECK(c->joins == 0 && session_is(c));
    frs(FIN | WS_OP_TEXT, "h\xc3\xa9llo");
    frm(FIN | WS_OP_BINARY, "\x00\xff\x01", 3);
    frm(WS_OP_BINARY, "\x01\x02", 2);
    frm(FIN | WS_OP_CONT, "\x03", 1);
    feed_wire(c, 4096);
    CHECK(nsent == 3 && routed == 0 && refused == 0);
    CHECK(is_frame(0, WS_OP_TEXT, "h\xc3\xa9llo", 6) && is_frame(1, WS_OP_BINARY, "\x00\xff\x01", 3));
    CHECK(is_frame(2, WS_OP_BINARY, "\x01\x02\x03", 3));

    /* Exactly 16 MiB, whole and in 1 MiB reads. */
    size_t big = 16u << 20;
    uint8_t *data = malloc(big);
    for (size_t i = 0; i < big; i++)
        data[i] = (uint8_t)(i * 7 + (i >> 12));
    for (int way = 0; way < 2; way++) {
        reset();
        frm(FIN | WS_OP_BINARY, data, big);
        feed_wire(c, way ? 1u << 20 : wire.len);
        CHECK(nsent == 1 && is_frame(0, WS_OP_BINARY, data, big) && c->open);
    }
    free(data);
    drop(c);

    c = open_conn(2, true);
    hdr(FIN | WS_OP_BINARY, big + 1);
    feed_wire(c, 4096);
    CHECK(closed(c, 1009));
    drop(c);
}

int main(void)
{
    log_set_level(LOG_ERROR);
    wire = buf_make(64u << 20);
    CHECK(session_init(&cfg, 4) == 0 && nlists == NLISTS);
    test_messages();
    test_fragments();
    test_bad_input();
    test_close();
    test_refuse();
    test_idle();
    test_rate();
    test_hooks();
    test_echo();
    CHECK(order_errors == 0);
    reset();
    buf_free(&wire);
    return check_summary("session");
}

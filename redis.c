/* redis.c - owns the client of redis.h: the address it is given, its
 * connections (redis_link.c carries each one's bytes) and what it says on
 * them first (AUTH, PING, the subscriber's SUBSCRIBEs), the subscriptions
 * and their messages, the PING that measures the round trip and finds a
 * silent server, the reconnect with backoff, the start, and the one up or
 * down state the caller sees. What the commands mean is the caller's
 * business: nothing here knows chat. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "redis.h"
#include "redis_link.h"

#define MAX_LINE 65536 /* an error reply's message: Lua's can be long, never this long */
#define MAX_DEPTH 8    /* arrays in arrays: a script's reply may nest a few */

/* ---- Addresses -------------------------------------------------------------- */

/* A port from 1 to 65535, digits only. */
static bool port_number(const char *s, uint16_t *out)
{
    unsigned long n = 0;

    if (*s == '\0' || strlen(s) > 5)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        n = n * 10 + (unsigned long)(*s - '0');
    }
    *out = (uint16_t)n;
    return n >= 1 && n <= 65535;
}

static bool parse_address(const char *s, struct redis_address *out)
{
    size_t n = strlen(s);
    char host[64];
    uint16_t port;

    if (n >= sizeof out->text)
        return false;
    memcpy(out->text, s, n + 1);
    if (strncmp(s, "unix:", 5) == 0) {
        struct sockaddr_un *un = (struct sockaddr_un *)&out->sa;
        if (n == 5 || n - 5 >= sizeof un->sun_path)
            return false;
        un->sun_family = AF_UNIX;
        memcpy(un->sun_path, s + 5, n - 5 + 1);
        out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n - 5 + 1);
        return true;
    }
    const char *colon = strrchr(s, ':');
    if (!colon || (size_t)(colon - s) >= sizeof host || !port_number(colon + 1, &port))
        return false;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';

    struct sockaddr_in *v4 = (struct sockaddr_in *)&out->sa;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&out->sa;
    size_t hlen = strlen(host);
    if (hlen > 2 && host[0] == '[' && host[hlen - 1] == ']') {
        host[hlen - 1] = '\0';
        if (inet_pton(AF_INET6, host + 1, &v6->sin6_addr) != 1)
            return false;
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        out->len = sizeof *v6;
        return true;
    }
    if (inet_pton(AF_INET, strcmp(host, "localhost") == 0 ? "127.0.0.1" : host,
                  &v4->sin_addr) != 1)
        return false;
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    out->len = sizeof *v4;
    return true;
}

bool redis_address_parse(const char *s, struct redis_address *out)
{
    *out = (struct redis_address){.len = 0};
    if (parse_address(s, out))
        return true;
    *out = (struct redis_address){.len = 0};
    return false;
}

/* ---- State ------------------------------------------------------------------ */

struct subscription {
    char name[REDIS_MAX_CHANNEL];
    size_t len;
    bool pattern;
    redis_message_fn *fn;
    void *data;
};

struct redis {
    struct loop *loop;
    struct redis_options o;
    struct resp_limits lim;
    redis_state_fn *state_fn;
    void *state_data;
    struct link links[2];      /* the command connection, then the subscriber */
    size_t nlinks;             /* 1, or 2 with a subscriber */
    bool up;                   /* every link READY */
    bool ever_up;              /* so a later up is a reconnect */
    bool starting;             /* in redis_start: a failure ends it, no retry */
    bool start_failed;
    bool closing;              /* in redis_free */
    char why[LINK_WHY];        /* why it is down */
    struct subscription subs[REDIS_MAX_SUBSCRIPTIONS];
    size_t nsubs;
    struct loop_timer tick;    /* pings and timeouts */
    int64_t rtt_us;
    uint64_t reconnects, connects;
    uint64_t rng;              /* xorshift64 state, for the jitter */
};

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Comes up when every link is ready and goes down when one is not, telling
 * the caller once per change. */
static void update_state(struct redis *r)
{
    bool up = true;

    for (size_t i = 0; i < r->nlinks; i++)
        up = up && r->links[i].state == LINK_READY;
    if (up == r->up)
        return;
    r->up = up;
    if (up) {
        r->reconnects += r->ever_up;
        r->ever_up = true;
        r->why[0] = '\0';
    }
    if (r->state_fn && !r->starting)
        r->state_fn(r->state_data, up, up ? NULL : r->why);
}

/* The handshake's and the tick's own commands: two words at most. */
static bool send_words(struct link *k, size_t argc, const char *const argv[],
                       redis_reply_fn *fn)
{
    size_t lens[2];

    for (size_t i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    return link_send(k, argc, argv, lens, fn, k);
}

/* ---- Dropping and retrying -------------------------------------------------- */

static void connect_link(struct link *k)
{
    struct redis *r = k->owner;

    r->connects++;
    link_open(k);
}

static void on_retry(struct loop *l, void *data)
{
    (void)l;
    connect_link(data);
}

/* Waits min doubling per failure up to max, then a random point in its
 * upper half: never under half the step, and nodes that lost the same
 * Redis at once spread their retries. */
static void schedule_retry(struct link *k)
{
    struct redis *r = k->owner;
    unsigned shift = k->failures < 16 ? k->failures : 16;
    uint64_t step = (uint64_t)r->o.backoff_min_ms << shift;

    if (step > r->o.backoff_max_ms)
        step = r->o.backoff_max_ms;
    r->rng ^= r->rng << 13;
    r->rng ^= r->rng >> 7;
    r->rng ^= r->rng << 17;
    k->failures++;
    loop_timer_arm(r->loop, &k->retry,
                   loop_now(r->loop) + (int64_t)(step / 2 + r->rng % (step / 2 + 1)));
}

static void on_dropped(struct link *k, const char *why)
{
    struct redis *r = k->owner;

    k->pinging = false;
    if (r->closing)
        return;
    if (!r->start_failed) /* at the start, the first failure is the one to report */
        snprintf(r->why, sizeof r->why, "%s", why);
    update_state(r);
    if (r->starting)
        r->start_failed = true;
    else
        schedule_retry(k);
}

/* ---- The handshake ---------------------------------------------------------- */

static void handshake_step(struct link *k, const struct resp_elem *reply, const char *what)
{
    if (!reply)
        return; /* the link is gone: link_drop said why */
    if (reply->type == RESP_ERROR) {
        link_break(k, what, reply);
        return;
    }
    if (--k->handshake_left == 0) {
        k->state = LINK_READY;
        update_state(k->owner);
    }
}

static void on_auth(void *data, const struct resp_elem *reply, const char *failure)
{
    (void)failure;
    handshake_step(data, reply, "AUTH");
}

static void on_hello(void *data, const struct resp_elem *reply, const char *failure)
{
    struct link *k = data;
    struct redis *r = k->owner;

    (void)failure;
    if (reply && !k->subscriber)
        r->rtt_us = now_us() - k->ping_us;
    handshake_step(k, reply, "PING");
}

static void on_subscribed(void *data, const struct resp_elem *reply, const char *failure)
{
    (void)failure;
    handshake_step(data, reply, "SUBSCRIBE");
}

/* A SUBSCRIBE sent once the handshake was under way: not part of it. */
static void on_late_subscribed(void *data, const struct resp_elem *reply, const char *failure)
{
    (void)failure;
    if (reply && reply->type == RESP_ERROR)
        link_break(data, "SUBSCRIBE", reply);
}

static bool send_subscribe(struct link *k, const struct subscription *s, redis_reply_fn *fn)
{
    const char *argv[] = {s->pattern ? "PSUBSCRIBE" : "SUBSCRIBE", s->name};
    const size_t lens[] = {strlen(argv[0]), s->len};

    return link_send(k, 2, argv, lens, fn, k);
}

/* Connected: AUTH first when there is a password, then a PING, so "ready"
 * means Redis answers (a Redis still loading its data refuses the PING),
 * then on the subscriber one SUBSCRIBE a channel, each its own reply. */
static void on_connected(struct link *k)
{
    struct redis *r = k->owner;
    const char *ping[] = {"PING"};
    bool ok = true;

    k->handshake_left = 0;
    if (r->o.password) {
        const char *argv[] = {"AUTH", r->o.password};
        ok = send_words(k, 2, argv, on_auth);
        k->handshake_left++;
    }
    k->ping_us = now_us();
    ok = ok && send_words(k, 1, ping, on_hello);
    k->handshake_left++;
    for (size_t i = 0; k->subscriber && i < r->nsubs; i++, k->handshake_left++)
        ok = ok && send_subscribe(k, &r->subs[i], on_subscribed);
    if (!ok)
        link_drop(k, "the handshake does not fit the output");
}

/* ---- Pushes, pings and timeouts --------------------------------------------- */

static bool is_bulk(const struct resp_elem *e, const char *s)
{
    return e->type == RESP_BULK && e->len == strlen(s) && memcmp(e->str, s, e->len) == 0;
}

/* A subscriber's "message" (channel, payload) or "pmessage" (pattern,
 * channel, payload) push, handed to its subscription; true if it was one. */
static bool on_push(struct link *k, const struct resp_elem *e)
{
    struct redis *r = k->owner;

    if (!k->subscriber || e->type != RESP_ARRAY || e->next != e->len + 1)
        return false; /* not an array of plain strings */
    bool p = e->len == 4 && is_bulk(&e[1], "pmessage");
    if (!p && !(e->len == 3 && is_bulk(&e[1], "message")))
        return false;
    const struct resp_elem *name = &e[2], *channel = &e[2 + p], *payload = &e[3 + p];
    if (channel->type != RESP_BULK || payload->type != RESP_BULK)
        return false;
    for (size_t i = 0; i < r->nsubs; i++) {
        const struct subscription *s = &r->subs[i];
        if (s->pattern == p && s->len == name->len && memcmp(s->name, name->str, s->len) == 0) {
            s->fn(s->data, channel->str, channel->len, payload->str, payload->len);
            break;
        }
    }
    return true;
}

static void on_pong(void *data, const struct resp_elem *reply, const char *failure)
{
    struct link *k = data;
    struct redis *r = k->owner;

    (void)failure;
    if (!reply)
        return;
    k->pinging = false;
    if (reply->type == RESP_ERROR) {
        link_break(k, "PING", reply);
        return;
    }
    if (!k->subscriber)
        r->rtt_us = now_us() - k->ping_us;
    k->failures = 0; /* answering, not just accepting connections */
}

/* Each ping_ms: a connect or the oldest reply overdue drops its link; a
 * ready link with no PING out gets one. */
static void on_tick(struct loop *l, void *data)
{
    struct redis *r = data;
    int64_t now = loop_now(l);

    for (size_t i = 0; i < r->nlinks; i++) {
        struct link *k = &r->links[i];
        int64_t oldest = link_oldest(k);
        if (k->state == LINK_CONNECTING && now - k->since >= r->o.timeout_ms) {
            link_drop(k, "connect: no answer in %u ms", r->o.timeout_ms);
        } else if (k->state >= LINK_HANDSHAKE && oldest >= 0 && now - oldest >= r->o.timeout_ms) {
            link_drop(k, "no reply in %u ms", r->o.timeout_ms);
        } else if (k->state == LINK_READY && !k->pinging) {
            const char *argv[] = {"PING"};
            k->ping_us = now_us();
            k->pinging = send_words(k, 1, argv, on_pong);
        }
    }
    loop_timer_arm(l, &r->tick, now + r->o.ping_ms);
}

/* ---- The client ------------------------------------------------------------- */

static const struct link_hooks hooks = {
    .connected = on_connected,
    .dropped = on_dropped,
    .push = on_push,
};

struct redis *redis_create(struct loop *l, const struct redis_options *o, redis_state_fn *state,
                           void *data)
{
    struct redis *r = calloc(1, sizeof *r);

    if (!r)
        return NULL;
    *r = (struct redis){.loop = l, .o = *o, .state_fn = state, .state_data = data,
                        .nlinks = o->subscriber ? 2 : 1, .rtt_us = -1,
                        .rng = (uint64_t)now_us() ^ ((uint64_t)getpid() << 32) ^ (uintptr_t)r};
    r->rng += !r->rng; /* xorshift's one stuck state */
    r->lim = (struct resp_limits){.max_bulk = o->max_input, .max_line = MAX_LINE,
                                  .max_depth = MAX_DEPTH};
    r->tick = (struct loop_timer){.fn = on_tick, .data = r};
    snprintf(r->why, sizeof r->why, "not started");
    for (size_t i = 0; i < r->nlinks; i++) {
        struct link *k = &r->links[i];
        int ok = link_init(k, &hooks, r, l, &r->o, &r->lim, i ? "subscriber" : "command");
        k->subscriber = i == 1;
        k->retry = (struct loop_timer){.fn = on_retry, .data = k};
        if (ok < 0) {
            redis_free(r);
            return NULL;
        }
    }
    return r;
}

int redis_start(struct redis *r, char *why, size_t cap)
{
    r->starting = true;
    loop_timer_arm(r->loop, &r->tick, loop_now(r->loop) + r->o.ping_ms);
    for (size_t i = 0; i < r->nlinks && !r->start_failed; i++)
        connect_link(&r->links[i]);
    while (!r->up && !r->start_failed)
        loop_wait(r->loop, (int)r->o.ping_ms); /* the tick ends it within timeout_ms */
    r->starting = false;
    if (r->up)
        return 0;
    snprintf(why, cap, "%s", r->why);
    return -1;
}

void redis_free(struct redis *r)
{
    if (!r)
        return;
    r->closing = true;
    loop_timer_cancel(r->loop, &r->tick);
    for (size_t i = 0; i < r->nlinks; i++) {
        loop_timer_cancel(r->loop, &r->links[i].retry);
        link_free(&r->links[i], "the client was closed");
    }
    free(r);
}

bool redis_command(struct redis *r, size_t argc, const char *const argv[], const size_t lens[],
                   redis_reply_fn *cb, void *data)
{
    return r->up && link_send(&r->links[0], argc, argv, lens, cb, data);
}

int redis_subscribe(struct redis *r, const char *name, size_t len, bool pattern,
                    redis_message_fn *fn, void *data)
{
    if (!r->o.subscriber || r->nsubs == REDIS_MAX_SUBSCRIPTIONS || len == 0 ||
        len >= REDIS_MAX_CHANNEL)
        return -1;
    struct subscription *s = &r->subs[r->nsubs];
    *s = (struct subscription){.len = len, .pattern = pattern, .fn = fn, .data = data};
    memcpy(s->name, name, len);
    /* Once connected, the handshake has gone with the list as it was;
     * before, it will take this one too. */
    struct link *k = &r->links[1];
    if (k->state >= LINK_HANDSHAKE && !send_subscribe(k, s, on_late_subscribed))
        return -1;
    r->nsubs++;
    return 0;
}

void redis_flush(struct redis *r)
{
    link_flush(&r->links[0]);
}

bool redis_up(const struct redis *r)
{
    return r->up;
}

const char *redis_problem(const struct redis *r)
{
    return r->up ? NULL : r->why;
}

int64_t redis_rtt_us(const struct redis *r)
{
    return r->rtt_us;
}

uint64_t redis_reconnects(const struct redis *r)
{
    return r->reconnects;
}

uint64_t redis_connects(const struct redis *r)
{
    return r->connects;
}

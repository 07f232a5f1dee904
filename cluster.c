/* cluster.c - the Redis side of routing with several nodes (see cluster.h):
 * the calls of the routing script (cluster_script.c) and its reloading,
 * the node's heartbeat and presence, and the start; the bus has a file of
 * its own (cluster_bus.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "cluster.h"
#include "cluster_bus.h"
#include "cluster_script.h"
#include "stats.h"

#define HEARTBEAT_MS 2000       /* the node's heartbeat is renewed, and dead nodes looked for, this often */
#define HEARTBEAT_TTL_MS 8000   /* a heartbeat lives this long, so a dead node is reaped within 10 s */
#define MAX_ARGS 11             /* EVALSHA sha 0 and eight ARGV */

static struct {
    struct loop *loop;
    struct redis *redis;        /* NULL: one node, routing stays local */
    const struct cluster_owner *owner;
    char *script;               /* cluster_script's text, for SCRIPT LOAD and EVAL */
    size_t script_len;
    char sha[41];               /* SCRIPT LOAD's answer */
    char node[17];              /* this node's id on the bus and in its keys, hex */
    bool was_down;              /* Redis went away since it was last up */
    bool setting;               /* an X (the whole presence) is on its way */
    struct loop_timer heartbeat;
    uint64_t routed;            /* messages handed to the script */
    char problem[300];          /* why routing cannot go through Redis now */
} g;

/* ------------------------------------------------------------ the script */

/* A call of the script, kept until its reply so it can be sent again as
 * EVAL where Redis answers NOSCRIPT (a restarted Redis has an empty script
 * cache). The arguments are copied into text[]. */
struct call {
    char op;
    cluster_done_fn *done;
    cluster_kept_fn *kept;
    cluster_online_fn *online;
    void *data;
    bool retried;               /* sent again as EVAL already */
    size_t argc;                /* ARGV only */
    const char *argv[MAX_ARGS];
    size_t lens[MAX_ARGS];
    char text[];
};

/* What a call carries beside its op and sender. */
struct args {
    const char *target, *json, *extra;
    size_t target_len, json_len, extra_len;
    long number;
    bool templates;             /* ARGV 8: the announcements' templates */
};

static bool send_call(struct call *c);
static void reregister(void);

static void call_fail(struct call *c, const char *why)
{
    if (c->done)
        c->done(c->data, -1, false, why);
    if (c->kept)
        c->kept(c->data, 0, NULL, 0);
    if (c->online)
        c->online(c->data, -1, NULL, 0, why);
    if (c->op == 'X')
        g.setting = false;
    free(c);
}

/* {id, delivered, how (0 sent, 1 kept, 2 not online, 3 too big to keep),
 * and for a kept one how many older ones it pushed out}. */
static void answer_route(const struct call *c, const struct resp_elem *reply)
{
    bool ok = reply->type == RESP_ARRAY && reply->len >= 3 && reply[2].type == RESP_INTEGER &&
              reply[3].type == RESP_INTEGER;
    if (ok && reply->len >= 4 && reply[4].type == RESP_INTEGER && reply[4].integer > 0)
        stats.offline_dropped += (uint64_t)reply[4].integer;
    if (!c->done)
        return;
    if (!ok)
        c->done(c->data, -1, false, "Redis gave the routing script an unexpected answer");
    else if (reply[3].integer == 2)
        c->done(c->data, 0, false, "not online");
    else if (reply[3].integer == 3)
        c->done(c->data, 0, false, "the message is larger than --offline-bytes");
    else
        c->done(c->data, reply[2].integer, reply[3].integer == 1, NULL);
}

static void answer_online(const struct call *c, const struct resp_elem *reply)
{
    if (reply->type == RESP_ARRAY && reply->len == 2 && reply[1].type == RESP_INTEGER &&
        reply[2].type == RESP_BULK)
        c->online(c->data, reply[1].integer, reply[2].str, reply[2].len, NULL);
    else
        c->online(c->data, -1, NULL, 0, "Redis gave an unexpected list of users");
}

/* A kept message as Redis keeps it, "id\njson", to c's callback. */
static void kept_entry(const struct call *c, const char *entry, size_t len)
{
    const char *nl = memchr(entry, '\n', len);
    if (!nl || nl - entry > 20)
        return;
    char id[24];
    snprintf(id, sizeof id, "%.*s", (int)(nl - entry), entry);
    c->kept(c->data, strtoull(id, NULL, 10), nl + 1, len - (size_t)(nl + 1 - entry));
}

static void on_call_reply(void *data, const struct resp_elem *reply, const char *failure)
{
    struct call *c = data;
    if (!reply) {
        call_fail(c, failure);
        return;
    }
    if (reply->type == RESP_ERROR) {
        if (!c->retried && reply->len >= 8 && memcmp(reply->str, "NOSCRIPT", 8) == 0) {
            c->retried = true;
            if (send_call(c))
                return;
        }
        char why[200];
        snprintf(why, sizeof why, "Redis refused the routing script: %.*s",
                 (int)(reply->len < 150 ? reply->len : 150), reply->str);
        call_fail(c, why);
        return;
    }
    if (c->kept) {
        for (size_t i = 1; reply->type == RESP_ARRAY && i < reply->next; i++)
            if (reply[i].type == RESP_BULK)
                kept_entry(c, reply[i].str, reply[i].len);
        c->kept(c->data, 0, NULL, 0);
    } else if (c->op == CLUSTER_GROUP || c->op == CLUSTER_ROOM || c->op == CLUSTER_SINGLE) {
        answer_route(c, reply);
    } else if (c->online) {
        answer_online(c, reply);
    }
    if (c->op == 'X')
        g.setting = false;
    /* This node was reaped (or Redis lost its keys): what was refused is
     * in the whole presence, set again from what the node holds now. */
    bool unregistered = reply->type == RESP_INTEGER && reply->integer == 1 &&
                        (c->op == 'P' || c->op == 'J' || c->op == 'B');
    free(c);
    if (unregistered)
        reregister();
}

/* EVALSHA, or EVAL once Redis said it lacks the script. */
static bool send_call(struct call *c)
{
    const char *argv[MAX_ARGS + 3];
    size_t lens[MAX_ARGS + 3];
    argv[0] = c->retried ? "EVAL" : "EVALSHA";
    argv[1] = c->retried ? g.script : g.sha;
    lens[1] = c->retried ? g.script_len : 40;
    argv[2] = "0";
    lens[2] = 1;
    lens[0] = strlen(argv[0]);
    for (size_t i = 0; i < c->argc; i++) {
        argv[3 + i] = c->argv[i];
        lens[3 + i] = c->lens[i];
    }
    return redis_command(g.redis, 3 + c->argc, argv, lens, on_call_reply, c);
}

/* Calls the script with op from from; c's callbacks are taken from proto. */
static bool call(char op, struct cluster_sender from, const struct args *a,
                 const struct call *proto)
{
    if (cluster_problem())
        return false;
    char sender[32], num[24];
    int sl = snprintf(sender, sizeof sender, "%u:%u", from.conn, from.serial);
    int nl = snprintf(num, sizeof num, "%ld", a->number);
    size_t tl = 0;
    char *templates = a->templates ? g.owner->templates(&tl) : NULL;
    if (a->templates && !templates)
        return false;
    const char *parts[8] = {&op, g.node, sender, a->target ? a->target : "",
                            a->json ? a->json : "", num, a->extra ? a->extra : "",
                            templates ? templates : ""};
    size_t lens[8] = {1, strlen(g.node), (size_t)sl, a->target_len, a->json_len, (size_t)nl,
                      a->extra_len, tl};
    size_t total = 0;
    for (size_t i = 0; i < 8; i++)
        total += lens[i];
    struct call *c = malloc(sizeof *c + total + 1);
    if (!c) {
        free(templates);
        return false;
    }
    *c = *proto;
    c->op = op;
    c->argc = 8;
    char *at = c->text;
    for (size_t i = 0; i < 8; i++) {
        memcpy(at, parts[i], lens[i]);
        c->argv[i] = at;
        c->lens[i] = lens[i];
        at += lens[i];
    }
    free(templates);
    if (!send_call(c)) {
        free(c);
        return false;
    }
    return true;
}

static const struct cluster_sender nobody = {0, 0};

bool cluster_route(enum cluster_op op, const char *target, size_t tlen,
                   struct cluster_sender from, const char *json, size_t len, size_t keep_max,
                   cluster_done_fn *done, void *data)
{
    struct args a = {.target = target, .target_len = tlen, .json = json, .json_len = len,
                     .number = (long)keep_max};
    bool sent = call((char)op, from, &a, &(struct call){.done = done, .data = data});
    if (sent)
        g.routed++;
    return sent;
}

/* Refused while Redis is down, or while the node is not registered: the
 * node sets its whole presence again when it is back (reregister). */
void cluster_presence(const char *user, size_t len, long delta, struct cluster_sender from,
                      const char *json, size_t jlen)
{
    struct args a = {.target = user, .target_len = len, .json = json, .json_len = jlen,
                     .number = delta};
    call('P', from, &a, &(struct call){0});
}

void cluster_membership(const char *room, size_t rlen, const char *user, size_t ulen,
                        long delta, struct cluster_sender from, const char *json, size_t jlen)
{
    struct args a = {.target = room, .target_len = rlen, .json = json, .json_len = jlen,
                     .number = delta, .extra = user, .extra_len = ulen};
    call('J', from, &a, &(struct call){0});
}

void cluster_reregister(const char *users, size_t ulen, const char *members, size_t mlen)
{
    struct args a = {.json = users, .json_len = ulen, .extra = members, .extra_len = mlen,
                     .templates = true};
    g.setting = call('X', nobody, &a, &(struct call){0});
}

/* Once at a time: the X on its way covers every change made before it. */
static void reregister(void)
{
    if (!g.setting)
        g.owner->reregister();
}

void cluster_take_kept(const char *user, size_t len, cluster_kept_fn *fn, void *data)
{
    struct args a = {.target = user, .target_len = len};
    if (!call('K', nobody, &a, &(struct call){.kept = fn, .data = data}))
        fn(data, 0, NULL, 0);
}

void cluster_give_back(const char *user, size_t ulen, const char *entries, size_t len)
{
    struct args a = {.target = user, .target_len = ulen, .json = entries, .json_len = len};
    call('T', nobody, &a, &(struct call){0});
}

bool cluster_reply(struct cluster_sender from, const char *json, size_t len)
{
    struct args a = {.json = json, .json_len = len};
    return call(CLUSTER_REPLY, from, &a, &(struct call){0});
}

void cluster_online(const char *room, size_t len, cluster_online_fn *fn, void *data)
{
    struct args a = {.target = room, .target_len = len};
    if (!call('O', nobody, &a, &(struct call){.online = fn, .data = data}))
        fn(data, -1, NULL, 0, cluster_problem() ? cluster_problem() : "Redis is not keeping up");
}

struct count {
    cluster_count_fn *fn;
    void *data;
};

static void on_count(void *data, const struct resp_elem *reply, const char *failure)
{
    struct count *c = data;
    if (!reply)
        c->fn(c->data, -1, failure);
    else if (reply->type == RESP_NIL)
        c->fn(c->data, 0, NULL);     /* no node has counted a connection yet */
    else if (reply->type == RESP_BULK && reply->len < 20)
        c->fn(c->data, strtol(reply->str, NULL, 10), NULL);
    else
        c->fn(c->data, -1, "Redis gave an unexpected count");
    free(c);
}

void cluster_connections(cluster_count_fn *fn, void *data)
{
    const char *argv[] = {"GET", "pusher:conns"};
    size_t lens[] = {3, 12};
    struct count *c = cluster_problem() ? NULL : malloc(sizeof *c);
    if (c) {
        *c = (struct count){fn, data};
        if (redis_command(g.redis, 2, argv, lens, on_count, c))
            return;
        free(c);
    }
    fn(data, -1, cluster_problem() ? cluster_problem() : "Redis is not keeping up");
}

/* ---------------------------------------------------------------- state */

void cluster_flush(void)
{
    if (g.redis)
        redis_flush(g.redis);
}

bool cluster_on(void)
{
    return g.redis != NULL;
}

const char *cluster_problem(void)
{
    if (!g.redis || redis_up(g.redis))
        return NULL;
    snprintf(g.problem, sizeof g.problem, "Redis is unreachable (%s)",
             redis_problem(g.redis) ? redis_problem(g.redis) : "down");
    return g.problem;
}

void cluster_stats(struct cluster_stats *s)
{
    bus_stats(s);
    s->routed = g.routed;
}

static void on_heartbeat(struct loop *l, void *data)
{
    (void)data;
    struct args a = {.number = HEARTBEAT_TTL_MS, .templates = true};
    call('B', nobody, &a, &(struct call){0}); /* refused while down: the next beat */
    loop_timer_arm(l, &g.heartbeat, loop_now(l) + HEARTBEAT_MS);
}

void cluster_redis_state(bool up)
{
    if (!g.redis)
        return;
    if (!up) {
        g.was_down = true;
        return;
    }
    if (!g.was_down)
        return;
    /* Redis may have lost this node's counts (a restart) or kept them (a
     * dropped connection): routing sets them again. And the bus may have
     * gone on without this node: the histories say what it missed. */
    g.was_down = false;
    g.setting = false;
    g.owner->reregister();
    on_heartbeat(g.loop, NULL);
    bus_fill_gap();
}

/* ---------------------------------------------------------------- start */

struct wait {
    bool done;
    const char *failure;
    char sha[41];
};

static void on_load(void *data, const struct resp_elem *reply, const char *failure)
{
    struct wait *w = data;
    w->done = true;
    if (!reply)
        w->failure = failure;
    else if (reply->type != RESP_BULK || reply->len != 40)
        w->failure = "SCRIPT LOAD did not answer with a SHA1";
    else
        memcpy(w->sha, reply->str, 40);
}

static int await(struct wait *w, char *why, size_t cap)
{
    while (!w->done)
        loop_wait(g.loop, 100);
    if (w->failure) {
        snprintf(why, cap, "%s", w->failure);
        return -1;
    }
    return 0;
}

int cluster_start(struct loop *l, struct redis *r, const struct cluster_owner *o,
                  const struct cluster_limits *lim, char *why, size_t cap)
{
    uint64_t id;
    if (getrandom(&id, sizeof id, 0) != sizeof id) {
        snprintf(why, cap, "no random bytes for the node's id");
        return -1;
    }
    g.loop = l;
    g.redis = r;
    g.owner = o;
    snprintf(g.node, sizeof g.node, "%016llx", (unsigned long long)id);
    if (!(g.script = cluster_script(lim, &g.script_len))) {
        snprintf(why, cap, "out of memory");
        goto fail;
    }
    struct wait w = {0};
    const char *load[] = {"SCRIPT", "LOAD", g.script};
    size_t load_lens[] = {6, 4, g.script_len};
    if (!redis_command(r, 3, load, load_lens, on_load, &w) || await(&w, why, cap) < 0)
        goto fail;
    memcpy(g.sha, w.sha, sizeof g.sha);
    g.owner->reregister();      /* registers the node, with no one yet */
    if (bus_start(l, r, g.node, o, why, cap) < 0)
        goto fail;
    g.heartbeat = (struct loop_timer){.fn = on_heartbeat};
    on_heartbeat(l, NULL);
    return 0;
fail:
    if (!why[0])
        snprintf(why, cap, "%s", redis_problem(r) ? redis_problem(r) : "Redis refused");
    g.redis = NULL;
    return -1;
}

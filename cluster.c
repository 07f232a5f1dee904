/* cluster.c - the Redis side of routing with several nodes (see cluster.h):
 * the routing script, its loading and reloading, the bus, presence counts,
 * the node's heartbeat, and the history read back at start. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "cluster.h"

#define HEARTBEAT_MS 5000       /* the node's alive key is refreshed this often */
#define HEARTBEAT_TTL "15000"   /* and lives this long (ms): a node silent past 15 s is gone */
#define MAX_ARGS 9              /* EVALSHA sha 0 and six ARGV */

/* Why the script builds the final JSON itself: the id must be taken, the
 * message kept and published in one atomic step, or two nodes could
 * publish ids out of order (A takes 5, B takes 6, B publishes first). So
 * the node encodes the Message with "id":0 last, and the script splices its
 * id in before keeping and publishing: one order on the bus, the id order.
 *
 * ARGV: 1 op, 2 node, 3 sender ("conn:serial"), 4 target, 5 json, 6 a number
 * (a Single: how many kept at most; presence: the change in connections).
 * X sets the node's whole presence at once (ARGV 5 is "user\ncount\n"
 * pairs), so a node back from an outage corrects the counts without a
 * moment at zero that would announce its users offline. Every key is under
 * the prefix and none is passed in KEYS: this is for one Redis, not a
 * Redis Cluster.
 * Bus messages are "op\nnode\nsender\ntarget\nid\njson": a userId or a room
 * has no control character, so no field but the last holds a newline. */
static const char script[] =
    "local p, op, node = 'pusher:', ARGV[1], ARGV[2]\n"
    "local function next_id()\n"
    "  if redis.call('EXISTS', p .. 'id') == 0 then\n"
    "    local t = redis.call('TIME')\n"
    "    redis.call('SET', p .. 'id', t[1] .. string.format('%06d', tonumber(t[2])))\n"
    "  end\n"
    "  return string.format('%.0f', redis.call('INCR', p .. 'id'))\n"
    "end\n"
    "local function seal(id, json) return string.sub(json, 1, -3) .. id .. '}' end\n"
    "local function send(kind, target, json, hist)\n"
    "  local id = next_id()\n"
    "  local msg = seal(id, json)\n"
    "  if hist then\n"
    "    redis.call('RPUSH', hist, id .. '\\n' .. msg)\n"
    "    redis.call('LTRIM', hist, -100, -1)\n"
    "  end\n"
    "  redis.call('PUBLISH', p .. 'bus', table.concat({kind, node, ARGV[3], target, id, msg}, '\\n'))\n"
    "  return id\n"
    "end\n"
    "local function conns() return tonumber(redis.call('GET', p .. 'conns') or '0') end\n"
    "local function count(key, field, delta)\n"
    "  local n = redis.call('HINCRBY', key, field, delta)\n"
    "  if n <= 0 then redis.call('HDEL', key, field) end\n"
    "  return n\n"
    "end\n"
    "if op == 'G' then\n"
    "  local skip = ARGV[3] == '0:0' and 0 or 1\n"
    "  return {send('G', '', ARGV[5], p .. 'history'), conns() - skip, 0}\n"
    "elseif op == 'R' then\n"
    "  return {send('R', ARGV[4], ARGV[5], p .. 'room:' .. ARGV[4]), -1, 0}\n"
    "elseif op == 'S' then\n"
    "  local n = tonumber(redis.call('HGET', p .. 'online', ARGV[4]) or '0')\n"
    "  if n > 0 then return {send('S', ARGV[4], ARGV[5], nil), n, 0} end\n"
    "  local max = tonumber(ARGV[6])\n"
    "  if max <= 0 then return {'0', 0, 2} end\n"
    "  local id = next_id()\n"
    "  local box = p .. 'kept:' .. ARGV[4]\n"
    "  redis.call('RPUSH', box, seal(id, ARGV[5]))\n"
    "  redis.call('LTRIM', box, -max, -1)\n"
    "  return {id, 0, 1}\n"
    "elseif op == 'P' then\n"
    "  local delta = tonumber(ARGV[6])\n"
    "  count(p .. 'node:' .. node, ARGV[4], delta)\n"
    "  local all = count(p .. 'online', ARGV[4], delta)\n"
    "  redis.call('INCRBY', p .. 'conns', delta)\n"
    "  if (delta > 0 and all == delta) or (delta < 0 and all <= 0) then\n"
    "    send('G', '', ARGV[5], p .. 'history')\n"
    "  end\n"
    "  return 0\n"
    "elseif op == 'X' then\n"
    "  local key = p .. 'node:' .. node\n"
    "  local h = redis.call('HGETALL', key)\n"
    "  for i = 1, #h, 2 do\n"
    "    count(p .. 'online', h[i], -tonumber(h[i + 1]))\n"
    "    redis.call('INCRBY', p .. 'conns', -tonumber(h[i + 1]))\n"
    "  end\n"
    "  redis.call('DEL', key)\n"
    "  for u, n in string.gmatch(ARGV[5], '([^\\n]*)\\n(%d+)\\n') do\n"
    "    redis.call('HSET', key, u, n)\n"
    "    count(p .. 'online', u, tonumber(n))\n"
    "    redis.call('INCRBY', p .. 'conns', tonumber(n))\n"
    "  end\n"
    "  return 0\n"
    "elseif op == 'K' then\n"
    "  local box = p .. 'kept:' .. ARGV[4]\n"
    "  local v = redis.call('LRANGE', box, 0, -1)\n"
    "  redis.call('DEL', box)\n"
    "  return v\n"
    "end\n"
    "return redis.error_reply('pusher: unknown op ' .. op)\n";

static struct {
    struct loop *loop;
    struct redis *redis;        /* NULL: one node, routing stays local */
    const struct cluster_owner *owner;
    char sha[41];               /* SCRIPT LOAD's answer */
    char node[17];              /* this node's id on the bus and in its keys, hex */
    char alive_key[64];         /* pusher:alive:NODE */
    bool was_down;              /* Redis went away since it was last up */
    bool ready;                 /* the history is read back: the bus goes on from there */
    struct loop_timer heartbeat;
    char problem[300];          /* why routing cannot go through Redis now */
} g;

/* ------------------------------------------------------------ the script */

/* A call of the script, kept until its reply so it can be sent again as
 * EVAL where Redis answers NOSCRIPT (a restarted Redis has an empty script
 * cache). The arguments are copied into text[]. */
struct call {
    cluster_done_fn *done;
    cluster_kept_fn *kept;
    void *data;
    bool retried;               /* sent again as EVAL already */
    size_t argc;                /* ARGV only */
    const char *argv[MAX_ARGS];
    size_t lens[MAX_ARGS];
    char text[];
};

static bool send_call(struct call *c);

static void call_fail(struct call *c, const char *why)
{
    if (c->done)
        c->done(c->data, -1, false, why);
    if (c->kept)
        c->kept(c->data, NULL, 0);
    free(c);
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
                c->kept(c->data, reply[i].str, reply[i].len);
        c->kept(c->data, NULL, 0);
    } else if (c->done) {
        bool ok = reply->type == RESP_ARRAY && reply->len == 3 && reply[2].type == RESP_INTEGER &&
                  reply[3].type == RESP_INTEGER;
        if (!ok)
            c->done(c->data, -1, false, "Redis gave the routing script an unexpected answer");
        else if (reply[3].integer == 2)
            c->done(c->data, 0, false, "not online");
        else
            c->done(c->data, reply[2].integer, reply[3].integer == 1, NULL);
    }
    free(c);
}

/* EVALSHA, or EVAL once Redis said it lacks the script. */
static bool send_call(struct call *c)
{
    const char *argv[MAX_ARGS + 3];
    size_t lens[MAX_ARGS + 3];
    argv[0] = c->retried ? "EVAL" : "EVALSHA";
    argv[1] = c->retried ? script : g.sha;
    lens[1] = c->retried ? sizeof script - 1 : 40;
    argv[2] = "0";
    lens[2] = 1;
    lens[0] = strlen(argv[0]);
    for (size_t i = 0; i < c->argc; i++) {
        argv[3 + i] = c->argv[i];
        lens[3 + i] = c->lens[i];
    }
    return redis_command(g.redis, 3 + c->argc, argv, lens, on_call_reply, c);
}

/* Calls the script with ARGV op, node, sender, target, json, number. */
static bool call(char op, struct cluster_sender from, const char *target, size_t tlen,
                 const char *json, size_t jlen, long number, cluster_done_fn *done,
                 cluster_kept_fn *kept, void *data)
{
    if (cluster_problem())
        return false;
    char sender[32], num[24];
    int sl = snprintf(sender, sizeof sender, "%u:%u", from.conn, from.serial);
    int nl = snprintf(num, sizeof num, "%ld", number);
    const char *parts[6] = {&op, g.node, sender, target, json, num};
    size_t lens[6] = {1, strlen(g.node), (size_t)sl, tlen, jlen, (size_t)nl};
    size_t total = 0;
    for (size_t i = 0; i < 6; i++)
        total += lens[i];
    struct call *c = malloc(sizeof *c + total + 1);
    if (!c)
        return false;
    *c = (struct call){.done = done, .kept = kept, .data = data, .argc = 6};
    char *at = c->text;
    for (size_t i = 0; i < 6; i++) {
        memcpy(at, parts[i], lens[i]);
        c->argv[i] = at;
        c->lens[i] = lens[i];
        at += lens[i];
    }
    if (!send_call(c)) {
        free(c);
        return false;
    }
    return true;
}

bool cluster_route(enum cluster_op op, const char *target, size_t tlen,
                   struct cluster_sender from, const char *json, size_t len, size_t keep_max,
                   cluster_done_fn *done, void *data)
{
    return call((char)op, from, target, tlen, json, len, (long)keep_max, done, NULL, data);
}

void cluster_presence(const char *user, size_t len, long delta, struct cluster_sender from,
                      const char *json, size_t jlen)
{
    /* Refused while Redis is down: the node sets its counts again when it
     * is back (cluster_reregister). */
    call('P', from, user, len, json, jlen, delta, NULL, NULL, NULL);
}

void cluster_reregister(const char *pairs, size_t len)
{
    call('X', (struct cluster_sender){0, 0}, "", 0, pairs, len, 0, NULL, NULL, NULL);
}

void cluster_take_kept(const char *user, size_t len, cluster_kept_fn *fn, void *data)
{
    if (!call('K', (struct cluster_sender){0, 0}, user, len, "", 0, 0, NULL, fn, data))
        fn(data, NULL, 0);
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

static void beat(void)
{
    const char *argv[] = {"SET", g.alive_key, "1", "PX", HEARTBEAT_TTL};
    size_t lens[5];
    for (size_t i = 0; i < 5; i++)
        lens[i] = strlen(argv[i]);
    redis_command(g.redis, 5, argv, lens, NULL, NULL); /* refused while down: the next beat */
}

static void on_heartbeat(struct loop *l, void *data)
{
    (void)data;
    beat();
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
     * dropped connection): routing sets them again (cluster_reregister). */
    g.was_down = false;
    g.owner->reregister();
    beat();
}

/* ------------------------------------------------------------------ bus */

/* Cuts the next '\n'-ended field off *p. */
static bool field(const char **p, const char *end, const char **f, size_t *len)
{
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    if (!nl)
        return false;
    *f = *p;
    *len = (size_t)(nl - *p);
    *p = nl + 1;
    return true;
}

static void on_bus(void *data, const char *channel, size_t channel_len, const char *payload,
                   size_t len)
{
    (void)data, (void)channel, (void)channel_len;
    if (!g.ready)
        return;                 /* at start, before the history: it holds these */
    const char *p = payload, *end = payload + len, *kind, *node, *sender, *id;
    size_t kl, nl, sl, il;
    struct cluster_msg m = {0};
    if (!field(&p, end, &kind, &kl) || !field(&p, end, &node, &nl) ||
        !field(&p, end, &sender, &sl) || !field(&p, end, &m.target, &m.target_len) ||
        !field(&p, end, &id, &il) || kl != 1)
        return;                 /* not a message of ours */
    m.op = kind[0];
    m.mine = nl == strlen(g.node) && memcmp(node, g.node, nl) == 0;
    char text[40];
    snprintf(text, sizeof text, "%.*s", (int)(sl < 39 ? sl : 39), sender);
    sscanf(text, "%u:%u", &m.from.conn, &m.from.serial);
    snprintf(text, sizeof text, "%.*s", (int)(il < 39 ? il : 39), id);
    m.id = strtoull(text, NULL, 10);
    m.json = p;
    m.json_len = (size_t)(end - p);
    g.owner->deliver(&m);
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

static void on_history(void *data, const struct resp_elem *reply, const char *failure)
{
    struct wait *w = data;
    w->done = true;
    if (!reply || reply->type != RESP_ARRAY) {
        w->failure = failure ? failure : "LRANGE of the history failed";
        return;
    }
    for (size_t i = 1; i < reply->next; i++) {
        const char *nl = reply[i].type == RESP_BULK ? memchr(reply[i].str, '\n', reply[i].len)
                                                     : NULL;
        if (!nl)
            continue;
        char id[24];
        snprintf(id, sizeof id, "%.*s", (int)(nl - reply[i].str), reply[i].str);
        g.owner->history("", 0, strtoull(id, NULL, 10), nl + 1,
                         reply[i].len - (size_t)(nl + 1 - reply[i].str));
    }
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

int cluster_start(struct loop *l, struct redis *r, const struct cluster_owner *o, char *why,
                  size_t cap)
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
    snprintf(g.alive_key, sizeof g.alive_key, "pusher:alive:%s", g.node);

    struct wait w = {0};
    const char *load[] = {"SCRIPT", "LOAD", script};
    size_t load_lens[] = {6, 4, sizeof script - 1};
    if (!redis_command(r, 3, load, load_lens, on_load, &w) || await(&w, why, cap) < 0)
        goto fail;
    memcpy(g.sha, w.sha, sizeof g.sha);
    if (redis_subscribe(r, "pusher:bus", 10, false, on_bus, NULL) < 0) {
        snprintf(why, cap, "cannot subscribe to pusher:bus");
        goto fail;
    }
    w = (struct wait){0};
    const char *range[] = {"LRANGE", "pusher:history", "0", "-1"};
    size_t range_lens[] = {6, 14, 1, 2};
    if (!redis_command(r, 4, range, range_lens, on_history, &w) || await(&w, why, cap) < 0)
        goto fail;
    g.ready = true;
    g.heartbeat = (struct loop_timer){.fn = on_heartbeat};
    on_heartbeat(l, NULL);
    return 0;
fail:
    if (!why[0])
        snprintf(why, cap, "%s", redis_problem(r) ? redis_problem(r) : "Redis refused");
    g.redis = NULL;
    return -1;
}

/* test_connmgr.c - the connection table and routing, without sockets.
 *
 * connmgr hands frames to conn_send(); here conn_send() is a stub that
 * records who got what, so the table's lookups, its backward-shift deletion
 * under churn, and the routing rules are checked directly. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "conn.h"
#include "connmgr.h"
#include "history.h"
#include "journal.h"
#include "offline.h"
#include "stats.h"

/* ------------------------------------------------ stubs of the conn layer */

#define MAX_CONNS 4096

struct stats stats;

/* The transport's connection is opaque to routing; here it is its id. */
struct conn {
    int id;
};

int conn_id(const struct conn *c)
{
    return c->id;
}

static struct conn conns[MAX_CONNS];

struct conn *conn_by_id(int id)
{
    return &conns[id];
}

struct sent {
    const struct conn *to;
    char json[512];
};
static struct sent sent[8192];
static size_t nsent;
static bool recording = true;   /* off while churning, to keep the test fast */

struct frame *frame_alloc(size_t cap)
{
    struct frame *f = malloc(sizeof *f + WS_MAX_SERVER_HEADER + cap);
    f->refs = 1;
    f->off = WS_MAX_SERVER_HEADER;
    f->len = 0;
    f->lost = false;
    return f;
}

void frame_seal(struct frame *f, enum ws_opcode op, size_t len)
{
    (void)op;
    f->len = (uint32_t)len;     /* the stub keeps the payload alone */
}

/* Routing makes frames from the bus's bytes only with --redis, which this
 * test does not start; it links all the same. */
struct frame *frame_make(enum ws_opcode op, const void *payload, size_t len)
{
    struct frame *f = frame_alloc(len);
    memcpy(frame_payload(f), payload, len);
    frame_seal(f, op, len);
    return f;
}

void frame_unref(struct frame *f)
{
    if (f && --f->refs == 0)
        free(f);
}

void conn_send(struct conn *c, struct frame *f)
{
    if (recording && nsent < sizeof sent / sizeof sent[0]) {
        size_t n = f->len < sizeof sent[0].json - 1 ? f->len : sizeof sent[0].json - 1;
        sent[nsent].to = c;
        memcpy(sent[nsent].json, frame_data(f), n);
        sent[nsent].json[n] = '\0';
        nsent++;
    }
}

/* No journal here: routing remembers in memory alone. */
void journal_history(const char *room, size_t len, struct frame *f, uint64_t id)
{
    (void)room, (void)len, (void)f, (void)id;
}
void journal_kept(const char *user, size_t len, struct frame *f, uint64_t id)
{
    (void)user, (void)len, (void)f, (void)id;
}
void journal_ids(uint64_t last)
{
    (void)last;
}
bool journal_refuses(void)
{
    return false;
}
const char *journal_problem(void)
{
    return NULL;
}
bool journal_waits(void)
{
    return false;
}
bool journal_commit(void)
{
    return true;
}
void journal_after(journal_done_fn *done, void *arg)
{
    done(arg, NULL);
}

void conn_cork(struct conn *c, bool on)
{
    (void)c, (void)on;
}

/* Only a connection whose replay overflowed with --redis is killed. */
void conn_kill(struct conn *c)
{
    (void)c;
}

/* What was queued counts as written at once here. */
void conn_notify_written(struct conn *c)
{
    connmgr_written(c);
}

/* --------------------------------------------------------------- helpers */

static void join(int i, const char *user)
{
    CHECK(connmgr_join(&conns[i], user, strlen(user), 0, NULL, 0, NULL, -1) == 0);
}

/* What the session does with a whole text message: read it as a Message
 * and route it, or say why it is none. */
static void route(int from, const char *json)
{
    static char scratch[65536];
    struct message m;
    char why[160];
    if (message_read(json, strlen(json), scratch, &m, why, sizeof why) < 0)
        connmgr_refuse(&conns[from], why);
    else
        connmgr_route(&conns[from], &m);
}

static size_t sent_to(int i)
{
    size_t n = 0;
    for (size_t k = 0; k < nsent; k++)
        n += sent[k].to == &conns[i];
    return n;
}

static bool last_has(const char *needle)
{
    return nsent > 0 && strstr(sent[nsent - 1].json, needle) != NULL;
}

/* ------------------------------------------------------------------ tests */

static void test_routing(void)
{
    join(0, "alice");
    join(1, "bob");
    join(2, "bob");             /* a second tab: no second OnlineNotify */
    CHECK(connmgr_users() == 2);
    CHECK(connmgr_connections() == 3);

    nsent = 0;
    route(0, "{\"messageType\":1,\"content\":\"hi\"}");
    CHECK(nsent == 2 && sent_to(1) == 1 && sent_to(2) == 1 && sent_to(0) == 0);
    CHECK(strstr(sent[0].json, "\"from\":\"alice\"") != NULL);

    nsent = 0;
    route(1, "{\"messageType\":0,\"to\":\"bob\",\"content\":\"me\"}");
    CHECK(nsent == 2 && sent_to(1) == 1 && sent_to(2) == 1);

    nsent = 0;
    route(0, "{\"messageType\":0,\"to\":\"carol\"}");
    CHECK(nsent == 1 && sent_to(0) == 1 && last_has("\"messageType\":2") && last_has("error:"));

    const char *bad[] = {
        "{\"messageType\":2}", "{\"messageType\":3}", "{\"messageType\":7}",
        "{\"messageType\":1,\"mediaType\":3}", "{\"messageType\":1,\"to\":\"x\"}",
        "[1]", "{", "{\"messageType\":\"1\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        nsent = 0;
        route(0, bad[i]);
        CHECK(nsent == 1 && sent_to(0) == 1 && last_has("error:"));
    }

    /* The last of bob's connections going makes bob offline, once. */
    nsent = 0;
    connmgr_leave(&conns[1]);
    CHECK(nsent == 0);
    connmgr_leave(&conns[2]);
    CHECK(nsent == 1 && sent_to(0) == 1 && last_has("\"messageType\":4"));
    CHECK(connmgr_users() == 1);
    connmgr_leave(&conns[0]);
    CHECK(connmgr_users() == 0 && connmgr_connections() == 0);
}

static void test_history(void)
{
    join(0, "h1");
    for (int i = 0; i < 150; i++)
        route(0, "{\"messageType\":1,\"content\":\"x\"}");
    nsent = 0;
    join(1, "h2");
    /* The newcomer gets the last 100, not its own OnlineNotify. */
    CHECK(sent_to(1) == HISTORY_LEN);
    connmgr_leave(&conns[1]);
    connmgr_leave(&conns[0]);
}

/* Singles to a user who is offline are kept, the sender told, and they
 * come with the history when the user connects, in id order; written, they
 * are forgotten. */
static void test_offline(void)
{
    offline_init(&(struct offline_limits){.per_user = 3, .ttl_ms = 60000, .bytes = 1 << 20});
    join(0, "ann");
    nsent = 0;
    route(0, "{\"messageType\":0,\"to\":\"cy\",\"content\":\"k1\"}");
    CHECK(nsent == 1 && sent_to(0) == 1 && last_has("queued: cy"));
    route(0, "{\"messageType\":1,\"content\":\"g1\"}");
    for (int i = 2; i <= 5; i++) {
        char json[64];
        snprintf(json, sizeof json, "{\"messageType\":0,\"to\":\"cy\",\"content\":\"k%d\"}", i);
        route(0, json);
    }
    CHECK(offline_count() == 3);        /* k3..k5: three a user */
    CHECK(stats.offline_dropped == 2);
    nsent = 0;
    join(1, "cy");
    /* The history's last 100, g1 the newest, then k3..k5, by id; then
     * ann hears cy is online. */
    CHECK(nsent == HISTORY_LEN + 4 && sent_to(1) == HISTORY_LEN + 3 && last_has("\"from\":\"cy\""));
    CHECK(strstr(sent[nsent - 5].json, "\"content\":\"g1\"") != NULL);
    CHECK(strstr(sent[nsent - 4].json, "\"content\":\"k3\"") != NULL);
    CHECK(strstr(sent[nsent - 2].json, "\"content\":\"k5\"") != NULL);
    CHECK(offline_count() == 0 && offline_users() == 0);
    nsent = 0;
    route(0, "{\"messageType\":0,\"to\":\"cy\",\"content\":\"now\"}");
    CHECK(nsent == 1 && sent_to(1) == 1 && last_has("\"content\":\"now\""));
    connmgr_leave(&conns[1]);
    connmgr_leave(&conns[0]);
    offline_init(&(struct offline_limits){0});
}

/* Churn: many users come and go in a random order; after every step each
 * present user is found (a Single reaches it) and each absent one is not.
 * Broken backward-shift deletion loses users that probed past a hole. */
static void test_churn(void)
{
    enum { USERS = 1500, STEPS = 20000 };
    static bool present[USERS];
    char name[32];
    srand(7);
    int lost = 0, ghosts = 0;
    for (int step = 0; step < STEPS; step++) {
        int u = rand() % USERS;
        snprintf(name, sizeof name, "user-%d", u);
        recording = false;
        if (present[u]) {
            connmgr_leave(&conns[u + 1]);
        } else {
            CHECK(connmgr_join(&conns[u + 1], name, strlen(name), UINT64_MAX, NULL, 0, NULL, -1) == 0);
        }
        present[u] = !present[u];
        recording = true;
        if (step % 500 == 0) {
            for (int v = 0; v < USERS; v++) {
                char json[96];
                snprintf(json, sizeof json, "{\"messageType\":0,\"to\":\"user-%d\"}", v);
                nsent = 0;
                route(0, json);
                bool reached = nsent == 1 && sent[0].to == &conns[v + 1];
                bool refused = nsent == 1 && sent[0].to == &conns[0];
                lost += present[v] && !reached;
                ghosts += !present[v] && !refused;
            }
        }
    }
    CHECK(lost == 0);
    CHECK(ghosts == 0);
    size_t users = 0;
    for (int v = 0; v < USERS; v++)
        users += present[v];
    CHECK(connmgr_users() == users + 1);
}

int main(void)
{
    for (int i = 0; i < MAX_CONNS; i++)
        conns[i].id = i;        /* conn_id(): routing keeps its state by it */
    CHECK(connmgr_init(MAX_CONNS, MAX_CONNS / 2, 1 << 20, 100, 16) == 0);
    test_routing();
    test_history();
    test_offline();
    join(0, "sender");
    test_churn();
    return check_summary("connmgr");
}

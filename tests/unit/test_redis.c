/* test_redis.c - the Redis client (redis.c, redis_link.c) against real
 * redis-server processes that this test starts, each on a Unix socket in
 * its own temporary directory (and, for TCP, on a loopback port), stopped
 * by their PID: the address rules, a start over Unix and TCP, AUTH right,
 * wrong and missing, pipelined replies in order, PUBLISH reaching the
 * subscriber, Redis killed and restarted (state down, commands refused at
 * once, the retries counted, back up within 5 s, subscriptions renewed),
 * a stopped Redis found by its silence, and every bound.
 *
 * Without redis-server on PATH this fails, saying so: a skipped test would
 * pass a client nobody ran. */
#define _POSIX_C_SOURCE 200809L

#include "loop.h"
#include "redis.h"
#include "tests/unit/check.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct loop *L;

/* The servers running, so that a test stuck in a loop (a client retrying
 * without pause never returns from loop_wait) still stops them and fails. */
static volatile pid_t running[4];

static void on_alarm(int sig)
{
    static const char msg[] = "FAIL: test_redis took over 120 s: a client stuck in a loop?\n";

    (void)sig;
    for (size_t i = 0; i < sizeof running / sizeof running[0]; i++)
        if (running[i] > 0)
            kill(running[i], SIGKILL);
    if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0)
        _exit(2);
    _exit(1);
}

static void track(pid_t pid, pid_t replace)
{
    for (size_t i = 0; i < sizeof running / sizeof running[0]; i++) {
        if (running[i] == replace) {
            running[i] = pid;
            return;
        }
    }
}

/* ---- redis-server, started and stopped here --------------------------------- */

struct server {
    pid_t pid;
    char dir[64];
    char sock[128]; /* "unix:DIR/redis.sock", an address as --redis takes it */
    int port;       /* a loopback TCP port too, or 0 */
    const char *password;
};

static bool on_path(const char *prog)
{
    const char *path = getenv("PATH");
    char file[512];

    while (path && *path) {
        size_t n = strcspn(path, ":");
        snprintf(file, sizeof file, "%.*s/%s", (int)n, path, prog);
        if (access(file, X_OK) == 0)
            return true;
        path += n + (path[n] == ':');
    }
    return false;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A port the kernel just gave and took back: free, unless raced. */
static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0)
        abort();
    close(fd);
    return ntohs(a.sin_port);
}

static bool accepts(const char *path)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    bool ok;

    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* Starts redis-server on s (its directory made on the first start, kept
 * for a restart) and waits until its socket accepts. */
static bool server_start(struct server *s)
{
    char port[16], log[128];
    const char *path = s->sock + 5;

    if (!s->dir[0]) {
        snprintf(s->dir, sizeof s->dir, "/tmp/test_redis_XXXXXX");
        if (!mkdtemp(s->dir))
            return false;
        snprintf(s->sock, sizeof s->sock, "unix:%s/redis.sock", s->dir);
        path = s->sock + 5;
    }
    snprintf(port, sizeof port, "%d", s->port);
    snprintf(log, sizeof log, "%s/redis.log", s->dir);
    s->pid = fork();
    if (s->pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        const char *argv[] = {"redis-server", "--port", port, "--bind", "127.0.0.1",
                              "--unixsocket", path, "--dir", s->dir, "--save", "",
                              "--appendonly", "no", "--daemonize", "no",
                              s->password ? "--requirepass" : NULL, s->password, NULL};
        execvp(argv[0], (char **)argv);
        _exit(127);
    }
    track(s->pid, 0);
    for (int64_t end = now_ms() + 5000; now_ms() < end; usleep(10000)) {
        if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
            fprintf(stderr, "redis-server exited at start: see %s\n", log);
            track(0, s->pid);
            s->pid = 0;
            return false;
        }
        if (accepts(path))
            return true;
    }
    fprintf(stderr, "redis-server did not accept on %s within 5 s\n", path);
    return false;
}

static void server_stop(struct server *s, int sig)
{
    if (s->pid > 0) {
        kill(s->pid, sig);
        waitpid(s->pid, NULL, 0);
        track(0, s->pid);
    }
    s->pid = 0;
}

static void server_remove(struct server *s)
{
    char cmd[128];

    server_stop(s, SIGTERM);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s->dir);
    if (s->dir[0] && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", s->dir);
}

/* ---- The client's side ------------------------------------------------------- */

/* What a callback saw: the reply in a few characters, or the failure. */
struct got {
    bool done;
    bool failed;
    char text[160];
};

static void on_reply(void *data, const struct resp_elem *e, const char *failure)
{
    struct got *g = data;

    CHECK(!g->done); /* exactly once */
    g->done = true;
    g->failed = e == NULL;
    if (!e)
        snprintf(g->text, sizeof g->text, "failed: %s", failure);
    else if (e->type == RESP_INTEGER)
        snprintf(g->text, sizeof g->text, ":%lld", e->integer);
    else if (e->type == RESP_NIL)
        snprintf(g->text, sizeof g->text, "nil");
    else if (e->type == RESP_ARRAY)
        snprintf(g->text, sizeof g->text, "*%zu", e->len);
    else
        snprintf(g->text, sizeof g->text, "%c%.*s", e->type == RESP_ERROR ? '-' : '+',
                 (int)(e->len < 100 ? e->len : 100), e->str);
}

/* A command of words, with on_reply; false when refused. */
static bool cmd(struct redis *r, struct got *g, const char *a, const char *b, const char *c)
{
    const char *argv[] = {a, b, c};
    size_t lens[3], argc = c ? 3 : b ? 2 : 1;

    for (size_t i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    *g = (struct got){0};
    return redis_command(r, argc, argv, lens, on_reply, g);
}

struct heard {
    int messages;
    char channel[64], payload[64];
    int ups, downs;
    char why[256];
};

static void on_message(void *data, const char *ch, size_t clen, const char *p, size_t plen)
{
    struct heard *h = data;

    h->messages++;
    snprintf(h->channel, sizeof h->channel, "%.*s", (int)clen, ch);
    snprintf(h->payload, sizeof h->payload, "%.*s", (int)plen, p);
}

static void on_state(void *data, bool up, const char *why)
{
    struct heard *h = data;

    if (up) {
        h->ups++;
    } else {
        h->downs++;
        snprintf(h->why, sizeof h->why, "%s", why);
    }
}

/* Runs the loop until *flag is true or ms pass; true if it became true. */
static bool run_until(const bool *flag, int ms)
{
    for (int64_t end = now_ms() + ms; !*flag && now_ms() < end;)
        loop_wait(L, 10);
    return *flag;
}

static void run_for(int ms)
{
    for (int64_t end = now_ms() + ms; now_ms() < end;)
        loop_wait(L, 10);
}

static struct redis *client(const char *addr, const char *password, struct redis_options o,
                            struct heard *h, char *why, size_t cap)
{
    CHECK(redis_address_parse(addr, &o.addr));
    o.password = password;
    struct redis *r = redis_create(L, &o, on_state, h);
    CHECK(r != NULL);
    if (redis_start(r, why, cap) < 0) {
        redis_free(r);
        return NULL;
    }
    return r;
}

static struct redis_options with_subscriber(void)
{
    struct redis_options o = REDIS_OPTIONS_DEFAULT;
    o.subscriber = true;
    return o;
}

/* ---- Addresses --------------------------------------------------------------- */

static void test_addresses(void)
{
    static const char *const good[] = {"127.0.0.1:6379", "localhost:1", "[::1]:6379",
                                       "10.0.0.7:65535", "unix:/run/redis/redis.sock", "unix:r.sock"};
    static const char *const bad[] = {"redis.example.com:6379", "localhost", "127.0.0.1",
                                      "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:6379x",
                                      "127.0.0.1:+80", "::1:6379", "[::1]", "[::1]:", "[127.0.0.1]:80",
                                      ":6379", "unix:", "", "1.2.3:80", "localhost.:80"};
    struct redis_address a;
    char longpath[200] = "unix:/";

    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        CHECK(redis_address_parse(good[i], &a) && a.len > 0 && strcmp(a.text, good[i]) == 0);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bool ok = redis_address_parse(bad[i], &a);
        CHECK(!ok && a.len == 0);
        if (ok)
            fprintf(stderr, "  took \"%s\"\n", bad[i]);
    }
    CHECK(redis_address_parse("localhost:6380", &a) && a.sa.ss_family == AF_INET &&
          ntohs(((struct sockaddr_in *)&a.sa)->sin_port) == 6380 &&
          ((struct sockaddr_in *)&a.sa)->sin_addr.s_addr == htonl(INADDR_LOOPBACK));
    CHECK(redis_address_parse("[::1]:7", &a) && a.sa.ss_family == AF_INET6);
    CHECK(redis_address_parse("unix:/x", &a) && a.sa.ss_family == AF_UNIX &&
          strcmp(((struct sockaddr_un *)&a.sa)->sun_path, "/x") == 0);
    memset(longpath + 6, 'p', 107); /* sun_path holds 107 bytes and the NUL */
    CHECK(!redis_address_parse(longpath, &a));
    longpath[6 + 106] = '\0';
    CHECK(redis_address_parse(longpath, &a));
}

/* ---- Over a Unix socket: pipelining, pub/sub, bounds ------------------------- */

static void test_pipeline(struct redis *r)
{
    struct got g[8];

    /* All queued in one turn, so they leave in one write and their
     * replies come back in one read: the FIFO alone keeps them apart. */
    CHECK(cmd(r, &g[0], "DEL", "k", NULL) && cmd(r, &g[1], "SET", "k", "v1"));
    CHECK(cmd(r, &g[2], "GET", "k", NULL) && cmd(r, &g[3], "INCR", "n", NULL));
    CHECK(cmd(r, &g[4], "INCR", "n", NULL) && cmd(r, &g[5], "INCR", "k", NULL));
    CHECK(cmd(r, &g[6], "GET", "missing", NULL) && cmd(r, &g[7], "INCR", "n", NULL));
    CHECK(run_until(&g[7].done, 2000));
    for (int i = 0; i < 8; i++)
        CHECK(g[i].done && !g[i].failed);
    CHECK(strcmp(g[1].text, "+OK") == 0);
    CHECK(strcmp(g[2].text, "+v1") == 0);
    CHECK(strcmp(g[3].text, ":1") == 0 && strcmp(g[4].text, ":2") == 0);
    CHECK(strncmp(g[5].text, "-ERR value is not an integer", 28) == 0);
    CHECK(strcmp(g[6].text, "nil") == 0 && strcmp(g[7].text, ":3") == 0);

    /* 4 MiB each way: many writes and reads, one reply parsed in pieces. */
    size_t n = 4 << 20;
    char *big = malloc(n);
    CHECK(big != NULL);
    memset(big, 'x', n);
    big[n / 2] = '\r';
    const char *argv[] = {"SET", "big", big};
    const size_t lens[] = {3, 3, n};
    struct got set = {0}, get = {0}, strlen_ = {0};
    CHECK(redis_command(r, 3, argv, lens, on_reply, &set));
    const char *gr[] = {"GETRANGE", "big", "2097151", "2097153"};
    const size_t grl[] = {8, 3, 7, 7};
    CHECK(redis_command(r, 4, gr, grl, on_reply, &get));
    CHECK(cmd(r, &strlen_, "STRLEN", "big", NULL));
    CHECK(run_until(&strlen_.done, 5000));
    CHECK(strcmp(set.text, "+OK") == 0 && strcmp(get.text, "+x\rx") == 0);
    CHECK(strcmp(strlen_.text, ":4194304") == 0);
    free(big);
}

static void test_pubsub(struct redis *r, struct heard *h)
{
    struct got g = {0};

    /* "chan" was subscribed before the start; the pattern after it. */
    CHECK(redis_subscribe(r, "news.*", 6, true, on_message, h) == 0);
    CHECK(cmd(r, &g, "PING", NULL, NULL) && run_until(&g.done, 1000));
    run_for(100); /* the PSUBSCRIBE's confirmation, on the other connection */
    CHECK(cmd(r, &g, "PUBLISH", "chan", "hello") && run_until(&g.done, 1000));
    CHECK(strcmp(g.text, ":1") == 0);
    run_for(200);
    CHECK(h->messages == 1 && strcmp(h->channel, "chan") == 0 && strcmp(h->payload, "hello") == 0);
    CHECK(cmd(r, &g, "PUBLISH", "news.today", "extra") && run_until(&g.done, 1000));
    CHECK(strcmp(g.text, ":1") == 0); /* the pattern counts as a receiver */
    run_for(200);
    CHECK(h->messages == 2 && strcmp(h->channel, "news.today") == 0 &&
          strcmp(h->payload, "extra") == 0);
    CHECK(redis_subscribe(r, "", 0, false, on_message, h) < 0);
}

static void test_bounds(struct server *s)
{
    struct redis_options o = REDIS_OPTIONS_DEFAULT;
    struct heard h = {0};
    struct got g[5];
    char why[256];

    o.max_pending = 4;
    o.ping_ms = 60000; /* no PING of the client's own in the FIFO */
    o.max_output = 1024;
    o.max_input = 1024;
    struct redis *r = client(s->sock, NULL, o, &h, why, sizeof why);
    CHECK(r != NULL);
    if (!r)
        return;
    for (int i = 0; i < 4; i++)
        CHECK(cmd(r, &g[i], "PING", NULL, NULL));
    CHECK(!cmd(r, &g[4], "PING", NULL, NULL)); /* the FIFO is full: refused, no callback */
    CHECK(run_until(&g[3].done, 1000) && !g[4].done);

    char value[2048];
    memset(value, 'v', sizeof value - 1);
    value[sizeof value - 1] = '\0';
    CHECK(!cmd(r, &g[0], "SET", "wide", value) && !g[0].done); /* past max_output */
    /* Each command fits the output alone; the value grows past the input. */
    CHECK(cmd(r, &g[0], "SET", "wide", value + 1100) && run_until(&g[0].done, 1000));
    CHECK(cmd(r, &g[1], "APPEND", "wide", value + 1100) && run_until(&g[1].done, 1000));
    CHECK(strcmp(g[0].text, "+OK") == 0 && strcmp(g[1].text, ":1894") == 0);
    CHECK(cmd(r, &g[2], "GET", "wide", NULL) && run_until(&g[2].done, 1000));
    CHECK(g[2].failed && strstr(g[2].text, "a reply past a limit: bulk string too long"));
    CHECK(!redis_up(r) && h.downs == 1 && strstr(redis_problem(r), "command connection"));

    /* Small strings, many of them: the input buffer is the bound then. */
    for (int64_t end = now_ms() + 2000; !redis_up(r) && now_ms() < end;)
        loop_wait(L, 10);
    CHECK(redis_up(r) && h.ups == 1);
    const char *argv[52] = {"RPUSH", "many"};
    size_t lens[52] = {5, 4};
    for (int i = 2; i < 52; i++)
        argv[i] = "abc", lens[i] = 3;
    for (int i = 0; i < 6; i++) {
        g[0] = (struct got){0};
        CHECK(redis_command(r, 52, argv, lens, on_reply, &g[0]) && run_until(&g[0].done, 1000));
    }
    CHECK(strcmp(g[0].text, ":300") == 0);
    const char *lrange[] = {"LRANGE", "many", "0", "-1"};
    const size_t lrl[] = {6, 4, 1, 2};
    g[1] = (struct got){0};
    CHECK(redis_command(r, 4, lrange, lrl, on_reply, &g[1]) && run_until(&g[1].done, 1000));
    CHECK(g[1].failed && strstr(g[1].text, "a reply longer than 1024 bytes"));
    CHECK(!redis_up(r) && h.downs == 2);
    redis_free(r);
}

static void test_unix(void)
{
    struct server s = {0};
    struct heard h = {0};
    char why[256];

    CHECK(server_start(&s));
    struct redis_options o = with_subscriber();
    struct redis_address a;
    CHECK(redis_address_parse(s.sock, &a));
    o.addr = a;
    struct redis *r = redis_create(L, &o, on_state, &h);
    CHECK(r && redis_subscribe(r, "chan", 4, false, on_message, &h) == 0);
    CHECK(!redis_up(r) && strcmp(redis_problem(r), "not started") == 0);
    CHECK(r && redis_start(r, why, sizeof why) == 0);
    if (r && redis_up(r)) {
        CHECK(redis_problem(r) == NULL && h.ups == 0 && redis_connects(r) == 2);
        CHECK(redis_rtt_us(r) >= 0 && redis_rtt_us(r) < 1000000);
        test_pipeline(r);
        test_pubsub(r, &h);
    }
    redis_free(r);
    test_bounds(&s);
    server_remove(&s);
}

/* ---- TCP, AUTH, unreachable --------------------------------------------------- */

static void test_tcp_auth(void)
{
    struct server s = {.password = "s3cret"};
    struct heard h = {0};
    struct got g;
    char why[256], addr[64];

    s.port = free_port();
    CHECK(server_start(&s));
    snprintf(addr, sizeof addr, "127.0.0.1:%d", s.port);
    struct redis *r = client(addr, "s3cret", with_subscriber(), &h, why, sizeof why);
    CHECK(r != NULL);
    if (r) {
        CHECK(cmd(r, &g, "SET", "over", "tcp") && run_until(&g.done, 1000));
        CHECK(cmd(r, &g, "GET", "over", NULL) && run_until(&g.done, 1000));
        CHECK(strcmp(g.text, "+tcp") == 0);
    }
    redis_free(r);

    r = client(s.sock, "wrong", REDIS_OPTIONS_DEFAULT, &h, why, sizeof why);
    CHECK(r == NULL && strstr(why, "AUTH refused: WRONGPASS") != NULL);
    if (r)
        redis_free(r);
    r = client(s.sock, NULL, with_subscriber(), &h, why, sizeof why);
    CHECK(r == NULL && strstr(why, "PING refused: NOAUTH") != NULL);
    if (r)
        redis_free(r);
    server_remove(&s);

    /* Nothing there: refused at once, not retried. */
    snprintf(addr, sizeof addr, "127.0.0.1:%d", free_port());
    r = client(addr, NULL, REDIS_OPTIONS_DEFAULT, &h, why, sizeof why);
    CHECK(r == NULL && strstr(why, "command connection: connect: Connection refused"));
    r = client("unix:/nonexistent/redis.sock", NULL, REDIS_OPTIONS_DEFAULT, &h, why, sizeof why);
    CHECK(r == NULL && strstr(why, "No such file or directory"));
    CHECK(h.ups == 0 && h.downs == 0); /* the start says it; the state callback does not */
}

/* ---- Redis killed and restarted; Redis stopped ------------------------------- */

static void test_reconnect(void)
{
    struct server s = {0};
    struct heard h = {0};
    struct got pending = {0}, g;
    char why[256];

    CHECK(server_start(&s));
    struct redis_options o = with_subscriber();
    CHECK(redis_address_parse(s.sock, &o.addr));
    struct redis *r = redis_create(L, &o, on_state, &h);
    CHECK(r && redis_subscribe(r, "chan", 4, false, on_message, &h) == 0);
    CHECK(r && redis_start(r, why, sizeof why) == 0);
    if (!r || !redis_up(r)) {
        redis_free(r);
        server_remove(&s);
        return;
    }
    /* A command whose reply never comes before Redis dies. */
    CHECK(cmd(r, &pending, "BLPOP", "nothing", "0"));
    run_for(50);
    server_stop(&s, SIGKILL);
    CHECK(run_until(&pending.done, 2000) && pending.failed);
    CHECK(strstr(pending.text, "failed: command connection: ") != NULL);
    CHECK(!redis_up(r) && h.downs == 1 && h.ups == 0);
    CHECK(!cmd(r, &g, "PING", NULL, NULL) && !g.done); /* refused at once */
    CHECK(redis_problem(r) != NULL);

    /* 2 s down: a retry every 100 ms doubling (each at half to all of its
     * step) is 4 or 5 connects a connection; a tight loop thousands. */
    uint64_t before = redis_connects(r);
    run_for(2000);
    uint64_t tries = redis_connects(r) - before;
    CHECK(tries >= 4 && tries <= 14);
    if (tries < 4 || tries > 14)
        fprintf(stderr, "  %llu connects in 2 s\n", (unsigned long long)tries);
    CHECK(strstr(redis_problem(r), "connect: ") != NULL);

    CHECK(server_start(&s));
    int64_t back = now_ms();
    bool up = false;
    for (; !up && now_ms() - back < 6000; loop_wait(L, 10))
        up = redis_up(r);
    CHECK(up && now_ms() - back <= 5000);
    CHECK(h.ups == 1 && h.downs == 1 && redis_reconnects(r) == 1);

    /* The subscription was renewed on the new connection. */
    CHECK(cmd(r, &g, "PUBLISH", "chan", "again") && run_until(&g.done, 1000));
    CHECK(strcmp(g.text, ":1") == 0);
    run_for(100);
    CHECK(h.messages == 1 && strcmp(h.payload, "again") == 0);

    /* A Redis that stops answering is dropped once a reply is late. */
    redis_free(r);
    o.ping_ms = 100;
    o.timeout_ms = 500;
    h = (struct heard){0};
    r = redis_create(L, &o, on_state, &h);
    CHECK(r && redis_start(r, why, sizeof why) == 0);
    kill(s.pid, SIGSTOP);
    int64_t stopped = now_ms();
    for (; redis_up(r) && now_ms() - stopped < 3000; loop_wait(L, 10))
        ;
    CHECK(!redis_up(r) && now_ms() - stopped < 1500 && strstr(h.why, "no reply in 500 ms"));
    kill(s.pid, SIGCONT);
    for (; !redis_up(r) && now_ms() - stopped < 8000; loop_wait(L, 10))
        ;
    CHECK(redis_up(r) && redis_reconnects(r) == 1);
    redis_free(r);
    server_remove(&s);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    signal(SIGALRM, on_alarm);
    alarm(120);
    test_addresses();
    if (!on_path("redis-server")) {
        fprintf(stderr, "FAIL: redis-server is not on PATH: install it (apt-get install "
                        "redis-server; tests/setup does it as root)\n");
        CHECK(!"redis-server is installed");
        return check_summary("redis");
    }
    L = loop_create(1024, BACKEND_EPOLL);
    CHECK(L != NULL);
    test_unix();
    test_tcp_auth();
    test_reconnect();
    loop_destroy(L);
    return check_summary("redis");
}

/* test_config.c - config_load and config_print: defaults, every option from a
 * flag and from the environment, precedence, and one refusal per kind of bad
 * value, each checked for its one line on stderr and status 2.
 *
 * config_load keeps its spec'd signature and writes to stdout and stderr
 * itself; load() below points both at temporary files around the call, so the
 * output stays quiet and the tests can read what was said. */
#define _POSIX_C_SOURCE 200809L

#include "config.h"
#include "tests/unit/check.h"

#include <stdarg.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>

struct run {
    int status;     /* what config_load returned */
    char out[8192]; /* what it wrote to stdout */
    char err[1024]; /* what it wrote to stderr */
};

static const char *const vars[] = {
    "PUSHER_BIND", "PUSHER_PORT", "PUSHER_MAX_CONNECTIONS", "PUSHER_MAX_MESSAGE",
    "PUSHER_MAX_PENDING", "PUSHER_MAX_RATE", "PUSHER_MAX_BURST", "PUSHER_PING_INTERVAL",
    "PUSHER_IDLE_TIMEOUT", "PUSHER_HANDSHAKE_TIMEOUT", "PUSHER_STATIC_DIR", "PUSHER_SECRET",
    "PUSHER_API_KEY", "PUSHER_ALLOWED_ORIGIN", "PUSHER_ECHO", "PUSHER_LOG_LEVEL", "PUSHER_LOG_RATE",
    "PUSHER_BACKEND", "PUSHER_MAX_ROOMS", "PUSHER_MAX_ROOM_HISTORIES", "PUSHER_OFFLINE_MAX",
    "PUSHER_OFFLINE_TTL", "PUSHER_OFFLINE_BYTES", "PUSHER_JOURNAL", "PUSHER_FSYNC",
    "PUSHER_JOURNAL_REPAIR", "PUSHER_TLS_CERT", "PUSHER_TLS_KEY", "PUSHER_REDIS",
    "PUSHER_REDIS_PASSWORD",
};

static void clear_env(void)
{
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
}

/* Points fd at a fresh temporary file; returns the file and, in *saved, the old fd. */
static FILE *capture(int fd, int *saved)
{
    FILE *f = tmpfile();

    if (!f)
        abort();
    *saved = dup(fd);
    dup2(fileno(f), fd);
    return f;
}

static void restore(FILE *f, int fd, int saved, char *buf, size_t size)
{
    size_t n;

    dup2(saved, fd);
    close(saved);
    rewind(f);
    n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* config_load on {"pusher", args..., NULL} with stdout and stderr captured. */
static struct run load_argv(struct config *c, char **argv)
{
    static struct run r;
    int argc = 0, saved_out, saved_err;
    FILE *out, *err;

    while (argv[argc])
        argc++;
    fflush(stdout);
    fflush(stderr);
    out = capture(STDOUT_FILENO, &saved_out);
    err = capture(STDERR_FILENO, &saved_err);
    r.status = config_load(c, argc, argv);
    fflush(stdout);
    fflush(stderr);
    restore(out, STDOUT_FILENO, saved_out, r.out, sizeof r.out);
    restore(err, STDERR_FILENO, saved_err, r.err, sizeof r.err);
    return r;
}

/* LOAD(&c, "--port=1", "--echo"); LOAD(&c, NULL) for no arguments. */
#define LOAD(c, ...) load_argv((c), (char *[]){"pusher", __VA_ARGS__, NULL})

static int lines(const char *s)
{
    int n = 0;

    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* A refusal: status 2, nothing on stdout, one line on stderr that starts
 * "pusher: " and holds want. */
static bool refused(struct run r, const char *want)
{
    bool ok = r.status == 2 && r.out[0] == '\0' && lines(r.err) == 1 &&
              strncmp(r.err, "pusher: ", 8) == 0 && r.err[strlen(r.err) - 1] == '\n' &&
              strstr(r.err, want) != NULL;

    if (!ok)
        fprintf(stderr, "  status %d, stderr: %s", r.status, r.err);
    return ok;
}

/* ---- Defaults ----------------------------------------------------------- */

static void test_defaults(void)
{
    struct config c;
    struct run r;

    clear_env();
    r = LOAD(&c, NULL);
    CHECK(r.status == 0 && r.out[0] == '\0' && r.err[0] == '\0');
    CHECK(strcmp(c.bind, "0.0.0.0") == 0);
    CHECK(c.port == 8080);
    CHECK(c.max_connections == 0);
    CHECK(c.max_message == 65536);
    CHECK(c.max_pending == 1048576);
    CHECK(c.max_rate == 100);
    CHECK(c.log_rate == 20);
    CHECK(c.max_burst == 1000);
    CHECK(c.ping_interval_ms == 25000);
    CHECK(c.idle_timeout_ms == 60000);
    CHECK(c.handshake_timeout_ms == 10000);
    CHECK(c.static_dir == NULL && c.secret == NULL && c.api_key == NULL);
    CHECK(c.num_origins == 0);
    CHECK(!c.echo);
    CHECK(c.log_level == LOG_INFO);
    CHECK(c.offline_max == 100 && c.offline_ttl_s == 7 * 86400 && c.offline_bytes == 64 << 20);
    CHECK(c.journal == NULL && c.fsync == JOURNAL_EVERYSEC && !c.journal_repair);
    CHECK(c.redis.len == 0 && c.redis_password == NULL);
#ifdef __linux__
    CHECK(c.backend == BACKEND_URING);
#else
    CHECK(c.backend == BACKEND_POLL);
#endif
}

/* ---- Every option, from a flag and from the environment ------------------ */

/* Loads with option name set to value, as "--name=value" or as PUSHER_NAME.
 * A NULL value is a switch: a bare "--name", or PUSHER_NAME=1. The variable
 * stays set until the next call, so c's pointers into it stay good. */
static struct config with(bool env, const char *name, const char *value)
{
    char flag[64], var[64];
    struct config c;
    size_t i;

    clear_env();
    snprintf(flag, sizeof flag, "--%s%s%s", name, value ? "=" : "", value ? value : "");
    strcpy(var, "PUSHER_");
    for (i = 0; name[i]; i++)
        var[7 + i] = name[i] == '-' ? '_' : (char)(name[i] - 'a' + 'A');
    var[7 + i] = '\0';
    if (env)
        setenv(var, value ? value : "1", 1);
    CHECK((env ? LOAD(&c, NULL) : LOAD(&c, flag)).status == 0);
    return c;
}

static void test_each_option(void)
{
    char dir[] = "/tmp/test_config_XXXXXX";

    CHECK(mkdtemp(dir) != NULL);
    for (int env = 0; env < 2; env++) {
        CHECK(strcmp(with(env, "bind", "::1").bind, "::1") == 0);
        CHECK(strcmp(with(env, "bind", "127.0.0.1").bind, "127.0.0.1") == 0);
        CHECK(with(env, "port", "9000").port == 9000);
        CHECK(with(env, "port", "0").port == 0);
        CHECK(with(env, "port", "65535").port == 65535);
        CHECK(with(env, "max-connections", "10000000").max_connections == 10000000);
        CHECK(with(env, "max-connections", "1").max_connections == 1);
        CHECK(with(env, "max-message", "125").max_message == 125);
        CHECK(with(env, "max-message", "64K").max_message == 65536);
        CHECK(with(env, "max-message", "16m").max_message == 16u << 20);
        CHECK(with(env, "max-pending", "1k").max_pending == 1024);
        CHECK(with(env, "max-pending", "2M").max_pending == 2u << 20);
        CHECK(with(env, "max-pending", "1024m").max_pending == 1024u << 20);
        CHECK(with(env, "max-rate", "0").max_rate == 0);
        CHECK(with(env, "max-rate", "2.5").max_rate == 2.5);
        CHECK(with(env, "max-burst", "1").max_burst == 1);
        CHECK(with(env, "ping-interval", "10").ping_interval_ms == 10000);
        CHECK(with(env, "ping-interval", "1.5s").ping_interval_ms == 1500);
        CHECK(with(env, "ping-interval", "500ms").ping_interval_ms == 500);
        CHECK(with(env, "ping-interval", "10ms").ping_interval_ms == 10);
        CHECK(with(env, "idle-timeout", "86400").idle_timeout_ms == 86400000);
        CHECK(with(env, "idle-timeout", "90s").idle_timeout_ms == 90000);
        CHECK(with(env, "handshake-timeout", "2s").handshake_timeout_ms == 2000);
        CHECK(strcmp(with(env, "static-dir", dir).static_dir, dir) == 0);
        CHECK(strcmp(with(env, "secret", "s3cret").secret, "s3cret") == 0);
        CHECK(strcmp(with(env, "api-key", "k").api_key, "k") == 0);
        CHECK(with(env, "echo", NULL).echo);
        CHECK(with(env, "log-level", "debug").log_level == LOG_DEBUG);
        CHECK(with(env, "log-level", "error").log_level == LOG_ERROR);
        CHECK(with(env, "log-level", "warn").log_level == LOG_WARN);
        CHECK(with(env, "log-rate", "0").log_rate == 0);
        CHECK(with(env, "log-rate", "2.5").log_rate == 2.5);
        CHECK(with(env, "offline-max", "0").offline_max == 0);
        CHECK(with(env, "offline-max", "100000").offline_max == 100000);
        CHECK(with(env, "offline-ttl", "90").offline_ttl_s == 90);
        CHECK(with(env, "offline-ttl", "90s").offline_ttl_s == 90);
        CHECK(with(env, "offline-ttl", "30m").offline_ttl_s == 1800);
        CHECK(with(env, "offline-ttl", "12h").offline_ttl_s == 43200);
        CHECK(with(env, "offline-ttl", "3650d").offline_ttl_s == 3650 * 86400L);
        CHECK(with(env, "offline-bytes", "1k").offline_bytes == 1024);
        CHECK(with(env, "offline-bytes", "2g").offline_bytes == (size_t)2 << 30);
        CHECK(strcmp(with(env, "journal", "/var/lib/pusher").journal, "/var/lib/pusher") == 0);
        CHECK(with(env, "fsync", "always").fsync == JOURNAL_ALWAYS);
        CHECK(with(env, "fsync", "no").fsync == JOURNAL_NO);
        CHECK(with(env, "journal-repair", NULL).journal_repair);
        CHECK(with(env, "backend", "poll").backend == BACKEND_POLL);
        CHECK(with(env, "backend", "epoll").backend == BACKEND_EPOLL);
        CHECK(with(env, "backend", "uring").backend == BACKEND_URING);
        CHECK(strcmp(with(env, "redis", "unix:/run/redis.sock").redis.text, "unix:/run/redis.sock") == 0);
        CHECK(with(env, "redis", "127.0.0.1:6379").redis.sa.ss_family == AF_INET);
        CHECK(with(env, "redis", "localhost:6379").redis.len > 0);
        CHECK(with(env, "redis", "[::1]:6380").redis.sa.ss_family == AF_INET6);

        struct config c = with(env, "allowed-origin", "https://a.example");
        CHECK(c.num_origins == 1 && strcmp(c.origins[0], "https://a.example") == 0);
    }
    clear_env();
    CHECK(!with(true, "echo", "0").echo);
    rmdir(dir);
}

/* "--name value" works as well as "--name=value", and so does a unique prefix,
 * as getopt_long allows. */
static void test_flag_forms(void)
{
    struct config c;

    clear_env();
    CHECK(LOAD(&c, "--port", "81", "--max-rate", "7", "--echo").status == 0);
    CHECK(c.port == 81 && c.max_rate == 7 && c.echo);
    CHECK(LOAD(&c, "--handshake", "3").status == 0 && c.handshake_timeout_ms == 3000);
}

/* ---- Precedence ---------------------------------------------------------- */

static void test_precedence(void)
{
    struct config c;

    clear_env();
    setenv("PUSHER_PORT", "9000", 1);
    setenv("PUSHER_MAX_RATE", "5", 1);
    CHECK(LOAD(&c, "--port=9001").status == 0);
    CHECK(c.port == 9001);   /* the flag beats the environment */
    CHECK(c.max_rate == 5);  /* the environment beats the default */
    CHECK(c.max_burst == 1000);
    CHECK(LOAD(&c, "--port=1", "--port=2").status == 0 && c.port == 2); /* the last flag wins */

    /* A bad variable is refused even where a flag would override it. */
    setenv("PUSHER_PORT", "x", 1);
    CHECK(refused(LOAD(&c, "--port=1"), "PUSHER_PORT"));
    clear_env();
}

/* ---- Origins ------------------------------------------------------------- */

static void test_origins(void)
{
    struct config c;
    char many[17 * 12 + 1] = "", big[CONFIG_ORIGIN_SIZE + 1];

    clear_env();
    CHECK(LOAD(&c, "--allowed-origin", "https://a.example", "--allowed-origin=http://b.example:8080")
              .status == 0);
    CHECK(c.num_origins == 2);
    CHECK(strcmp(c.origins[0], "https://a.example") == 0);
    CHECK(strcmp(c.origins[1], "http://b.example:8080") == 0);

    setenv("PUSHER_ALLOWED_ORIGIN", "https://a.example,https://b.example", 1);
    CHECK(LOAD(&c, NULL).status == 0);
    CHECK(c.num_origins == 2);
    CHECK(strcmp(c.origins[0], "https://a.example") == 0);
    CHECK(strcmp(c.origins[1], "https://b.example") == 0);

    /* Flags replace the environment's list rather than add to it. */
    CHECK(LOAD(&c, "--allowed-origin=https://c.example", "--allowed-origin=https://d.example,https://e.example")
              .status == 0);
    CHECK(c.num_origins == 3);
    CHECK(strcmp(c.origins[0], "https://c.example") == 0);
    CHECK(strcmp(c.origins[2], "https://e.example") == 0);
    clear_env();

    for (int i = 0; i < 16; i++)
        strcat(many, i ? ",http://a.b" : "http://a.b");
    CHECK(LOAD(&c, "--allowed-origin", many).status == 0 && c.num_origins == 16);
    strcat(many, ",http://a.b");
    CHECK(refused(LOAD(&c, "--allowed-origin", many), "at most 16"));
    CHECK(refused(LOAD(&c, "--allowed-origin", many + 11, "--allowed-origin=http://x.y"), "at most 16"));

    memset(big, 'a', sizeof big - 1);
    memcpy(big, "http://", 7);
    big[sizeof big - 2] = '\0'; /* the longest that fits */
    CHECK(LOAD(&c, "--allowed-origin", big).status == 0 && strcmp(c.origins[0], big) == 0);
    big[sizeof big - 2] = 'a';
    big[sizeof big - 1] = '\0';
    CHECK(refused(LOAD(&c, "--allowed-origin", big), "--allowed-origin"));
}

/* ---- Refusals ------------------------------------------------------------ */

struct bad {
    const char *name;  /* option, without "--" */
    const char *value; /* a value it must refuse */
};

static const struct bad bads[] = {
    {"bind", "localhost"}, {"bind", "1.2.3"}, {"bind", "::g"}, {"bind", ""}, {"bind", " 1.2.3.4"},
    {"bind", "fe80::1%eth0"}, {"bind", "1.2.3.4:80"},
    {"port", "80x"}, {"port", "65536"}, {"port", "-1"}, {"port", "+80"}, {"port", ""}, {"port", " 80"},
    {"port", "0x50"}, {"port", "80.0"}, {"port", "99999999999999999999999"},
    {"max-connections", "10000001"}, {"max-connections", "-5"}, {"max-connections", "1e3"},
    {"max-message", "124"}, {"max-message", "17m"}, {"max-message", "64q"}, {"max-message", "64kk"},
    {"max-message", "k"}, {"max-message", "99999999999999999k"}, {"max-message", "16385k"},
    {"max-pending", "0"}, {"max-pending", "1023"}, {"max-pending", "1025m"}, {"max-pending", "2g"}, {"max-pending", "1t"},
    {"max-rate", "-1"}, {"max-rate", "nan"}, {"max-rate", "inf"}, {"max-rate", "1e3"},
    {"max-rate", "0x10"}, {"max-rate", "1.2.3"}, {"max-rate", "."}, {"max-rate", ""},
    {"max-rate", "1" "000000000000000000000000000000000000000000000000000000000000000000000000000000"
                 "000000000000000000000000000000000000000000000000000000000000000000000000000000"
                 "000000000000000000000000000000000000000000000000000000000000000000000000000000"
                 "000000000000000000000000000000000000000000000000000000000000000000000000000000"},
    {"max-burst", "0"}, {"max-burst", "0.5"},
    {"ping-interval", "9ms"}, {"ping-interval", "0"}, {"ping-interval", "86401"},
    {"ping-interval", "86400001ms"}, {"ping-interval", "1.5.5s"}, {"ping-interval", "s"},
    {"ping-interval", "10 s"}, {"ping-interval", "2m"}, {"ping-interval", "5sec"},
    {"ping-interval", "-5"}, {"idle-timeout", "1e9"}, {"handshake-timeout", "ms"},
    {"static-dir", "/nonexistent/pusher"}, {"static-dir", ""},
    {"secret", ""}, {"api-key", ""},
    {"allowed-origin", "example.com"}, {"allowed-origin", "https://a.example,"},
    {"allowed-origin", ",https://a.example"}, {"allowed-origin", "https://a.example,,https://b.example"},
    {"allowed-origin", ""},
    {"log-level", "loud"}, {"log-level", "INFO"}, {"log-level", ""},
    {"log-rate", "-1"}, {"log-rate", "fast"},
    {"backend", "kqueue"}, {"backend", ""},
    {"offline-max", "-1"}, {"offline-max", "100001"},
    {"offline-ttl", "0"}, {"offline-ttl", "0d"}, {"offline-ttl", "3651d"}, {"offline-ttl", "1w"},
    {"offline-ttl", "1.5h"}, {"offline-ttl", "5ms"}, {"offline-ttl", "h"}, {"offline-ttl", "7dd"},
    {"offline-bytes", "1023"}, {"offline-bytes", "65g"},
    {"journal", ""}, {"fsync", "sometimes"}, {"fsync", ""},
    {"redis", "redis.example.com:6379"}, {"redis", "localhost"}, {"redis", "127.0.0.1"},
    {"redis", "127.0.0.1:0"}, {"redis", "127.0.0.1:65536"}, {"redis", "::1:6379"},
    {"redis", "unix:"}, {"redis", ""}, {"redis-password", ""},
};

static void test_bad_values(void)
{
    char file[] = "/tmp/test_config_XXXXXX", flag[512], want[512];
    int fd = mkstemp(file);
    struct config c;

    CHECK(fd >= 0);
    close(fd);
    for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
        const struct bad *b = &bads[i];
        char var[64] = "PUSHER_";
        size_t j;
        char *value = check_tail_copy(b->value, strlen(b->value) + 1), *tail;

        for (j = 0; b->name[j]; j++)
            var[7 + j] = b->name[j] == '-' ? '_' : (char)(b->name[j] - 'a' + 'A');
        var[7 + j] = '\0';

        clear_env();
        snprintf(want, sizeof want, "--%s must be ", b->name);
        snprintf(flag, sizeof flag, "--%s=%s", b->name, value);
        tail = check_tail_copy(flag, strlen(flag) + 1);
        CHECK(refused(LOAD(&c, tail), want));
        CHECK(refused(LOAD(&c, tail, "--help"), want)); /* refused before --help is seen */
        free(tail);
        if (*value) { /* "--port ''" is an empty value, not a missing one */
            snprintf(flag, sizeof flag, "--%s", b->name);
            CHECK(refused(LOAD(&c, flag, value), want));
        }

        setenv(var, value, 1);
        snprintf(want, sizeof want, "%s must be ", var);
        CHECK(refused(LOAD(&c, NULL), want));
        free(value);
    }
    clear_env();
    CHECK(refused(LOAD(&c, "--static-dir", file), "--static-dir must be an existing directory"));
    unlink(file);
}

/* The exact lines, for the two examples the project gives. */
static void test_messages(void)
{
    struct config c;
    struct run r;

    clear_env();
    r = LOAD(&c, "--port", "80x");
    CHECK(r.status == 2);
    CHECK(strcmp(r.err, "pusher: --port must be an integer from 0 to 65535 (got \"80x\")\n") == 0);
    setenv("PUSHER_MAX_RATE", "-1", 1);
    r = LOAD(&c, NULL);
    CHECK(r.status == 2);
    CHECK(strcmp(r.err, "pusher: PUSHER_MAX_RATE must be a number >= 0 (got \"-1\")\n") == 0);
    unsetenv("PUSHER_MAX_RATE");
    setenv("PUSHER_ECHO", "yes", 1);
    CHECK(refused(LOAD(&c, NULL), "PUSHER_ECHO must be 0 or 1 (got \"yes\")"));
    clear_env();
}

static void test_bad_flags(void)
{
    struct config c;

    clear_env();
    CHECK(refused(LOAD(&c, "--nope"), "unknown option \"--nope\""));
    CHECK(refused(LOAD(&c, "--nope=1"), "unknown option \"--nope=1\""));
    CHECK(refused(LOAD(&c, "-x"), "unknown option \"-x\""));
    CHECK(LOAD(&c, "-hx").status == 1); /* -h comes first */
    CHECK(refused(LOAD(&c, "--max"), "unknown option \"--max\"")); /* ambiguous prefix */
    CHECK(refused(LOAD(&c, "--port"), "--port needs a value"));
    CHECK(refused(LOAD(&c, "--echo=1"), "--echo takes no value (got \"--echo=1\")"));
    CHECK(refused(LOAD(&c, "8080"), "unexpected argument \"8080\""));
    CHECK(refused(LOAD(&c, "--", "--port=1"), "unexpected argument \"--port=1\""));
}

/* A ping must be answerable before the idle close, whichever option moved. */
static void test_idle_after_ping(void)
{
    struct config c;

    clear_env();
    CHECK(refused(LOAD(&c, "--ping-interval=30", "--idle-timeout=30"), "--idle-timeout must be more than"));
    CHECK(refused(LOAD(&c, "--idle-timeout=20"), "--idle-timeout must be more than"));
    CHECK(refused(LOAD(&c, "--ping-interval=61"), "--idle-timeout must be more than"));
    CHECK(refused(LOAD(&c, "--ping-interval=1s", "--idle-timeout=999ms"), "got 999ms, ping 1000ms"));
    CHECK(LOAD(&c, "--ping-interval=30", "--idle-timeout=30.001").status == 0);
    CHECK(c.ping_interval_ms == 30000 && c.idle_timeout_ms == 30001);
    setenv("PUSHER_PING_INTERVAL", "100", 1);
    CHECK(refused(LOAD(&c, NULL), "--idle-timeout must be more than"));
    CHECK(LOAD(&c, "--idle-timeout=101").status == 0);
    clear_env();
}

/* ---- Every prefix of a good value ---------------------------------------- */

static long ping_ms(const struct config *c) { return (long)c->ping_interval_ms; }
static long message(const struct config *c) { return (long)c->max_message; }
static long port(const struct config *c) { return c->port; }

/* Each prefix is either refused or read as the number it spells; none crashes
 * or reads past its end (each sits at the end of its own heap block). */
static void test_prefixes(void)
{
    static const struct {
        const char *flag, *value;
        long (*get)(const struct config *c);
        long want[8]; /* by prefix length 1.., -1 = refused */
    } cases[] = {
        {"--ping-interval", "1.5s", ping_ms, {1000, 1000, 1500, 1500}},
        {"--ping-interval", "500ms", ping_ms, {5000, 50000, 500000, -1, 500}},
        {"--max-message", "128k", message, {-1, -1, 128, 131072}},
        {"--port", "8080", port, {8, 80, 808, 8080}},
    };
    struct config c;

    clear_env();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (size_t len = 1; len <= strlen(cases[i].value); len++) {
            char *value = check_tail_copy(cases[i].value, len + 1);
            long want = cases[i].want[len - 1];
            struct run r;

            value[len] = '\0';
            r = LOAD(&c, (char *)cases[i].flag, value, "--idle-timeout=86400");
            CHECK(want < 0 ? r.status == 2 : r.status == 0 && cases[i].get(&c) == want);
            free(value);
        }
    }
}

/* ---- --help, --version, getopt's global state ---------------------------- */

static void test_help_version(void)
{
    struct config c;
    struct run r;

    clear_env();
    r = LOAD(&c, "--help");
    CHECK(r.status == 1 && r.err[0] == '\0');
    CHECK(strncmp(r.out, "usage: pusher", 13) == 0);
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        CHECK(strstr(r.out, vars[i]) != NULL);
    CHECK(strstr(r.out, "\n  --port=N  (PUSHER_PORT, default 8080)\n") != NULL);
    CHECK(strstr(r.out, "\n  --max-message=SIZE  (PUSHER_MAX_MESSAGE, default 64k)\n") != NULL);
    CHECK(strstr(r.out, "\n  --secret=KEY  (PUSHER_SECRET, default unset)\n") != NULL);
    CHECK(strstr(r.out, "\n  --echo  (PUSHER_ECHO, default 0)\n") != NULL);
    CHECK(strstr(r.out, "--version") != NULL);
    CHECK(LOAD(&c, "-h").status == 1);

    r = LOAD(&c, "--version");
    CHECK(r.status == 1 && strcmp(r.out, "pusher " PUSHER_VERSION "\n") == 0 && r.err[0] == '\0');
    CHECK(strcmp(LOAD(&c, "-V").out, "pusher 0.1.0\n") == 0);
}

/* getopt_long keeps its place in globals (optind and, in glibc, the position
 * inside a cluster of short options). "-Vh" stops at -V with the 'h' still
 * pending; were the next call to resume rather than start afresh, it would
 * print the help instead of reading --port. */
static void test_reload(void)
{
    struct config c;
    struct run r;

    clear_env();
    CHECK(LOAD(&c, "-Vh").status == 1);
    r = LOAD(&c, "--port=1");
    CHECK(r.status == 0 && c.port == 1 && r.out[0] == '\0');
    CHECK(LOAD(&c, "--port=x", "--port=2").status == 2);
    CHECK(LOAD(&c, "--port=3").status == 0 && c.port == 3);
}

/* ---- config_print --------------------------------------------------------- */

static void test_print(void)
{
    struct config c;
    char *text = NULL;
    size_t size = 0;
    FILE *f;

    clear_env();
    setenv("PUSHER_SECRET", "hunter2", 1);
    CHECK(LOAD(&c, "--allowed-origin=https://a.example,https://b.example", "--max-rate=0.5").status == 0);
    f = open_memstream(&text, &size);
    config_print(&c, f);
    fclose(f);
    CHECK(lines(text) == 1 && text[size - 1] == '\n');
    CHECK(strncmp(text, "bind=0.0.0.0 port=8080 ", 23) == 0);
    CHECK(strstr(text, " max_rate=0.5 ") != NULL);
    CHECK(strstr(text, " ping_interval_ms=25000 ") != NULL);
    CHECK(strstr(text, " secret=set api_key=unset ") != NULL);
    CHECK(strstr(text, "hunter2") == NULL);
    CHECK(strstr(text, " allowed_origins=https://a.example,https://b.example ") != NULL);
    CHECK(strstr(text, " static_dir=builtin ") != NULL);
    CHECK(strstr(text, " log_level=info ") != NULL);
    free(text);

    clear_env();
    CHECK(LOAD(&c, "--api-key=k", "--log-level=debug", "--backend=poll", "--echo").status == 0);
    f = open_memstream(&text, &size);
    config_print(&c, f);
    fclose(f);
    CHECK(strstr(text, " secret=unset api_key=set allowed_origins=any echo=1 ") != NULL);
    CHECK(strstr(text, " log_level=debug log_rate=20 backend=poll ") != NULL);
    CHECK(strstr(text, " offline_max=100 offline_ttl_s=604800 offline_bytes=67108864 journal=none tls=off"
                       " redis=none\n") != NULL);
    free(text);
}

/* --tls-cert and --tls-key: readable files, from a flag or the environment,
 * both or neither; the files' contents are tls.c's to judge. */
static void test_tls_files(void)
{
    char cert[] = "/tmp/test_config_XXXXXX", key[] = "/tmp/test_config_XXXXXX";
    char dir[] = "/tmp/test_config_XXXXXX", flag[128], *text = NULL;
    int fc = mkstemp(cert), fk = mkstemp(key);
    size_t size = 0;
    struct config c;

    CHECK(fc >= 0 && fk >= 0 && mkdtemp(dir) != NULL);
    close(fc);
    close(fk);
    clear_env();
    CHECK(LOAD(&c, NULL).status == 0 && c.tls_cert == NULL && c.tls_key == NULL);
    CHECK(LOAD(&c, "--tls-cert", cert, "--tls-key", key).status == 0);
    CHECK(strcmp(c.tls_cert, cert) == 0 && strcmp(c.tls_key, key) == 0);
    FILE *f = open_memstream(&text, &size);
    config_print(&c, f);
    fclose(f);
    snprintf(flag, sizeof flag, " tls_cert=\"%s\" tls_key=\"%s\" redis=none\n", cert, key);
    CHECK(strstr(text, flag) != NULL && strstr(text, "tls=off") == NULL);
    free(text);
    setenv("PUSHER_TLS_CERT", cert, 1);
    setenv("PUSHER_TLS_KEY", key, 1);
    CHECK(LOAD(&c, NULL).status == 0 && strcmp(c.tls_cert, cert) == 0);
    CHECK(LOAD(&c, "--tls-cert", key).status == 0 && strcmp(c.tls_cert, key) == 0);
    clear_env();

    CHECK(refused(LOAD(&c, "--tls-cert", cert), "--tls-cert and --tls-key go together (got only --tls-cert)"));
    CHECK(refused(LOAD(&c, "--tls-key", key), "(got only --tls-key)"));
    setenv("PUSHER_TLS_KEY", key, 1);
    CHECK(refused(LOAD(&c, NULL), "(got only --tls-key)"));
    clear_env();
    CHECK(refused(LOAD(&c, "--tls-cert", dir, "--tls-key", key), "--tls-cert must be a readable file"));
    CHECK(refused(LOAD(&c, "--tls-cert", cert, "--tls-key", "/nonexistent/key.pem"),
                  "--tls-key must be a readable file (got \"/nonexistent/key.pem\")"));
    setenv("PUSHER_TLS_CERT", "", 1);
    CHECK(refused(LOAD(&c, "--tls-key", key), "PUSHER_TLS_CERT must be a readable file"));
    clear_env();
    unlink(cert);
    unlink(key);
    rmdir(dir);
}

/* --redis and --redis-password: the address is redis.c's rule (its own
 * test has the cases), the password needs an address, and neither goes
 * with --journal; the password never shows. */
static void test_redis(void)
{
    char *text = NULL;
    size_t size = 0;
    struct config c;
    struct run r;

    clear_env();
    r = LOAD(&c, "--redis", "redis.example.com:6379");
    CHECK(refused(r, "(a static binary has no DNS) (got \"redis.example.com:6379\")"));
    CHECK(refused(LOAD(&c, "--redis-password", "pw"), "--redis-password needs --redis"));
    CHECK(refused(LOAD(&c, "--redis", "unix:/r.sock", "--journal", "/tmp"),
                  "--redis and --journal are not used together"));
    setenv("PUSHER_REDIS_PASSWORD", "hunter2", 1);
    CHECK(refused(LOAD(&c, NULL), "--redis-password needs --redis"));
    CHECK(LOAD(&c, "--redis=unix:/r.sock").status == 0 && strcmp(c.redis_password, "hunter2") == 0);
    CHECK(LOAD(&c, "--redis=unix:/r.sock", "--redis-password=pw").status == 0 &&
          strcmp(c.redis_password, "pw") == 0);
    setenv("PUSHER_REDIS", "127.0.0.1:1", 1);
    CHECK(LOAD(&c, "--redis=localhost:2").status == 0 && strcmp(c.redis.text, "localhost:2") == 0);
    CHECK(LOAD(&c, NULL).status == 0 && strcmp(c.redis.text, "127.0.0.1:1") == 0);
    FILE *f = open_memstream(&text, &size);
    config_print(&c, f);
    fclose(f);
    CHECK(strstr(text, " redis=\"127.0.0.1:1\" redis_password=set\n") != NULL);
    CHECK(strstr(text, "hunter2") == NULL);
    free(text);
    clear_env();
}

int main(void)
{
    test_defaults();
    test_each_option();
    test_flag_forms();
    test_precedence();
    test_origins();
    test_bad_values();
    test_messages();
    test_bad_flags();
    test_idle_after_ping();
    test_prefixes();
    test_help_version();
    test_reload();
    test_print();
    test_tls_files();
    test_redis();
    return check_summary("config");
}

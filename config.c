/* config.c - pusher's options: one table, each entry typed by the kind of
 * value it takes and the field it sets.
 *
 * The defaults, the environment and the flags all go through the same reader,
 * in that order, so a value means the same wherever it comes from and a later
 * source overrides an earlier one. --help is printed from the same table. */
#define _POSIX_C_SOURCE 200809L

#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define KIB 1024L
#define MIB (1024L * KIB)
#define GIB (1024L * MIB)
#define STRINGIFY(x) #x
#define STR(x) STRINGIFY(x)
#define COUNT(a) (int)(sizeof(a) / sizeof(a)[0])

#ifdef __linux__
#define DEFAULT_BACKEND "uring"
#else
#define DEFAULT_BACKEND "poll"
#endif

static const char *const levels[] = {"error", "warn", "info", "debug"}; /* by enum log_level */
static const char *const backends[] = {"poll", "epoll", "uring"};       /* by enum loop_backend */
static const char *const fsyncs[] = {"always", "everysec", "no"};       /* by enum journal_fsync */
/* CHOICE options store an enum through an int. */
_Static_assert(sizeof(enum log_level) == sizeof(int) && sizeof(enum loop_backend) == sizeof(int) &&
               sizeof(enum journal_fsync) == sizeof(int), "enums are ints");

/* ---- Strict readers: true when all of v is good (else *out is garbage) ----- */

/* A decimal integer from 0 to max at the start of v; *rest is what follows.
 * The first-digit test keeps out what strtol would skip or take: blanks, signs. */
static bool integer(const char *v, long max, long *out, char **rest)
{
    errno = 0;
    *out = strtol(v, rest, 10);
    return v[0] >= '0' && v[0] <= '9' && errno == 0 && *out <= max;
}

/* Digits with at most one '.', at the start of v. Matching strtod's end to the
 * span keeps out what strtod would also take: blanks, signs, exponents, hex,
 * inf and nan. */
static bool decimal(const char *v, double *out, char **rest)
{
    errno = 0;
    *out = strtod(v, rest);
    return *rest == v + strspn(v, "0123456789.") && *rest > v && errno == 0;
}

static bool whole(const char *v, long max, long *out)
{
    char *rest;

    return integer(v, max, out, &rest) && *rest == '\0';
}

static bool number(const char *v, double min, double *out)
{
    char *rest;

    return decimal(v, out, &rest) && *rest == '\0' && *out >= min;
}

/* Bytes, with an optional k/K, m/M or g/G suffix (1024-based). */
static bool size(const char *v, long min, long max, size_t *out)
{
    long n, unit = 1;
    char *rest;

    if (!integer(v, max, &n, &rest))
        return false;
    if (*rest == 'k' || *rest == 'K')
        unit = KIB, rest++;
    else if (*rest == 'm' || *rest == 'M')
        unit = MIB, rest++;
    else if (*rest == 'g' || *rest == 'G')
        unit = GIB, rest++;
    if (*rest != '\0' || n > max / unit || n * unit < min)
        return false;
    *out = (size_t)(n * unit);
    return true;
}

/* "25" and "25s" are seconds, so is "1.5s"; "500ms" is milliseconds. */
static bool duration(const char *v, unsigned *ms)
{
    char *rest;
    double x;

    if (!decimal(v, &x, &rest))
        return false;
    if (*rest == '\0' || strcmp(rest, "s") == 0)
        x *= 1000;
    else if (strcmp(rest, "ms") != 0)
        return false;
    if (x < 10 || x > 86400000.0)
        return false;
    *ms = (unsigned)(x + 0.5);
    return true;
}

/* Whole seconds, minutes, hours or days ("90", "90s", "30m", "12h", "7d"),
 * from one second to ten years, as seconds. */
static bool age(const char *v, long *seconds)
{
    static const char units[] = "smhd";
    static const long per[] = {1, 60, 3600, 86400};
    const long max = 3650 * 86400L;
    long n;
    char *rest;

    if (!integer(v, max, &n, &rest))
        return false;
    const char *u = *rest ? strchr(units, *rest) : units;
    if (!u || (*rest && rest[1] != '\0') || n == 0 || n > max / per[u - units])
        return false;
    *seconds = n * per[u - units];
    return true;
}

static bool pick(const char *v, const char *const names[], int count, int *out)
{
    for (int i = 0; i < count; i++) {
        if (strcmp(v, names[i]) == 0) {
            *out = i;
            return true;
        }
    }
    return false;
}

/* ---- The table ------------------------------------------------------------ */

/* How an option's value is read, and into what type of field. */
enum kind {
    ADDRESS,  /* char[]: an IPv4 or IPv6 literal */
    INTEGER,  /* long, from min to max */
    SIZE,     /* size_t, from min to max bytes */
    NUMBER,   /* double, at least min */
    DURATION, /* unsigned milliseconds */
    AGE,      /* long seconds, up to years */
    DIRECTORY,/* const char *: an existing directory */
    PATH,     /* const char *: a path, not empty */
    FILE_PATH,/* const char *: a file this process can read */
    KEY,      /* const char *: not empty, or it would sign or admit anything */
    REDIS,    /* struct redis_address: what redis_address_parse takes */
    ORIGINS,  /* the origins list: each value adds to it */
    SWITCH,   /* bool: "0" or "1" */
    CHOICE,   /* an enum: the index of the value in names */
};

struct option_def {
    const char *name; /* long flag, without "--" */
    const char *env;  /* its environment twin */
    const char *arg;  /* the value's name in --help; NULL for a switch, which sets "1" */
    const char *def;  /* default, applied like any value; NULL leaves the field zero */
    const char *help; /* one line for --help */
    const char *must; /* what a refused value must be, for the error line */
    enum kind kind;
    size_t field;     /* offsetof the struct config member it sets */
    long min, max;    /* INTEGER, SIZE and NUMBER (min only); CHOICE: the last index */
    const char *const *names; /* CHOICE */
};

#define AT(member) offsetof(struct config, member)
#define DURATION_MUST "a duration from 10ms to 1 day, like 25, 25s, 1.5s or 500ms"

static const struct option_def options[] = {
    {"bind", "PUSHER_BIND", "ADDR", "0.0.0.0", "address to listen on",
     "an IPv4 or IPv6 address, like 0.0.0.0 or ::", .kind = ADDRESS, .field = AT(bind)},
    {"port", "PUSHER_PORT", "N", "8080", "TCP port; 0 picks a free one",
     "an integer from 0 to 65535", .kind = INTEGER, .field = AT(port), .max = 65535},
    {"max-connections", "PUSHER_MAX_CONNECTIONS", "N", "0",
     "open connections at most; 0 derives it from the open-file limit",
     "an integer from 0 to 10000000", .kind = INTEGER, .field = AT(max_connections),
     .max = 10000000},
    /* 125: a message may always be as long as a control frame (RFC 6455
     * §5.5). 16m: the /echo endpoint's limit. */
    {"max-message", "PUSHER_MAX_MESSAGE", "SIZE", "64k",
     "longest message accepted; a longer one closes with 1009",
     "a size from 125 to 16m, like 65536 or 64k", .kind = SIZE, .field = AT(max_message),
     .min = 125, .max = 16 * MIB},
    {"max-pending", "PUSHER_MAX_PENDING", "SIZE", "1m",
     "unsent output a connection may hold before it is closed with 1008",
     "a size from 1k to 1024m, like 1m", .kind = SIZE, .field = AT(max_pending),
     .min = KIB, .max = 1024 * MIB},
    {"max-rate", "PUSHER_MAX_RATE", "N", "100",
     "messages a second per connection, or close with 1008; 0 turns the limit off",
     "a number >= 0", .kind = NUMBER, .field = AT(max_rate)},
    /* Under one token, a rate-limited connection could never send at all. */
    {"max-burst", "PUSHER_MAX_BURST", "N", "1000",
     "messages a connection may send at once, above --max-rate", "a number >= 1",
     .kind = NUMBER, .field = AT(max_burst), .min = 1},
    {"max-rooms", "PUSHER_MAX_ROOMS", "N", "100",
     "rooms a connection may be in at once", "an integer from 1 to 1000",
     .kind = INTEGER, .field = AT(max_rooms), .min = 1, .max = 1000},
    {"max-room-histories", "PUSHER_MAX_ROOM_HISTORIES", "N", "10000",
     "rooms whose recent history is kept, the least recently used forgotten first",
     "an integer from 1 to 10000000", .kind = INTEGER, .field = AT(max_room_histories),
     .min = 1, .max = 10000000},
    {"offline-max", "PUSHER_OFFLINE_MAX", "N", "100",
     "messages kept for a user who is offline, the oldest dropped first; 0: none",
     "an integer from 0 to 100000", .kind = INTEGER, .field = AT(offline_max), .max = 100000},
    {"offline-ttl", "PUSHER_OFFLINE_TTL", "AGE", "7d",
     "how long a message is kept for a user who is offline",
     "an age from 1s to 3650d, like 3600, 90s, 30m, 12h or 7d",
     .kind = AGE, .field = AT(offline_ttl_s)},
    {"offline-bytes", "PUSHER_OFFLINE_BYTES", "SIZE", "64m",
     "bytes of messages kept for all offline users together, the oldest dropped first",
     "a size from 1k to 64g, like 64m", .kind = SIZE, .field = AT(offline_bytes),
     .min = KIB, .max = 64 * GIB},
    {"journal", "PUSHER_JOURNAL", "DIR", NULL,
     "keep the histories, kept messages and ids in DIR (made if missing) across restarts",
     "a directory", .kind = PATH, .field = AT(journal)},
    {"fsync", "PUSHER_FSYNC", "WHEN", "everysec",
     "when the journal reaches the disk: always (before anyone sees a message), everysec or no",
     "always, everysec or no", .kind = CHOICE, .field = AT(fsync), .max = COUNT(fsyncs) - 1,
     .names = fsyncs},
    {"journal-repair", "PUSHER_JOURNAL_REPAIR", NULL, "0",
     "start from the whole records before a damaged one, setting the rest aside in DIR",
     "0 or 1", .kind = SWITCH, .field = AT(journal_repair)},
    {"ping-interval", "PUSHER_PING_INTERVAL", "TIME", "25s",
     "silence after which a connection is pinged", DURATION_MUST,
     .kind = DURATION, .field = AT(ping_interval_ms)},
    {"idle-timeout", "PUSHER_IDLE_TIMEOUT", "TIME", "60s",
     "silence after which a connection is closed with 1001; above --ping-interval", DURATION_MUST,
     .kind = DURATION, .field = AT(idle_timeout_ms)},
    {"handshake-timeout", "PUSHER_HANDSHAKE_TIMEOUT", "TIME", "10s",
     "time allowed for a whole HTTP request", DURATION_MUST,
     .kind = DURATION, .field = AT(handshake_timeout_ms)},
    {"static-dir", "PUSHER_STATIC_DIR", "DIR", NULL,
     "serve the chat page from DIR instead of the built-in copy", "an existing directory",
     .kind = DIRECTORY, .field = AT(static_dir)},
    {"secret", "PUSHER_SECRET", "KEY", NULL,
     "HS256 key of the `token` JWT clients must show (prefer the variable: flags show in ps)",
     "a non-empty key", .kind = KEY, .field = AT(secret)},
    {"api-key", "PUSHER_API_KEY", "KEY", NULL,
     "key POST /api/push must send as \"Authorization: Bearer KEY\"", "a non-empty key",
     .kind = KEY, .field = AT(api_key)},
    {"allowed-origin", "PUSHER_ALLOWED_ORIGIN", "ORIGIN", NULL,
     "the only Origin that may open a WebSocket; repeat it, or give a comma-separated list",
     "a comma-separated list of at most " STR(CONFIG_MAX_ORIGINS) " origins like https://example.com",
     .kind = ORIGINS, .field = AT(origins)},
    {"echo", "PUSHER_ECHO", NULL, "0", "serve /echo, for WebSocket conformance suites",
     "0 or 1", .kind = SWITCH, .field = AT(echo)},
    {"log-level", "PUSHER_LOG_LEVEL", "LEVEL", "info", "error, warn, info or debug",
     "error, warn, info or debug", .kind = CHOICE, .field = AT(log_level),
     .max = COUNT(levels) - 1, .names = levels},
    {"log-rate", "PUSHER_LOG_RATE", "N", "20",
     "lines a second about single connections, in bursts of ten times that; 0: no limit",
     "a number >= 0", .kind = NUMBER, .field = AT(log_rate)},
    {"backend", "PUSHER_BACKEND", "NAME", DEFAULT_BACKEND, "event loop: poll, epoll, or uring (epoll, and each turn's writes by one io_uring call)",
     "poll, epoll or uring", .kind = CHOICE, .field = AT(backend),
     .max = COUNT(backends) - 1, .names = backends},
    {"tls-cert", "PUSHER_TLS_CERT", "FILE", NULL,
     "PEM certificate (its chain after it): the port speaks TLS; reread on SIGHUP",
     "a readable file", .kind = FILE_PATH, .field = AT(tls_cert)},
    {"tls-key", "PUSHER_TLS_KEY", "FILE", NULL, "PEM private key of --tls-cert; reread on SIGHUP",
     "a readable file", .kind = FILE_PATH, .field = AT(tls_key)},
    {"redis", "PUSHER_REDIS", "ADDR", NULL,
     "the Redis (or Valkey) of several nodes, HOST:PORT or unix:PATH; it must answer at start",
     "HOST:PORT or unix:PATH, HOST an IPv4 address, an IPv6 one in brackets or localhost "
     "(a static binary has no DNS)", .kind = REDIS, .field = AT(redis)},
    {"redis-password", "PUSHER_REDIS_PASSWORD", "KEY", NULL,
     "password Redis wants with AUTH (prefer the variable: flags show in ps)", "a non-empty key",
     .kind = KEY, .field = AT(redis_password)},
};

/* Literals only: a name would need DNS, which a static binary lacks. */
static bool address(const char *v, char *out, size_t cap)
{
    unsigned char addr[sizeof(struct in6_addr)];
    size_t len = strlen(v);

    if (len >= cap || (inet_pton(AF_INET, v, addr) != 1 && inet_pton(AF_INET6, v, addr) != 1))
        return false;
    memcpy(out, v, len + 1);
    return true;
}

/* A serialised origin holds no comma (RFC 6454 §6.2), so commas can separate
 * them. Each call adds to the list. */
static bool add_origins(struct config *c, const char *v)
{
    for (;;) {
        size_t len = strcspn(v, ",");
        char *origin;

        if (c->num_origins == CONFIG_MAX_ORIGINS || len == 0 || len >= CONFIG_ORIGIN_SIZE)
            return false;
        origin = c->origins[c->num_origins];
        memcpy(origin, v, len);
        origin[len] = '\0';
        if (!strstr(origin, "://"))
            return false;
        c->num_origins++;
        if (v[len] == '\0')
            return true;
        v += len + 1;
    }
}

/* Reads v into o's field of c; false refuses it. */
static bool set(struct config *c, const struct option_def *o, const char *v)
{
    void *field = (char *)c + o->field;
    struct stat st;

    switch (o->kind) {
    case ADDRESS:
        return address(v, field, sizeof c->bind);
    case INTEGER:
        return whole(v, o->max, field) && *(long *)field >= o->min;
    case SIZE:
        return size(v, o->min, o->max, field);
    case NUMBER:
        return number(v, (double)o->min, field);
    case DURATION:
        return duration(v, field);
    case AGE:
        return age(v, field);
    case DIRECTORY:
        *(const char **)field = v;
        return stat(v, &st) == 0 && S_ISDIR(st.st_mode);
    case FILE_PATH:
        *(const char **)field = v;
        return stat(v, &st) == 0 && S_ISREG(st.st_mode) && access(v, R_OK) == 0;
    case KEY:
    case PATH:
        *(const char **)field = v;
        return *v != '\0';
    case ORIGINS:
        return add_origins(c, v);
    case REDIS:
        return redis_address_parse(v, field);
    case SWITCH:
        *(bool *)field = v[0] == '1';
        return (v[0] == '0' || v[0] == '1') && v[1] == '\0';
    case CHOICE:
        return pick(v, o->names, (int)o->max + 1, field);
    }
    return false;
}

enum { NUM_OPTIONS = COUNT(options), FIRST_VAL = 256 }; /* FIRST_VAL: getopt_long vals past any char */

/* ---- Loading -------------------------------------------------------------- */

static void usage(FILE *f)
{
    fputs("usage: pusher [options]\n"
          "Each option may come from the environment variable shown; a flag wins over it.\n"
          "SIZE takes a k, m or g suffix (1024-based); TIME is seconds, or ends in s or ms;\n"
          "AGE is seconds, or ends in s, m, h or d.\n\n", f);
    for (const struct option_def *o = options; o < options + NUM_OPTIONS; o++)
        fprintf(f, "  --%s%s%s  (%s, default %s)\n      %s\n", o->name, o->arg ? "=" : "",
                o->arg ? o->arg : "", o->env, o->def ? o->def : "unset", o->help);
    fputs("  -h, --help\n      print this and exit\n"
          "  -V, --version\n      print the version and exit\n", f);
}

/* Runs o's setter on v; a refusal becomes the one line on stderr. */
static bool apply(struct config *c, const struct option_def *o, bool flag, const char *v)
{
    if (set(c, o, v))
        return true;
    fprintf(stderr, "pusher: %s%s must be %s (got \"%s\")\n", flag ? "--" : "",
            flag ? o->name : o->env, o->must, v);
    return false;
}

/* getopt_long returned '?' (opterr is off): optopt is an unknown short option,
 * the val of a switch that was given a value, or 0 for an unknown long option. */
static void refuse_flag(char *const argv[])
{
    if (optopt > 0 && optopt < FIRST_VAL)
        fprintf(stderr, "pusher: unknown option \"-%c\" (see --help)\n", optopt);
    else if (optopt >= FIRST_VAL)
        fprintf(stderr, "pusher: --%s takes no value (got \"%s\")\n",
                options[optopt - FIRST_VAL].name, argv[optind - 1]);
    else
        fprintf(stderr, "pusher: unknown option \"%s\" (see --help)\n", argv[optind - 1]);
}

int config_load(struct config *c, int argc, char **argv)
{
    struct option longopts[NUM_OPTIONS + 3];
    bool origins_from_flags = false;
    const char *v;
    int i, opt;

    *c = (struct config){0};
    for (i = 0; i < NUM_OPTIONS; i++)
        if (options[i].def && !apply(c, &options[i], true, options[i].def))
            abort(); /* the table's own default is refused: a bug in the table */
    for (i = 0; i < NUM_OPTIONS; i++)
        if ((v = getenv(options[i].env)) && !apply(c, &options[i], false, v))
            return 2;

    for (i = 0; i < NUM_OPTIONS; i++)
        longopts[i] = (struct option){options[i].name, options[i].arg ? required_argument : no_argument,
                                      NULL, FIRST_VAL + i};
    longopts[i++] = (struct option){"help", no_argument, NULL, 'h'};
    longopts[i++] = (struct option){"version", no_argument, NULL, 'V'};
    longopts[i] = (struct option){0};
    /* getopt keeps its place in globals. optind = 1 would let glibc resume in
     * the middle of a cluster like "-Vh" left by an earlier call; 0 makes glibc
     * and musl start afresh. Tests and a re-reading server call this again. */
    optind = 0;
    opterr = 0; /* our messages are one line in our format */
    while ((opt = getopt_long(argc, argv, ":hV", longopts, NULL)) != -1) {
        if (opt == 'h') {
            usage(stdout);
            return 1;
        } else if (opt == 'V') {
            puts("pusher " PUSHER_VERSION);
            return 1;
        } else if (opt == ':') {
            fprintf(stderr, "pusher: %s needs a value\n", argv[optind - 1]);
            return 2;
        } else if (opt == '?') {
            refuse_flag(argv);
            return 2;
        }
        const struct option_def *o = &options[opt - FIRST_VAL];
        /* The first --allowed-origin replaces the environment's list; later ones add to it. */
        if (o->kind == ORIGINS && !origins_from_flags) {
            c->num_origins = 0;
            origins_from_flags = true;
        }
        if (!apply(c, o, true, optarg ? optarg : "1"))
            return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "pusher: unexpected argument \"%s\" (see --help)\n", argv[optind]);
        return 2;
    }
    /* A certificate is no use without its key, nor a key without it. */
    if (!c->tls_cert != !c->tls_key) {
        fprintf(stderr, "pusher: --tls-cert and --tls-key go together (got only --%s)\n",
                c->tls_cert ? "tls-cert" : "tls-key");
        return 2;
    }
    if (c->redis_password && !c->redis.len) {
        fputs("pusher: --redis-password needs --redis\n", stderr);
        return 2;
    }
    /* PROTOCOL.md: with several nodes, Redis holds what must survive. */
    if (c->redis.len && c->journal) {
        fputs("pusher: --redis and --journal are not used together (run Redis with its "
              "append-only file instead)\n", stderr);
        return 2;
    }
    /* A ping must have its chance to be answered before the idle close. */
    if (c->idle_timeout_ms <= c->ping_interval_ms) {
        fprintf(stderr, "pusher: --idle-timeout must be more than --ping-interval (got %ums, ping %ums)\n",
                c->idle_timeout_ms, c->ping_interval_ms);
        return 2;
    }
    return 0;
}

void config_print(const struct config *c, FILE *f)
{
    fprintf(f, "bind=%s port=%ld max_connections=%ld max_message=%zu max_pending=%zu max_rate=%g"
            " max_burst=%g ping_interval_ms=%u idle_timeout_ms=%u handshake_timeout_ms=%u",
            c->bind, c->port, c->max_connections, c->max_message, c->max_pending, c->max_rate,
            c->max_burst, c->ping_interval_ms, c->idle_timeout_ms, c->handshake_timeout_ms);
    if (c->static_dir)
        fprintf(f, " static_dir=\"%s\"", c->static_dir);
    else
        fputs(" static_dir=builtin", f);
    fprintf(f, " secret=%s api_key=%s allowed_origins=", c->secret ? "set" : "unset",
            c->api_key ? "set" : "unset");
    for (size_t i = 0; i < c->num_origins; i++)
        fprintf(f, "%s%s", i ? "," : "", c->origins[i]);
    fprintf(f, "%s echo=%d log_level=%s log_rate=%g backend=%s offline_max=%ld offline_ttl_s=%ld"
            " offline_bytes=%zu", c->num_origins ? "" : "any", c->echo, levels[c->log_level],
            c->log_rate, backends[c->backend], c->offline_max, c->offline_ttl_s, c->offline_bytes);
    if (c->journal)
        fprintf(f, " journal=\"%s\" fsync=%s journal_repair=%d", c->journal, fsyncs[c->fsync],
                c->journal_repair);
    else
        fputs(" journal=none", f);
    if (c->tls_cert)
        fprintf(f, " tls_cert=\"%s\" tls_key=\"%s\"", c->tls_cert, c->tls_key);
    else
        fputs(" tls=off", f);
    if (c->redis.len)
        fprintf(f, " redis=\"%s\" redis_password=%s\n", c->redis.text,
                c->redis_password ? "set" : "unset");
    else
        fputs(" redis=none\n", f);
}

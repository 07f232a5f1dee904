/* pusher.c - the program: configuration, the listening socket, signals, the
 * main loop, rereading the certificate on SIGHUP, the connection to Redis
 * with --redis, and a graceful shutdown.
 *
 * Reading order for the rest (the README's): ws.c (the RFC 6455 codec),
 * handshake.c, session.c, conn.c, connmgr.c; then loop.c, server.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cluster.h"
#include "config.h"
#include "conn.h"
#include "connmgr.h"
#include "store.h"
#include "journal.h"
#include "log.h"
#include "offline.h"
#include "loop.h"
#include "metrics.h"
#include "redis.h"
#include "server.h"
#include "tls.h"

#define RESERVED_FDS 16         /* stdio, the listener, epoll, Redis's two, and a margin */
#define HTTP_HEADROOM 256       /* sockets beyond the limit, to answer 503 */
#define SHUTDOWN_GRACE_MS 3000  /* time for clients to take their close 1001 */

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t reload_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void on_hangup(int sig)
{
    (void)sig;
    reload_requested = 1;
}

static void install_signals(void)
{
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* SIGHUP rereads the certificate (a renewal's hook sends it), and
     * never ends the server, with TLS or without. */
    struct sigaction hup = {.sa_handler = on_hangup};
    sigemptyset(&hup.sa_mask);
    sigaction(SIGHUP, &hup, NULL);
    /* A peer that hangs up mid-write must cost an EPIPE, not the process. */
    signal(SIGPIPE, SIG_IGN);
    /* A journal past ulimit -f must fail its write (EFBIG), not kill us. */
    signal(SIGXFSZ, SIG_IGN);
}

/* Raises the soft descriptor limit to the hard one and returns it. */
static long raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return 1024;
    if (rl.rlim_cur < rl.rlim_max) {
        rlim_t want = rl.rlim_max == RLIM_INFINITY ? 1048576 : rl.rlim_max;
        struct rlimit up = {.rlim_cur = want, .rlim_max = rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &up) == 0)
            rl.rlim_cur = want;
    }
    return rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 1048576 ? 1048576 : (long)rl.rlim_cur;
}

static int listen_on(const char *addr, int port)
{
    struct sockaddr_storage ss = {0};
    socklen_t len;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, addr, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        len = sizeof *v4;
    } else if (inet_pton(AF_INET6, addr, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        len = sizeof *v6;
    } else {
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, SOMAXCONN) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static int bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return -1;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* Fits --max-connections to the descriptors there are; 0 means "as many as
 * they allow, less room to answer 503s". */
static long connection_limit(long wanted, long sockets)
{
    long derived = sockets > 2 * HTTP_HEADROOM ? sockets - HTTP_HEADROOM : sockets / 2;
    if (wanted == 0)
        return derived > 0 ? derived : 1;
    if (wanted > sockets) {
        log_event(LOG_WARN, "event=limit max_connections=%ld fds=%ld "
                  "reason=\"clamped to the descriptor limit; raise ulimit -n\"", wanted, sockets);
        return sockets;
    }
    return wanted;
}

/* The most memory the limits let clients make pusher hold: every connection
 * with a full output queue (a reader that stopped reading) and a message half
 * received. Said at start, in words, and as a warning where the machine
 * could not hold it, so an operator can size --max-pending for the box. */
static void log_memory_bound(const struct config *cfg)
{
    double mib = (double)cfg->max_connections *
                 (double)(cfg->max_pending + cfg->max_message + 512) / (1 << 20);
    double ram = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE) / (1 << 20);
    log_event(LOG_INFO, "event=memory_bound mib=%.0f what=\"if all %ld connections stopped "
              "reading with --max-pending queued and a message half sent\"",
              mib, cfg->max_connections);
    if (ram > 0 && mib > ram)
        log_event(LOG_WARN, "event=memory_bound mib=%.0f ram_mib=%.0f what=\"more than this "
                  "machine has; lower --max-pending or --max-connections if many clients may "
                  "stall at once\"", mib, ram);
}

/* The effective configuration, as one log line like every other event. */
static void log_config(const struct config *cfg)
{
    char line[1024] = "";
    FILE *f = fmemopen(line, sizeof line - 1, "w");
    if (f) {
        config_print(cfg, f);
        fclose(f);
    }
    line[strcspn(line, "\n")] = '\0';
    log_event(LOG_INFO, "event=config %s", line);
}

/* The certificate's part of the start line and of a reload's. */
static const char *describe_cert(char *out, size_t cap)
{
    const struct tls_cert_info *ci = tls_cert();
    char subject[2 * sizeof ci->subject];
    snprintf(out, cap, "tls_subject=\"%s\" tls_serial=%s tls_not_after=%s",
             log_quote(ci->subject, subject, sizeof subject), ci->serial, ci->not_after_text);
    return out;
}

/* SIGHUP: the certificate and key files again, for new connections; open
 * ones keep what they began with, and files that do not load change
 * nothing. */
static void reload(const struct config *cfg)
{
    char why[512], cert[768];
    if (!tls_on()) {
        log_event(LOG_INFO, "event=reload tls=off what=\"nothing to reread\"");
    } else if (tls_load(cfg->tls_cert, cfg->tls_key, why, sizeof why) == 0) {
        log_event(LOG_INFO, "event=tls_reload %s", describe_cert(cert, sizeof cert));
    } else {
        char quoted[2 * sizeof why];
        log_event(LOG_WARN, "event=tls_reload_failed reason=\"%s\" kept=\"the certificate in "
                  "force\" %s", log_quote(why, quoted, sizeof quoted),
                  describe_cert(cert, sizeof cert));
    }
}

/* Redis's ups and downs, as the log's events; the client retries alone. */
static void on_redis_state(void *data, bool up, const char *why)
{
    const struct config *cfg = data;
    char quoted[2 * 256];

    cluster_redis_state(up);
    if (up)
        log_event(LOG_INFO, "event=redis_up addr=\"%s\"", cfg->redis.text);
    else
        log_event(LOG_WARN, "event=redis_down addr=\"%s\" reason=\"%s\"", cfg->redis.text,
                  log_quote(why, quoted, sizeof quoted));
}

/* --redis: connected before anything is served, or the start stops (exit
 * 2) with the reason, as a bad value does. Routing goes through it once
 * connmgr is ready (start_cluster). */
static int start_redis(struct loop *l, const struct config *cfg, struct redis **out)
{
    struct redis_options o = REDIS_OPTIONS_DEFAULT;
    char why[256];

    o.addr = cfg->redis;
    o.password = cfg->redis_password;
    o.subscriber = true;
    struct redis *r = redis_create(l, &o, on_redis_state, (void *)cfg);
    if (!r) {
        fprintf(stderr, "pusher: out of memory\n");
        return 1;
    }
    if (redis_start(r, why, sizeof why) < 0) {
        fprintf(stderr, "pusher: cannot use Redis at %s: %s\n", cfg->redis.text, why);
        redis_free(r);
        return 2;
    }
    metrics_set_redis(r);
    log_event(LOG_INFO, "event=redis_up addr=\"%s\" rtt_us=%lld", cfg->redis.text,
              (long long)redis_rtt_us(r));
    *out = r;
    return 0;
}

/* With --redis: the routing script loaded, the bus subscribed, everyone's
 * history read back, before anything is served; exit 2 when that fails. */
static int start_cluster(struct loop *l, struct redis *r, const struct config *cfg)
{
    char why[256] = "";
    struct cluster_limits lim = {.max_room_histories = (size_t)cfg->max_room_histories,
                                 .kept_bytes = cfg->offline_bytes,
                                 .kept_ttl_ms = (int64_t)cfg->offline_ttl_s * 1000};
    if (cluster_start(l, r, connmgr_cluster_owner(), &lim, why, sizeof why) < 0) {
        fprintf(stderr, "pusher: cannot route through Redis: %s\n", why);
        return 2;
    }
    conn_set_before_write(cluster_flush); /* not with --journal, which has it */
    return 0;
}

static void shutdown_gracefully(struct loop *l)
{
    log_event(LOG_INFO, "event=shutdown connections=%zu", connmgr_connections());
    server_shutdown();
    int64_t deadline = loop_now(l) + SHUTDOWN_GRACE_MS;
    while (conn_count() > 0 && loop_now(l) < deadline)
        loop_wait(l, 100);
    conn_drop_all();
}

int main(int argc, char **argv)
{
    struct config cfg;
    int r = config_load(&cfg, argc, argv);
    if (r)
        return r == 1 ? 0 : 2;
    log_set_level(cfg.log_level);
    log_set_rate(cfg.log_rate);
    install_signals();
    char why[512], cert[768] = "tls=off";
    if (cfg.tls_cert) {
        /* Files that were readable (config.c) but do not load stop the
         * start as a bad value does, with the line saying which and why. */
        if (tls_load(cfg.tls_cert, cfg.tls_key, why, sizeof why) < 0) {
            fprintf(stderr, "pusher: %s\n", why);
            return 2;
        }
        describe_cert(cert, sizeof cert);
    }

    long fds = raise_fd_limit();
    long sockets = fds - RESERVED_FDS;
    cfg.max_connections = connection_limit(cfg.max_connections, sockets);

    int lfd = listen_on(cfg.bind, (int)cfg.port);
    if (lfd < 0) {
        fprintf(stderr, "pusher: cannot listen on %s:%ld: %s\n", cfg.bind, cfg.port, strerror(errno));
        return 1;
    }
    offline_init(&(struct offline_limits){.per_user = (size_t)cfg.offline_max,
                                          .ttl_ms = (int64_t)cfg.offline_ttl_s * 1000,
                                          .bytes = cfg.offline_bytes,
                                          .forgotten = journal_forget});
    struct loop *l = loop_create((int)fds, cfg.backend);
    if (!l) {
        fprintf(stderr, "pusher: out of memory\n");
        return 1;
    }
    struct redis *redis = NULL;
    if (cfg.redis.len && (r = start_redis(l, &cfg, &redis)) != 0) {
        loop_destroy(l);
        return r;
    }
    if (connmgr_init((size_t)fds, (size_t)cfg.max_connections, cfg.max_pending / 2,
                     (size_t)cfg.max_rooms, (size_t)cfg.max_room_histories) < 0 ||
        server_init(l, &cfg, lfd, (size_t)sockets, (size_t)fds) < 0) {
        fprintf(stderr, "pusher: out of memory\n");
        return 1;
    }
    /* Where the kernel has no io_uring, or a container forbids it, the
     * writes go one by one, as with epoll: slower, never wrong. */
    const char *backend = loop_backend_name(l);
    if (cfg.backend == BACKEND_URING) {
        if (conn_batch_writes() == 0)
            backend = "uring";
        else
            log_event(LOG_WARN, "event=uring_unavailable error=\"%s\" backend=%s",
                      strerror(errno), backend);
    }
    if (redis && start_cluster(l, redis, &cfg) != 0)
        return 2;
    if (cfg.journal &&
        journal_open(l, cfg.journal, cfg.fsync, cfg.journal_repair, store_journal_owner()) < 0)
        return 2;
    store_expire();             /* what the journal kept may have aged past --offline-ttl */

    log_config(&cfg);
    log_event(LOG_INFO, "event=start version=%s backend=%s max_connections=%ld fd_limit=%ld %s",
              PUSHER_VERSION, backend, cfg.max_connections, fds, cert);
    log_memory_bound(&cfg);
    log_event(LOG_INFO, "event=listen addr=%s port=%d", cfg.bind, bound_port(lfd));

    while (!stop_requested) {
        /* A bounded wait: a signal landing just before poll() is still seen. */
        loop_wait(l, 1000);
        if (reload_requested) {
            reload_requested = 0;
            reload(&cfg);
        }
    }
    shutdown_gracefully(l);
    journal_close();
    metrics_set_redis(NULL);
    redis_free(redis);
    loop_destroy(l);
    log_event(LOG_INFO, "event=exit status=0");
    return 0;
}

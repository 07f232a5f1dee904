/* config.h - pusher's runtime configuration: what can be set, and how it is read.
 *
 * Every option is a long flag with an environment twin (--max-rate and
 * PUSHER_MAX_RATE); `pusher --help` lists them all with their defaults. */
#ifndef CONFIG_H
#define CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "journal.h"
#include "log.h"
#include "loop.h"
#include "redis.h"

#define PUSHER_VERSION "0.1.0"
#define CONFIG_MAX_ORIGINS 16
/* An origin is scheme "://" host [":" port] (RFC 6454 §6.2); a DNS name is at
 * most 253 characters. */
#define CONFIG_ORIGIN_SIZE (sizeof "https://" - 1 + 253 + sizeof ":65535")


struct config {
    char bind[46];                 /* --bind: IPv4 or IPv6 literal, "0.0.0.0" */
    long port;                     /* --port: 8080; 0 picks an ephemeral port */
    long max_connections;          /* --max-connections: 0 = derive from RLIMIT_NOFILE */
    size_t max_message;            /* --max-message: bytes in one message, 64 KiB */
    size_t max_pending;            /* --max-pending: unsent bytes per connection before 1008, 1 MiB */
    double max_rate;               /* --max-rate: messages a second per connection, 100; 0 = no limit */
    double max_burst;              /* --max-burst: token bucket size in messages, 1000 */
    unsigned ping_interval_ms;     /* --ping-interval: silence before we ping, 25 s */
    unsigned idle_timeout_ms;      /* --idle-timeout: silence before close 1001, 60 s; > ping interval */
    unsigned handshake_timeout_ms; /* --handshake-timeout: time for a whole HTTP request, 10 s */
    const char *static_dir;        /* --static-dir: an existing directory; NULL = built-in page */
    const char *secret;            /* --secret: HS256 key of the `token` JWT; NULL = no token */
    const char *api_key;           /* --api-key: Bearer key for POST /api/push; NULL = none */
    char origins[CONFIG_MAX_ORIGINS][CONFIG_ORIGIN_SIZE]; /* --allowed-origin; none = any */
    size_t num_origins;            /* entries used in origins */
    bool echo;                     /* --echo: serve the /echo endpoint */
    enum log_level log_level;      /* --log-level: info */
    long max_rooms;                /* --max-rooms: rooms a connection may be in, 100 */
    long max_room_histories;       /* --max-room-histories: rooms whose history is kept, 10000 */
    double log_rate;               /* --log-rate: per-connection log lines a second, 20; 0 = all */
    enum loop_backend backend;     /* --backend: epoll on Linux, else poll */
    long offline_max;              /* --offline-max: messages kept per offline user, 100; 0 = none */
    long offline_ttl_s;            /* --offline-ttl: how long they are kept, 7 days */
    size_t offline_bytes;          /* --offline-bytes: their bytes for all users, 64 MiB */
    const char *journal;           /* --journal: the directory of the journal; NULL = none */
    enum journal_fsync fsync;      /* --fsync: always, everysec or no */
    bool journal_repair;           /* --journal-repair: start past damage, setting it aside */
    const char *tls_cert;          /* --tls-cert: PEM certificate and chain; NULL = plain */
    const char *tls_key;           /* --tls-key: its PEM private key; set with tls_cert */
    struct redis_address redis;    /* --redis: HOST:PORT or unix:PATH; len 0 = none */
    const char *redis_password;    /* --redis-password: AUTH on every connect; needs redis */
};

/* Fills c from the defaults, then the environment, then argv (flags win).
 * Returns 0 to run; 1 when --help or --version was printed (exit 0); 2 after
 * one line on stderr naming the option, what it must be and what it got
 * (exit 2), leaving c half-filled. The strings c points to are argv's and the
 * environment's. */
int config_load(struct config *c, int argc, char **argv);

/* Writes the effective configuration to f as one line of key=value pairs;
 * the secret and the API key show only as "set" or "unset". */
void config_print(const struct config *c, FILE *f);

#endif

/* stats.h - the counters behind /metrics. Each is bumped where its event
 * happens; metrics.c formats them. */
#ifndef STATS_H
#define STATS_H

#include <stdint.h>

#define STATS_CLOSE_MIN 1000    /* close codes 1000..4999 are counted (RFC 6455 §7.4.2) */
#define STATS_CLOSE_CODES 4000
#define STATS_STATUS_MIN 400    /* rejected handshakes by status 400..599 */
#define STATS_STATUSES 200

struct stats {
    uint64_t messages_received;         /* complete data messages from clients */
    uint64_t messages_sent;             /* data messages queued to clients */
    uint64_t bytes_received;            /* socket bytes read */
    uint64_t bytes_sent;                /* socket bytes written */
    uint64_t closes[STATS_CLOSE_CODES]; /* close frames sent, by code */
    uint64_t rejected[STATS_STATUSES];  /* refused upgrades, by HTTP status */
    uint64_t slow_closes;               /* closed for --max-pending */
    uint64_t write_waits;               /* writes cut short by a full socket */
    uint64_t rate_closes;               /* closed for --max-rate */
    uint64_t accept_errors;             /* accept() failures, mostly EMFILE */
    uint64_t offline_dropped;           /* kept messages dropped for a limit */
    uint64_t journal_errors;            /* journal writes and syncs that failed */
    uint64_t tls_handshake_errors;      /* TLS connections that ended before their handshake did */
};

extern struct stats stats;

#endif

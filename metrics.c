/* metrics.c - /metrics in the Prometheus text format: one TYPE line and its
 * samples for each series, gauges from routing, counters from stats.h. */
#include <inttypes.h>

#include "cluster.h"
#include "connmgr.h"
#include "metrics.h"
#include "offline.h"
#include "rooms.h"
#include "stats.h"
#include "store.h"
#include "tls.h"

static const struct redis *redis; /* --redis's client, or NULL */

void metrics_set_redis(const struct redis *r)
{
    redis = r;
}

static void gauge(struct buf *b, const char *name, size_t v)
{
    buf_printf(b, "# TYPE %s gauge\n%s %zu\n", name, name, v);
}

static void counter(struct buf *b, const char *name, uint64_t v)
{
    buf_printf(b, "# TYPE %s counter\n%s %" PRIu64 "\n", name, name, v);
}

/* A counter with one label: a sample for each value of it seen. */
static void labelled(struct buf *b, const char *name, const char *label, const uint64_t *v,
                     int n, int first)
{
    buf_printf(b, "# TYPE %s counter\n", name);
    for (int i = 0; i < n; i++)
        if (v[i])
            buf_printf(b, "%s{%s=\"%d\"} %" PRIu64 "\n", name, label, first + i, v[i]);
}

void metrics_write(struct buf *b)
{
    gauge(b, "pusher_connections", connmgr_connections());
    gauge(b, "pusher_users", connmgr_users());
    gauge(b, "pusher_rooms", rooms_open());
    gauge(b, "pusher_room_memberships", rooms_memberships());
    store_expire();
    gauge(b, "pusher_offline_messages", offline_count());
    gauge(b, "pusher_offline_bytes", offline_bytes());
    gauge(b, "pusher_offline_users", offline_users());
    counter(b, "pusher_messages_received_total", stats.messages_received);
    counter(b, "pusher_messages_sent_total", stats.messages_sent);
    counter(b, "pusher_bytes_received_total", stats.bytes_received);
    counter(b, "pusher_bytes_sent_total", stats.bytes_sent);
    labelled(b, "pusher_closes_total", "code", stats.closes, STATS_CLOSE_CODES, STATS_CLOSE_MIN);
    labelled(b, "pusher_handshakes_rejected_total", "status", stats.rejected, STATS_STATUSES,
             STATS_STATUS_MIN);
    counter(b, "pusher_slow_consumer_closes_total", stats.slow_closes);
    counter(b, "pusher_write_waits_total", stats.write_waits);
    counter(b, "pusher_rate_limit_closes_total", stats.rate_closes);
    counter(b, "pusher_accept_errors_total", stats.accept_errors);
    counter(b, "pusher_offline_dropped_total", stats.offline_dropped);
    counter(b, "pusher_journal_errors_total", stats.journal_errors);
    if (tls_on()) {
        /* The time to renew by, for an alert on it. */
        buf_printf(b, "# TYPE pusher_tls_certificate_expiry_seconds gauge\n"
                   "pusher_tls_certificate_expiry_seconds %" PRId64 "\n", tls_cert()->not_after);
        counter(b, "pusher_tls_handshake_errors_total", stats.tls_handshake_errors);
    }
    if (redis) {
        gauge(b, "pusher_redis_up", redis_up(redis));
        /* The last PING's: the start's handshake has always measured one. */
        buf_printf(b, "# TYPE pusher_redis_rtt_seconds gauge\npusher_redis_rtt_seconds %.6f\n",
                   (double)redis_rtt_us(redis) / 1e6);
        counter(b, "pusher_redis_reconnects_total", redis_reconnects(redis));
        struct cluster_stats bus;
        cluster_stats(&bus);
        counter(b, "pusher_bus_messages_out_total", bus.routed);
        counter(b, "pusher_bus_messages_in_total", bus.received);
        counter(b, "pusher_bus_gaps_total", bus.gaps);
        counter(b, "pusher_bus_lost_total", bus.lost);
    }
}

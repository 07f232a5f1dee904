/* metrics.h - /metrics: the counters of stats.h and the gauges of routing
 * in the Prometheus text format (version 0.0.4). */
#ifndef METRICS_H
#define METRICS_H

#include "buf.h"
#include "redis.h"

/* Room for every series: one per close code sent (1000..4999), one per
 * refused status, and the rest. */
#define METRICS_MAX (512 * 1024)

/* Appends every series to b. */
void metrics_write(struct buf *b);
/* With --redis: the client whose state, round trip and reconnects are
 * series too (none without). */
void metrics_set_redis(const struct redis *r);

#endif

/* cluster_bus.h - the bus of routing with several nodes (cluster_bus.c):
 * its messages to routing once each, in id order, gaps filled from the
 * histories. Only cluster.c includes it. */
#ifndef CLUSTER_BUS_H
#define CLUSTER_BUS_H

#include "cluster.h"

/* Subscribes to the bus and reads every history back, delivering it to o,
 * running l until done; node is this node's id (kept, not copied). 0, or
 * -1 with why. */
int bus_start(struct loop *l, struct redis *r, const char *node, const struct cluster_owner *o,
              char *why, size_t cap);
/* Reads the histories back and delivers what they hold that the bus has
 * not brought, holding the bus meanwhile (after Redis was away). */
void bus_fill_gap(void);
/* Fills the bus's part of s: received, gaps, lost. */
void bus_stats(struct cluster_stats *s);

#endif

/* cluster_script.h - the Lua script of routing with several nodes (see
 * cluster_script.c for what it does and the keys it keeps). */
#ifndef CLUSTER_SCRIPT_H
#define CLUSTER_SCRIPT_H

#include <stddef.h>

#include "cluster.h"

/* The script's text under lim, *len bytes, to free; NULL when out of
 * memory. */
char *cluster_script(const struct cluster_limits *lim, size_t *len);

#endif

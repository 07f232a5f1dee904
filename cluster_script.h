/* cluster_script.h - the Lua script of routing with several nodes (see
 * cluster_script.c for what it does and the keys it keeps). */
#ifndef CLUSTER_SCRIPT_H
#define CLUSTER_SCRIPT_H

#include <stddef.h>

/* The script's text for a node that keeps at most max_room_histories
 * rooms' histories, *len bytes, to free; NULL when out of memory. */
char *cluster_script(size_t max_room_histories, size_t *len);

#endif

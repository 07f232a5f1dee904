/* users.c - routing's table of users by userId (each with its connections,
 * several tabs or devices).
 *
 * It is open-addressed with linear probing, sized once at start to twice
 * the connection limit, so it never rehashes and its load stays at or below
 * one half. Deletion shifts later members of the probe chain back into the
 * hole ("backward-shift deletion") instead of leaving a tombstone: under
 * endless connect/disconnect churn tombstones pile up and lengthen every
 * probe until a rehash, while backward shift leaves the table exactly as if
 * the user had never been there. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "users.h"

static struct {
    struct user **slots;        /* the open-addressed table */
    size_t mask;                /* slots - 1; a power of two minus one */
    uint64_t seed;              /* per-process hash seed */
    size_t users;               /* users in it */
} g;

int users_init(size_t max_users)
{
    size_t cap = 16;
    while (cap < 2 * max_users)
        cap *= 2;
    g.slots = calloc(cap, sizeof *g.slots);
    g.mask = cap - 1;
    g.seed = hash_seed();
    return g.slots ? 0 : -1;
}

/* The slot holding id, or the empty slot where it would go. */
static size_t find_slot(const char *id, size_t len, uint32_t hash)
{
    size_t i = hash & g.mask;
    while (g.slots[i]) {
        struct user *u = g.slots[i];
        if (u->hash == hash && u->len == len && memcmp(u->id, id, len) == 0)
            return i;
        i = (i + 1) & g.mask;
    }
    return i;
}

struct user *users_find(const char *id, size_t len)
{
    return g.slots[find_slot(id, len, hash_name(g.seed, id, len))];
}

/* Backward-shift deletion: walk the chain after the hole and move back each
 * member whose home slot does not lie between the hole and itself. */
static void table_delete(size_t hole)
{
    g.slots[hole] = NULL;
    for (size_t j = (hole + 1) & g.mask; g.slots[j]; j = (j + 1) & g.mask) {
        size_t home = g.slots[j]->hash & g.mask;
        bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (stays)
            continue;
        g.slots[hole] = g.slots[j];
        g.slots[j] = NULL;
        hole = j;
    }
}


struct user *users_add(const char *id, size_t len)
{
    uint32_t hash = hash_name(g.seed, id, len);
    size_t slot = find_slot(id, len, hash);
    struct user *u = g.slots[slot];
    if (u || len > UINT8_MAX)
        return u;
    if (!(u = malloc(sizeof *u + len + 1)))
        return NULL;
    *u = (struct user){.members = NO_MEMBER, .hash = hash, .len = (uint8_t)len};
    memcpy(u->id, id, len);
    u->id[len] = '\0';
    g.slots[slot] = u;
    g.users++;
    return u;
}

void users_remove(struct user *u)
{
    table_delete(find_slot(u->id, u->len, u->hash));
    g.users--;
}

size_t users_count(void)
{
    return g.users;
}

size_t users_ids(const char **ids, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i <= g.mask && n < cap; i++)
        if (g.slots[i])
            ids[n++] = g.slots[i]->id;
    return n;
}

/* hash.h - the hash of names (userIds, rooms) for routing's tables: FNV-1a
 * with a per-process random seed and a final mix, cheap, and a client
 * cannot precompute names that collide, since the seed is new each run. */
#ifndef HASH_H
#define HASH_H

#include <stddef.h>
#include <stdint.h>

/* A seed from the kernel (the clock where it has none). */
uint64_t hash_seed(void);

static inline uint32_t hash_name(uint64_t seed, const char *s, size_t len)
{
    uint64_t h = 14695981039346656037ull ^ seed;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return (uint32_t)h;
}

#endif

/* hash.c - the seed of hash.h. */
#include <sys/random.h>
#include <time.h>

#include "hash.h"

uint64_t hash_seed(void)
{
    uint64_t seed;
    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != sizeof seed)
        seed = (uint64_t)time(NULL);
    return seed;
}

/* check.h - the smallest unit-test harness: CHECK counts, check_summary reports.
 *
 * Each test program includes this once, calls CHECK(cond) as often as it likes,
 * and returns check_summary(). The summary line "name: N passed, N failed" is
 * what tests/run sums over every suite. */
#ifndef CHECK_H
#define CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_passed, check_failed;

#define CHECK(cond) check_one((cond) ? 1 : 0, #cond, __FILE__, __LINE__)

static inline void check_one(int ok, const char *what, const char *file, int line)
{
    if (ok) {
        check_passed++;
    } else {
        check_failed++;
        fprintf(stderr, "FAIL %s:%d: %s\n", file, line, what);
    }
}

/* Copies len bytes to the very end of a fresh heap block, so that under
 * AddressSanitizer any read past the input is caught at once (the trick
 * picohttpparser's tests play with an unmapped page). Caller frees. */
static inline void *check_tail_copy(const void *data, size_t len)
{
    unsigned char *p = malloc(len ? len : 1);
    if (!p)
        abort();
    if (len)
        memcpy(p, data, len);
    return p;
}

static inline int check_summary(const char *suite)
{
    printf("%s: %d passed, %d failed\n", suite, check_passed, check_failed);
    return check_failed ? 1 : 0;
}

#endif

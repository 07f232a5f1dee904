/* fuzz.h - what the libFuzzer harnesses share: the entry point, the check
 * that turns a broken property into a crash libFuzzer records, and the few
 * helpers more than one harness needs.
 *
 * A harness is one file: fuzz/fuzz_X.c exercises X.c. Beyond "no crash, no
 * read past the input, no undefined behaviour, no leak", each one checks
 * properties a wrong parser would break: a prefix answers "need more" or as
 * the whole does, a round trip gives back what went in, a slow reference
 * written in the harness agrees with the fast code. */
#ifndef FUZZ_H
#define FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv); /* optional: once, before any input */

/* A property that fails is a finding: abort, so libFuzzer keeps the input. */
#define EXPECT(cond)                                                              \
    do {                                                                          \
        if (!(cond)) {                                                            \
            fprintf(stderr, "%s:%d: property broken: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                              \
        }                                                                         \
    } while (0)

/* data[0..len) in a heap block of exactly len bytes, so that AddressSanitizer
 * catches a read past a piece of the input, not only past all of it (libFuzzer
 * already hands the whole input over that way). Caller frees. */
static inline uint8_t *fuzz_copy(const void *data, size_t len)
{
    uint8_t *p = malloc(len ? len : 1);
    if (!p)
        abort();
    if (len)
        memcpy(p, data, len);
    return p;
}

/* Base64url without padding (RFC 4648 section 5), as JWS writes its parts.
 * out must hold (len + 2) / 3 * 4 + 1 bytes; returns the length written
 * before the NUL. */
static inline size_t fuzz_b64url(const void *in, size_t len, char *out)
{
    static const char digits[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const uint8_t *p = in;
    size_t n = 0;

    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        size_t have = len - i < 3 ? len - i : 3;
        if (have > 1)
            v |= (uint32_t)p[i + 1] << 8;
        if (have > 2)
            v |= p[i + 2];
        for (size_t k = 0; k <= have; k++)
            out[n++] = digits[v >> (18 - 6 * k) & 63];
    }
    out[n] = '\0';
    return n;
}

#endif

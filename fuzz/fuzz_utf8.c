/* fuzz_utf8.c - libFuzzer harness for ws.c's incremental UTF-8 validator.
 *
 * Text reaches utf8_validate in pieces cut wherever read() cut it, so the
 * answer must not depend on the cuts: the whole at once, split at every
 * point, and byte by byte must agree, and the state after each prefix must
 * be the same however that prefix was fed. The answer itself is compared
 * with a slow reference written from RFC 3629 by arithmetic on code points
 * rather than by byte ranges, which also says at which byte text becomes
 * invalid for good: the validator must reject there, not before, not later. */
#include "fuzz/fuzz.h"
#include "ws.h"

/* ---- Reference (RFC 3629 sections 3 and 4) -------------------------------- */

struct ref {
    bool invalid;       /* no continuation can make the text valid */
    size_t error_at;    /* when invalid: the byte that showed it */
    bool partial;       /* valid so far, but inside a character */
};

/* Can a character of n bytes whose first bytes decode to the high bits
 * cp (have bytes given, each later byte adding 6 bits) still become a valid
 * code point? Every completion lies in [lo, hi]; a valid one is a scalar
 * value (not a surrogate, at most U+10FFFF) not encodable in fewer bytes. */
static bool completable(uint32_t cp, int have, int n)
{
    static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    static const uint32_t max[] = {0, 0x7F, 0x7FF, 0xFFFF, 0x10FFFF};
    int missing = 6 * (n - have);
    uint32_t lo = cp << missing, hi = lo | ((UINT32_C(1) << missing) - 1);

    if (lo < min[n])
        lo = min[n];
    if (hi > max[n])
        hi = max[n];
    if (lo > hi)
        return false;
    return !(lo >= 0xD800 && hi <= 0xDFFF);
}

static struct ref reference(const uint8_t *s, size_t len)
{
    uint32_t cp = 0;
    int have = 0, n = 0;

    for (size_t i = 0; i < len; i++) {
        uint8_t b = s[i];
        if (have == n) {
            /* A new character: its length is told by its leading one bits. */
            have = 1;
            if (b < 0x80)
                n = 1, cp = b;
            else if ((b & 0xE0) == 0xC0)
                n = 2, cp = b & 0x1F;
            else if ((b & 0xF0) == 0xE0)
                n = 3, cp = b & 0x0F;
            else if ((b & 0xF8) == 0xF0)
                n = 4, cp = b & 0x07;
            else
                return (struct ref){.invalid = true, .error_at = i};
        } else {
            if ((b & 0xC0) != 0x80)
                return (struct ref){.invalid = true, .error_at = i};
            cp = cp << 6 | (b & 0x3F);
            have++;
        }
        if (!completable(cp, have, n))
            return (struct ref){.invalid = true, .error_at = i};
    }
    return (struct ref){.partial = have != n};
}

/* ---- Checks -------------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint32_t *prefix = malloc((size + 1) * sizeof *prefix);
    struct ref want = reference(data, size);

    /* The state after each prefix, fed at once from its own block. */
    for (size_t k = 0; k <= size; k++) {
        uint8_t *part = fuzz_copy(data, k);
        prefix[k] = utf8_validate(UTF8_ACCEPT, part, k);
        free(part);
    }
    uint32_t whole = prefix[size];

    if (want.invalid) {
        EXPECT(whole == UTF8_REJECT);
        EXPECT(prefix[want.error_at] != UTF8_REJECT && prefix[want.error_at + 1] == UTF8_REJECT);
    } else {
        EXPECT(want.partial ? whole != UTF8_ACCEPT && whole != UTF8_REJECT : whole == UTF8_ACCEPT);
    }

    /* Byte by byte, the state after each byte is the prefix's. */
    uint32_t state = UTF8_ACCEPT;
    for (size_t i = 0; i < size; i++) {
        state = utf8_validate(state, data + i, 1);
        EXPECT(state == prefix[i + 1]);
    }
    /* Cut anywhere, the rest continues from the state the cut left (the
     * rest ends where libFuzzer's block does, so it needs no copy). */
    for (size_t k = 0; k <= size; k++)
        EXPECT(utf8_validate(prefix[k], data + k, size - k) == whole);
    /* Rejection is for good, whatever follows. */
    EXPECT(utf8_validate(UTF8_REJECT, (const uint8_t *)"a", 1) == UTF8_REJECT);
    free(prefix);
    return 0;
}

/* fuzz_jwt.c - libFuzzer harness for jwt.c: the HS256 token check, with a
 * fixed secret, user and time, and the HMAC-SHA256 under it.
 *
 * The first input byte is a knob. Its low bit picks the mode:
 * - 0: the rest is a token, checked as it comes (a fuzzer cannot forge the
 *   signature, so this mostly reaches base64url and the header);
 * - 1: the rest is a header's JSON, a NUL, and a payload's JSON, which the
 *   harness encodes and signs with the secret, so the claims are reached.
 * Its other bits say how much of the rest is also used as an HMAC key.
 *
 * Properties, beyond memory safety: results are those jwt.h names; a token
 * signed with the secret is never refused for its signature, and once the
 * header passes, one changed signature character is; a token good for
 * "alice" is refused for anyone else as not theirs; jwt_hmac_sha256 equals
 * OpenSSL's HMAC (RFC 2104) for any key and message. */
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "fuzz/fuzz.h"
#include "jwt.h"

static const char secret[] = "fuzz-secret";
static const int64_t now = 1764000000; /* 2025-11-24 */

static int check(const char *token, size_t len, const char *user)
{
    int r = jwt_check_hs256(token, len, (const uint8_t *)secret, sizeof secret - 1, user,
                            strlen(user), now, NULL);
    EXPECT(r <= JWT_OK && r >= JWT_ERR_NOT_YET);
    EXPECT(strcmp(jwt_strerror(r), "unknown error") != 0);
    return r;
}

static void check_hmac(const uint8_t *key, size_t key_len, const uint8_t *msg, size_t len)
{
    uint8_t mac[JWT_HMAC_LEN], want[EVP_MAX_MD_SIZE];
    unsigned want_len = 0;

    jwt_hmac_sha256(key, key_len, msg, len, mac);
    EXPECT(HMAC(EVP_sha256(), key_len ? key : (const uint8_t *)"", (int)key_len, msg, len,
                want, &want_len) != NULL);
    EXPECT(want_len == JWT_HMAC_LEN && memcmp(mac, want, JWT_HMAC_LEN) == 0);
}

/* header.payload.signature, signed with the secret. */
static void check_signed(const uint8_t *d, size_t size)
{
    const uint8_t *nul = memchr(d, '\0', size);
    size_t hlen = nul ? (size_t)(nul - d) : size;
    const uint8_t *payload = nul ? nul + 1 : d + size;
    size_t plen = size - hlen - (nul ? 1 : 0);
    char *token = malloc((hlen + plen + JWT_HMAC_LEN) / 3 * 4 + 16);
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;

    size_t n = fuzz_b64url(d, hlen, token);
    token[n++] = '.';
    n += fuzz_b64url(payload, plen, token + n);
    EXPECT(HMAC(EVP_sha256(), secret, sizeof secret - 1, (const uint8_t *)token, n, mac,
                &mac_len) != NULL);
    size_t signed_len = n;
    token[n++] = '.';
    n += fuzz_b64url(mac, mac_len, token + n);

    char *copy = (char *)fuzz_copy(token, n);
    int r = check(copy, n, "alice");
    EXPECT(r != JWT_ERR_SIGNATURE);
    if (r == JWT_OK)
        EXPECT(check(copy, n, "alicf") == JWT_ERR_SUBJECT && check(copy, n, "") == JWT_ERR_SUBJECT);
    if (r == JWT_OK || r == JWT_ERR_SUBJECT || r == JWT_ERR_EXPIRED || r == JWT_ERR_NOT_YET) {
        /* The header passed: now only the signature is wrong. */
        char *first = copy + signed_len + 1;
        *first = *first == 'A' ? 'B' : 'A';
        EXPECT(check(copy, n, "alice") == JWT_ERR_SIGNATURE);
    }
    free(copy);
    free(token);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t knob = data[0];
    const uint8_t *d = data + 1;
    size--;

    size_t key_len = (size_t)(knob >> 1) < size ? (size_t)(knob >> 1) : size;
    check_hmac(d, key_len, d + key_len, size - key_len);
    if (knob & 1)
        check_signed(d, size);
    else
        check((const char *)d, size, "alice");
    return 0;
}

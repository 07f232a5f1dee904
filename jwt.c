/* jwt.c - owns the check of an HS256 JSON Web Token (RFC 7519) in JWS
 * compact form (RFC 7515): base64url, the header's alg, the signature, and
 * the claims sub, exp and nbf. Pure: the token is decoded into fixed buffers
 * on the stack, nothing is allocated and nothing is kept.
 *
 * The HMAC is built here from SHA-256 because the binary is linked
 * statically: OpenSSL 3's HMAC() and EVP_* calls pull its provider machinery,
 * and with it dlopen(), into a static link, and the linker warns. The
 * low-level SHA256_* calls do not, but OpenSSL 3 marks them deprecated,
 * hence the define before the includes. */
#define OPENSSL_SUPPRESS_DEPRECATED

#include "jwt.h"

#include "json.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdbool.h>
#include <string.h>

/* The most bytes a part of a token can decode to. */
#define JWT_MAX_DECODED (JWT_MAX_TOKEN / 4 * 3)

/* ---- HMAC-SHA256 (RFC 2104) ---------------------------------------------- */

/* SHA-256 of a[0..a_len) followed by b[0..b_len). */
static void sha256_two(const void *a, size_t a_len, const void *b, size_t b_len,
                       uint8_t out[SHA256_DIGEST_LENGTH])
{
    SHA256_CTX ctx;

    SHA256_Init(&ctx);
    SHA256_Update(&ctx, a, a_len);
    SHA256_Update(&ctx, b, b_len);
    SHA256_Final(out, &ctx);
    OPENSSL_cleanse(&ctx, sizeof ctx);
}

/* H(K ^ opad, H(K ^ ipad, text)), where K is the key padded with zeros to
 * the hash's block, or the hash of the key where the key is longer (RFC 2104
 * section 2). */
void jwt_hmac_sha256(const uint8_t *key, size_t key_len, const void *msg,
                     size_t msg_len, uint8_t out[JWT_HMAC_LEN])
{
    uint8_t k[SHA256_CBLOCK] = {0}, pad[SHA256_CBLOCK];

    if (key_len > sizeof k)
        sha256_two(key, key_len, NULL, 0, k);
    else if (key_len > 0)
        memcpy(k, key, key_len);

    for (size_t i = 0; i < sizeof k; i++)
        pad[i] = k[i] ^ 0x36;
    sha256_two(pad, sizeof pad, msg, msg_len, out);
    for (size_t i = 0; i < sizeof k; i++)
        pad[i] = k[i] ^ 0x5c;
    sha256_two(pad, sizeof pad, out, JWT_HMAC_LEN, out);
    OPENSSL_cleanse(k, sizeof k);
    OPENSSL_cleanse(pad, sizeof pad);
}

/* ---- base64url (RFC 4648 section 5) -------------------------------------- */

static int b64url_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '-' ? 62 : c == '_' ? 63 : -1;
}

/* Decodes in[0..len) into out, which holds len * 3 / 4 bytes. JWS
 * leaves the padding out (RFC 7515 section 2), so '=' is refused like any
 * byte outside the alphabet; so is a length no encoding has, and a last
 * character whose unused bits are not zero (RFC 4648 section 3.5), which
 * would let several texts stand for one signature. Returns the decoded
 * length or -1. */
static long b64url_decode(const char *in, size_t len, uint8_t *out)
{
    unsigned bits = 0, nbits = 0; /* decoded, not yet written out */
    size_t n = 0;

    if (len % 4 == 1)
        return -1;
    for (size_t i = 0; i < len; i++) {
        int v = b64url_value(in[i]);
        if (v < 0)
            return -1;
        bits = bits << 6 | (unsigned)v;
        nbits += 6;
        if (nbits >= 8) {
            nbits -= 8;
            out[n++] = (uint8_t)(bits >> nbits);
            bits &= (1u << nbits) - 1;
        }
    }
    return bits == 0 ? (long)n : -1;
}

/* ---- JSON members -------------------------------------------------------- */

/* Is v a JSON string that decodes to exactly want[0..n)? Escapes count, so
 * "HS\u0032\u00356" is "HS256", as any JSON reader would take it. */
static bool string_is(const struct json_value *v, const char *want, size_t n)
{
    char text[JWT_MAX_DECODED];

    if (!v->p || v->type != JSON_STRING || v->len > sizeof text)
        return false;
    long got = json_string_decode(v, text);
    return got >= 0 && (size_t)got == n && memcmp(text, want, n) == 0;
}

/* Reads the object json[0..len), keeping in vals[i] the value of the member
 * called names[i] (p is NULL where there is none); other members are
 * skipped. Fails on bad JSON and on a repeated name of those wanted: RFC 7519
 * section 4 and RFC 7515 section 4 let a reader refuse duplicates or keep the
 * last, and a token that means one thing to us and another to a reader that
 * keeps the first is not one to trust. */
static bool read_members(const char *json, size_t len, const char *const names[],
                         struct json_value vals[], size_t count)
{
    struct json_iter it;
    struct json_value key, val;
    int r;

    memset(vals, 0, count * sizeof *vals);
    if (json_object_begin(&it, json, len) != 0)
        return false;
    while ((r = json_object_next(&it, &key, &val)) == 1) {
        for (size_t i = 0; i < count; i++) {
            if (!json_key_is(&key, names[i]))
                continue;
            if (vals[i].p)
                return false;
            vals[i] = val;
        }
    }
    return r == 0;
}

/* ---- The token ----------------------------------------------------------- */

/* RFC 7515 section 4.1: alg names the one algorithm we accept, and so shuts
 * out "none" and the algorithm-confusion attacks; a crit member (section
 * 4.1.11) asks for extensions we do not know, so the token must be refused;
 * typ is advisory (section 4.1.9) but must not name anything else. */
static int check_header(const char *json, size_t len)
{
    enum { ALG, TYP, CRIT };
    static const char *const names[] = {"alg", "typ", "crit"};
    struct json_value v[3];

    if (!read_members(json, len, names, v, 3))
        return JWT_ERR_FORMAT;
    if (v[CRIT].p || (v[TYP].p && !string_is(&v[TYP], "JWT", 3)))
        return JWT_ERR_FORMAT;
    return string_is(&v[ALG], "HS256", 5) ? JWT_OK : JWT_ERR_ALG;
}

/* pusher's own claim, rooms (PROTOCOL.md "Rooms"): an array of strings. */
static bool rooms_claim_ok(const struct json_value *v)
{
    struct json_iter it;
    struct json_value e;
    int r;
    if (v->type != JSON_ARRAY || json_array_begin(&it, v->p, v->len) < 0)
        return false;
    while ((r = json_array_next(&it, &e)) == 1)
        if (e.type != JSON_STRING)
            return false;
    return r == 0;
}

bool jwt_rooms_allow(const char *claim, size_t len, const char *room, size_t room_len)
{
    struct json_iter it;
    struct json_value e;
    if (json_array_begin(&it, claim, len) < 0)
        return false;
    while (json_array_next(&it, &e) == 1)
        if (string_is(&e, "*", 1) || string_is(&e, room, room_len))
            return true;
    return false;
}

/* RFC 7519 section 4.1: sub (4.1.2) must name the user (any user where
 * user is NULL); the token is good
 * before exp (4.1.4) and from nbf (4.1.5) on, both where present. They are
 * NumericDates (section 2), which may have a fraction or an exponent: each
 * is taken as its ceiling, which is exact against a now in whole seconds
 * (now < 9.5 is now < 10; now >= 9.5 is now >= 10). */
static int check_claims(const char *json, size_t len, const char *user,
                        size_t user_len, int64_t now, struct jwt_rooms *rooms)
{
    enum { SUB, EXP, NBF, ROOMS };
    static const char *const names[] = {"sub", "exp", "nbf", "rooms"};
    struct json_value v[4];
    int64_t exp = 0, nbf = 0;

    if (!read_members(json, len, names, v, 4))
        return JWT_ERR_FORMAT;
    if (v[ROOMS].p && !rooms_claim_ok(&v[ROOMS]))
        return JWT_ERR_FORMAT;
    if (rooms) {
        rooms->present = v[ROOMS].p != NULL;
        rooms->len = v[ROOMS].p ? v[ROOMS].len : 0;
        if (rooms->len)
            memcpy(rooms->text, v[ROOMS].p, rooms->len);
    }
    if ((v[EXP].p && json_number_ceil(&v[EXP], &exp) != 0) ||
        (v[NBF].p && json_number_ceil(&v[NBF], &nbf) != 0))
        return JWT_ERR_FORMAT;
    bool has_sub = v[SUB].p && v[SUB].type == JSON_STRING && v[SUB].len > 2; /* not "" */
    if (user ? !string_is(&v[SUB], user, user_len) : !has_sub)
        return JWT_ERR_SUBJECT;
    if (v[EXP].p && exp <= now)
        return JWT_ERR_EXPIRED;
    if (v[NBF].p && nbf > now)
        return JWT_ERR_NOT_YET;
    return JWT_OK;
}

/* RFC 7515 section 7.1: header "." payload "." signature, each base64url;
 * the signature covers the first two parts as they were sent (section 5.2).
 * More parts (JWE has five) leave a '.' in the signature, which base64url
 * refuses. The payload is read only once the signature holds. */
int jwt_check_hs256(const char *token, size_t len, const uint8_t *secret,
                    size_t secret_len, const char *user, size_t user_len,
                    int64_t now, struct jwt_rooms *rooms)
{
    uint8_t buf[JWT_MAX_DECODED], mac[JWT_HMAC_LEN];
    const char *end = token + len, *dot1, *dot2;
    long n;
    int r;

    if (len > JWT_MAX_TOKEN || !(dot1 = memchr(token, '.', len)))
        return JWT_ERR_FORMAT;
    dot2 = memchr(dot1 + 1, '.', (size_t)(end - dot1 - 1));
    if (!dot2)
        return JWT_ERR_FORMAT;

    n = b64url_decode(token, (size_t)(dot1 - token), buf);
    if (n < 0)
        return JWT_ERR_FORMAT;
    r = check_header((const char *)buf, (size_t)n);
    if (r != JWT_OK)
        return r;

    n = b64url_decode(dot2 + 1, (size_t)(end - dot2 - 1), buf);
    if (n < 0)
        return JWT_ERR_FORMAT;
    jwt_hmac_sha256(secret, secret_len, token, (size_t)(dot2 - token), mac);
    /* In constant time, so the time taken tells nothing of how many of the
     * signature's bytes were right. */
    if (n != JWT_HMAC_LEN || CRYPTO_memcmp(buf, mac, JWT_HMAC_LEN) != 0)
        return JWT_ERR_SIGNATURE;

    n = b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), buf);
    if (n < 0)
        return JWT_ERR_FORMAT;
    return check_claims((const char *)buf, (size_t)n, user, user_len, now, rooms);
}

const char *jwt_strerror(int err)
{
    switch (err) {
    case JWT_OK:
        return "ok";
    case JWT_ERR_FORMAT:
        return "malformed token";
    case JWT_ERR_ALG:
        return "algorithm not HS256";
    case JWT_ERR_SIGNATURE:
        return "bad signature";
    case JWT_ERR_SUBJECT:
        return "sub is not the userId";
    case JWT_ERR_EXPIRED:
        return "token expired";
    case JWT_ERR_NOT_YET:
        return "token not yet valid";
    default:
        return "unknown error";
    }
}

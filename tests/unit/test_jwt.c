/* test_jwt.c - HMAC-SHA256 and the HS256 token check (jwt.c). */
#include "check.h"
#include "jwt.h"

#include <stdbool.h>
#include <stdint.h>

#define NOW INT64_C(1764000000)

static const uint8_t secret[] = "s3cret-key";
#define SECRET_LEN (sizeof secret - 1)

/* ---- HMAC: RFC 4231 section 4 ---- */

static bool hmac_is(const void *key, size_t key_len, const char *msg, size_t msg_len,
                    const char *hex, size_t hex_len)
{
    uint8_t mac[JWT_HMAC_LEN];
    char got[2 * JWT_HMAC_LEN + 1];

    jwt_hmac_sha256(key, key_len, msg, msg_len, mac);
    for (size_t i = 0; i < JWT_HMAC_LEN; i++)
        sprintf(got + 2 * i, "%02x", mac[i]);
    return memcmp(got, hex, hex_len) == 0;
}

static void test_hmac(void)
{
    uint8_t key[131], data[50];
    const char *s;

    memset(key, 0x0b, 20);
    s = "Hi There";
    CHECK(hmac_is(key, 20, s, strlen(s),
                  "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", 64));
    s = "what do ya want for nothing?";
    CHECK(hmac_is("Jefe", 4, s, strlen(s),
                  "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", 64));
    memset(key, 0xaa, 20);
    memset(data, 0xdd, 50);
    CHECK(hmac_is(key, 20, (char *)data, 50,
                  "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe", 64));
    for (int i = 0; i < 25; i++)
        key[i] = (uint8_t)(i + 1);
    memset(data, 0xcd, 50);
    CHECK(hmac_is(key, 25, (char *)data, 50,
                  "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b", 64));
    /* Test case 5 compares the first 128 bits only. */
    memset(key, 0x0c, 20);
    s = "Test With Truncation";
    CHECK(hmac_is(key, 20, s, strlen(s), "a3b6167473100ee06e0c796c2955552b", 32));
    /* Keys longer than the 64-byte block are hashed first. */
    memset(key, 0xaa, 131);
    s = "Test Using Larger Than Block-Size Key - Hash Key First";
    CHECK(hmac_is(key, 131, s, strlen(s),
                  "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54", 64));
    s = "This is a test using a larger than block-size key and a larger than block-size "
        "data. The key needs to be hashed before being used by the HMAC algorithm.";
    CHECK(hmac_is(key, 131, s, strlen(s),
                  "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2", 64));
}

/* ---- Making tokens ---- */

/* Appends the unpadded base64url form of in[0..len) at out; returns its end. */
static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static char *b64url(char *out, const void *in, size_t len)
{
    const uint8_t *p = in;
    uint32_t bits = 0;
    int nbits = 0;

    for (size_t i = 0; i < len; i++) {
        bits = bits << 8 | p[i];
        nbits += 8;
        while (nbits >= 6) {
            nbits -= 6;
            *out++ = abc[(bits >> nbits) & 63];
        }
    }
    if (nbits > 0)
        *out++ = abc[(bits << (6 - nbits)) & 63];
    *out = '\0';
    return out;
}

/* Appends "." and the signature of everything before it in token. */
static void sign(char *token, const uint8_t *key, size_t key_len)
{
    uint8_t mac[JWT_HMAC_LEN];
    size_t n = strlen(token);

    jwt_hmac_sha256(key, key_len, token, n, mac);
    token[n] = '.';
    b64url(token + n + 1, mac, sizeof mac);
}

/* token = b64url(header) "." b64url(payload) "." signature by secret. */
static char *make(char *token, const char *header, const char *payload)
{
    char *p = b64url(token, header, strlen(header));

    *p++ = '.';
    b64url(p, payload, strlen(payload));
    sign(token, secret, SECRET_LEN);
    return token;
}

static int check_as(const char *token, const char *user)
{
    char *copy = check_tail_copy(token, strlen(token));
    int r = jwt_check_hs256(copy, strlen(token), secret, SECRET_LEN, user, user ? strlen(user) : 0,
                            NOW, NULL);

    free(copy);
    return r;
}

static int check(const char *token)
{
    return check_as(token, "alice");
}

/* A token of any user (sub checked only for being there). */
static int check_any(const char *token)
{
    return check_as(token, NULL);
}

static const char hs256[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
static const char alice[] = "{\"sub\":\"alice\"}";
static char tok[2 * JWT_MAX_TOKEN];

/* ---- The checks ---- */

static void test_valid(void)
{
    CHECK(check(make(tok, hs256, alice)) == JWT_OK);
    CHECK(check(make(tok, "{\"alg\":\"HS256\"}", alice)) == JWT_OK);
    /* Escapes, whitespace, other members, nested ones with our names. */
    make(tok, " { \"kid\" : [1, {\"a\":null}], \"alg\" : \"HS\\u0032\\u00356\" } ",
         "{\"iat\":1,\"sub\":\"\\u0061lice\",\"extra\":{\"sub\":\"bob\"}}");
    CHECK(check(tok) == JWT_OK);
    make(tok, hs256, "{\"sub\":\"\xc3\xa9t\xc3\xa9\"}");
    CHECK(check_as(tok, "\xc3\xa9t\xc3\xa9") == JWT_OK);

    /* Every prefix fails without reading past its end; so does every
     * token with one byte dropped. */
    make(tok, hs256, "{\"sub\":\"alice\",\"exp\":1764000100,\"nbf\":1763999000}");
    size_t len = strlen(tok);
    int bad = 0;
    CHECK(check(tok) == JWT_OK);
    for (size_t n = 0; n < len; n++) {
        char *copy = check_tail_copy(tok, n);
        bad += jwt_check_hs256(copy, n, secret, SECRET_LEN, "alice", 5, NOW, NULL) == JWT_OK;
        free(copy);
        char cut[JWT_MAX_TOKEN];
        memcpy(cut, tok, n);
        memcpy(cut + n, tok + n + 1, len - n);
        bad += check(cut) == JWT_OK;
    }
    CHECK(bad == 0);

    /* jwt.io's example, made by other code than ours. */
    const char *io =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
        "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ."
        "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
    const char *io_secret = "your-256-bit-secret";
    CHECK(jwt_check_hs256(io, strlen(io), (const uint8_t *)io_secret, strlen(io_secret),
                          "1234567890", 10, NOW, NULL) == JWT_OK);
}

static void test_signature(void)
{
    static const uint8_t other[] = "s3cret-kez";

    make(tok, hs256, alice);
    *strrchr(tok, '.') = '\0';
    sign(tok, other, sizeof other - 1);
    CHECK(check(tok) == JWT_ERR_SIGNATURE);
    CHECK(jwt_check_hs256(tok, strlen(tok), other, sizeof other - 1, "alice", 5, NOW, NULL) == JWT_OK);

    /* A signature of the wrong length, or none; one byte more than the
     * right one is wrong too. */
    make(tok, hs256, alice);
    strcat(tok, "A");
    CHECK(check(tok) == JWT_ERR_SIGNATURE);
    make(tok, hs256, alice);
    strcpy(strrchr(tok, '.') + 1, "AAAA");
    CHECK(check(tok) == JWT_ERR_SIGNATURE);
    strcpy(strrchr(tok, '.') + 1, "");
    CHECK(check(tok) == JWT_ERR_SIGNATURE);

    /* The signature covers the payload as sent: re-encoding it differently
     * ("alice" with an escape) is a forgery. */
    make(tok, hs256, alice);
    char good_sig[64];
    strcpy(good_sig, strrchr(tok, '.'));
    make(tok, hs256, "{\"sub\":\"\\u0061lice\"}");
    strcpy(strrchr(tok, '.'), good_sig);
    CHECK(check(tok) == JWT_ERR_SIGNATURE);

    /* An empty secret is still a key (RFC 2104 allows it). */
    make(tok, hs256, alice);
    *strrchr(tok, '.') = '\0';
    sign(tok, (const uint8_t *)"", 0);
    CHECK(jwt_check_hs256(tok, strlen(tok), (const uint8_t *)"", 0, "alice", 5, NOW, NULL) == JWT_OK);
    CHECK(check(tok) == JWT_ERR_SIGNATURE);
}

static void test_alg(void)
{
    char *p;

    /* alg none, unsigned as RFC 7519 section 6.1 has it. */
    p = b64url(tok, "{\"alg\":\"none\"}", 14);
    *p++ = '.';
    p = b64url(p, alice, strlen(alice));
    strcpy(p, ".");
    CHECK(check(tok) == JWT_ERR_ALG);
    /* and signed with our secret all the same */
    CHECK(check(make(tok, "{\"alg\":\"none\"}", alice)) == JWT_ERR_ALG);
    CHECK(check(make(tok, "{\"alg\":\"HS512\"}", alice)) == JWT_ERR_ALG);
    CHECK(check(make(tok, "{\"alg\":\"RS256\"}", alice)) == JWT_ERR_ALG);
    CHECK(check(make(tok, "{\"alg\":\"hs256\"}", alice)) == JWT_ERR_ALG);
    CHECK(check(make(tok, "{\"alg\":\"HS256 \"}", alice)) == JWT_ERR_ALG);
    CHECK(check(make(tok, "{\"alg\":\"HS256\\u0000\"}", alice)) == JWT_ERR_ALG);
    CHECK(check(make(tok, "{\"alg\":null}", alice)) == JWT_ERR_ALG);
    CHECK(check(make(tok, "{\"alg\":[\"HS256\"]}", alice)) == JWT_ERR_ALG);
    CHECK(check(make(tok, "{\"typ\":\"JWT\"}", alice)) == JWT_ERR_ALG);
    CHECK(check(make(tok, "{\"Alg\":\"HS256\"}", alice)) == JWT_ERR_ALG);

    /* A second alg, crit extensions, another typ. */
    CHECK(check(make(tok, "{\"alg\":\"HS256\",\"alg\":\"none\"}", alice)) == JWT_ERR_FORMAT);
    CHECK(check(make(tok, "{\"alg\":\"none\",\"alg\":\"HS256\"}", alice)) == JWT_ERR_FORMAT);
    CHECK(check(make(tok, "{\"alg\":\"HS256\",\"crit\":[\"b64\"],\"b64\":false}", alice))
          == JWT_ERR_FORMAT);
    CHECK(check(make(tok, "{\"alg\":\"HS256\",\"typ\":\"JWE\"}", alice)) == JWT_ERR_FORMAT);
    CHECK(check(make(tok, "{\"alg\":\"HS256\",\"typ\":1}", alice)) == JWT_ERR_FORMAT);
}

static void test_claims(void)
{
    CHECK(check(make(tok, hs256, "{}")) == JWT_ERR_SUBJECT);
    CHECK(check(make(tok, hs256, "{\"name\":\"alice\"}")) == JWT_ERR_SUBJECT);
    CHECK(check(make(tok, hs256, "{\"sub\":\"bob\"}")) == JWT_ERR_SUBJECT);
    CHECK(check(make(tok, hs256, "{\"sub\":\"alic\"}")) == JWT_ERR_SUBJECT);
    CHECK(check(make(tok, hs256, "{\"sub\":\"alicee\"}")) == JWT_ERR_SUBJECT);
    CHECK(check(make(tok, hs256, "{\"sub\":\"Alice\"}")) == JWT_ERR_SUBJECT);
    CHECK(check(make(tok, hs256, "{\"sub\":\"\"}")) == JWT_ERR_SUBJECT);
    CHECK(check(make(tok, hs256, "{\"sub\":null}")) == JWT_ERR_SUBJECT);
    CHECK(check(make(tok, hs256, "{\"sub\":[\"alice\"]}")) == JWT_ERR_SUBJECT);
    CHECK(check_as(make(tok, hs256, "{\"sub\":42}"), "42") == JWT_ERR_SUBJECT);
    CHECK(check(make(tok, hs256, "{\"sub\":\"alice\",\"sub\":\"bob\"}")) == JWT_ERR_FORMAT);
    CHECK(check(make(tok, hs256, "{\"sub\":\"bob\",\"sub\":\"alice\"}")) == JWT_ERR_FORMAT);

    /* Without a user, any user's token will do, but it must name one. */
    CHECK(check_any(make(tok, hs256, "{\"sub\":\"bob\"}")) == JWT_OK);
    CHECK(check_any(make(tok, hs256, "{}")) == JWT_ERR_SUBJECT);
    CHECK(check_any(make(tok, hs256, "{\"sub\":\"\"}")) == JWT_ERR_SUBJECT);
    CHECK(check_any(make(tok, hs256, "{\"sub\":7}")) == JWT_ERR_SUBJECT);
    CHECK(check_any(make(tok, hs256, "{\"sub\":\"bob\",\"exp\":1}")) == JWT_ERR_EXPIRED);

    /* exp must be after now, nbf not. */
    CHECK(check(make(tok, hs256, "{\"sub\":\"alice\",\"exp\":1764000001}")) == JWT_OK);
    CHECK(check(make(tok, hs256, "{\"sub\":\"alice\",\"exp\":1764000000}")) == JWT_ERR_EXPIRED);
    CHECK(check(make(tok, hs256, "{\"exp\":1600000000,\"sub\":\"alice\"}")) == JWT_ERR_EXPIRED);
    CHECK(check(make(tok, hs256, "{\"sub\":\"alice\",\"exp\":-1}")) == JWT_ERR_EXPIRED);
    CHECK(check(make(tok, hs256, "{\"sub\":\"alice\",\"nbf\":1764000000}")) == JWT_OK);
    CHECK(check(make(tok, hs256, "{\"sub\":\"alice\",\"nbf\":1764000001}")) == JWT_ERR_NOT_YET);
    CHECK(check(make(tok, hs256, "{\"sub\":\"alice\",\"nbf\":1764000001,\"exp\":1}"))
          == JWT_ERR_EXPIRED);
    CHECK(check(make(tok, hs256, "{\"sub\":\"bob\",\"exp\":1}")) == JWT_ERR_SUBJECT);

    /* NumericDates we do not read are malformed, never ignored. */
    CHECK(check(make(tok, hs256, "{\"sub\":\"alice\",\"exp\":\"9999999999\"}")) == JWT_ERR_FORMAT);
    /* A NumericDate may have a fraction or an exponent (RFC 7519 section 2). */
    CHECK(check(make(tok, hs256, "{\"sub\":\"alice\",\"exp\":1.7e10}")) == JWT_OK);
    CHECK(check(make(tok, hs256, "{\"sub\":\"alice\",\"exp\":1764000000.5}")) == JWT_OK);
    CHECK(check(make(tok, hs256, "{\"sub\":\"alice\",\"exp\":1763999999.5}")) == JWT_ERR_EXPIRED);
    CHECK(check(make(tok, hs256, "{\"sub\":\"alice\",\"exp\":1.764e9}")) == JWT_ERR_EXPIRED);
    CHECK(check(make(tok, hs256, "{\"sub\":\"alice\",\"nbf\":1764000000.0}")) == JWT_OK);
    CHECK(check(make(tok, hs256, "{\"sub\":\"alice\",\"nbf\":1764000000.5}")) == JWT_ERR_NOT_YET);
    CHECK(check(make(tok, hs256, "{\"sub\":\"alice\",\"exp\":1e30}")) == JWT_ERR_FORMAT);
    CHECK(check(make(tok, hs256, "{\"sub\":\"alice\",\"exp\":null}")) == JWT_ERR_FORMAT);
    CHECK(check(make(tok, hs256, "{\"sub\":\"alice\",\"nbf\":true}")) == JWT_ERR_FORMAT);
    CHECK(check(make(tok, hs256, "{\"sub\":\"alice\",\"exp\":99999999999999999999}"))
          == JWT_ERR_FORMAT);
    CHECK(check(make(tok, hs256, "{\"sub\":\"alice\",\"exp\":1,\"exp\":9999999999}"))
          == JWT_ERR_FORMAT);
}

static void test_format(void)
{
    char *p;

    /* Not JSON objects. */
    CHECK(check(make(tok, "[\"HS256\"]", alice)) == JWT_ERR_FORMAT);
    CHECK(check(make(tok, "{\"alg\":\"HS256\"", alice)) == JWT_ERR_FORMAT);
    CHECK(check(make(tok, "{\"alg\":\"HS256\"} x", alice)) == JWT_ERR_FORMAT);
    CHECK(check(make(tok, "", alice)) == JWT_ERR_FORMAT);
    CHECK(check(make(tok, hs256, "\"alice\"")) == JWT_ERR_FORMAT);
    CHECK(check(make(tok, hs256, "{\"sub\":\"alice\",}")) == JWT_ERR_FORMAT);
    CHECK(check(make(tok, hs256, "")) == JWT_ERR_FORMAT);

    /* Padding, where base64 would have it: 16 bytes make 22 characters
     * and "==", 32 bytes (the signature) 43 and "=". */
    p = b64url(tok, "{\"alg\":\"HS256\"} ", 16);
    strcpy(p, ".eyJzdWIiOiJhbGljZSJ9");
    sign(tok, secret, SECRET_LEN);
    CHECK(check(tok) == JWT_OK);
    strcpy(p, "==.eyJzdWIiOiJhbGljZSJ9");
    sign(tok, secret, SECRET_LEN);
    CHECK(check(tok) == JWT_ERR_FORMAT);
    p = b64url(strcpy(tok, "eyJhbGciOiJIUzI1NiJ9.") + 21, "{\"sub\":\"alice\"} ", 16);
    sign(tok, secret, SECRET_LEN);
    CHECK(check(tok) == JWT_OK);
    strcpy(p, "==");
    sign(tok, secret, SECRET_LEN);
    CHECK(check(tok) == JWT_ERR_FORMAT);
    make(tok, hs256, alice);
    strcat(tok, "=");
    CHECK(check(tok) == JWT_ERR_FORMAT);

    /* Characters outside base64url: standard base64's '+' and '/', a space. */
    strcpy(tok, "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOi+hbGljZSJ9");
    sign(tok, secret, SECRET_LEN);
    CHECK(check(tok) == JWT_ERR_FORMAT);
    strcpy(tok, "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOi/hbGljZSJ9");
    sign(tok, secret, SECRET_LEN);
    CHECK(check(tok) == JWT_ERR_FORMAT);
    strcpy(tok, "eyJhbGciOiJIUz 1NiJ9.eyJzdWIiOiJhbGljZSJ9");
    sign(tok, secret, SECRET_LEN);
    CHECK(check(tok) == JWT_ERR_FORMAT);
    /* A length no encoding has: one character past a full group. */
    strcpy(tok, "eyJhbGciOiJIUzI1NiJ9A.eyJzdWIiOiJhbGljZSJ9");
    sign(tok, secret, SECRET_LEN);
    CHECK(check(tok) == JWT_ERR_FORMAT);

    /* The signature's last character carries two unused bits; setting one
     * keeps the bytes but makes a second text for them, refused. */
    make(tok, hs256, alice);
    p = tok + strlen(tok) - 1;
    CHECK(check(tok) == JWT_OK);
    *p = abc[(strchr(abc, *p) - abc) | 1];
    CHECK(check(tok) == JWT_ERR_FORMAT);

    /* Two or four parts, and nothing. */
    make(tok, hs256, alice);
    *strrchr(tok, '.') = '\0';
    CHECK(check(tok) == JWT_ERR_FORMAT);
    make(tok, hs256, alice);
    strcat(tok, ".");
    CHECK(check(tok) == JWT_ERR_FORMAT);
    make(tok, hs256, alice);
    strcat(tok, ".AAAA");
    CHECK(check(tok) == JWT_ERR_FORMAT);
    CHECK(check("") == JWT_ERR_FORMAT);
    CHECK(check("..") == JWT_ERR_FORMAT);
    CHECK(check("...") == JWT_ERR_FORMAT);
}

/* Tokens right at JWT_MAX_TOKEN pass; one byte more and they are refused,
 * whatever they hold. The payload is padded until both lengths are met. */
static void test_length(void)
{
    static char payload[JWT_MAX_TOKEN];
    bool at = false, past = false;

    for (size_t pad = 2900; pad < 3100; pad++) {
        int n = sprintf(payload, "{\"sub\":\"alice\",\"pad\":\"");
        memset(payload + n, 'x', pad);
        strcpy(payload + n + pad, "\"}");
        size_t len = strlen(make(tok, hs256, payload));
        if (len == JWT_MAX_TOKEN) {
            CHECK(check(tok) == JWT_OK);
            at = true;
        }
        if (len == JWT_MAX_TOKEN + 1) {
            CHECK(check(tok) == JWT_ERR_FORMAT);
            past = true;
        }
    }
    CHECK(at && past);
}

static void test_strerror(void)
{
    for (int e = JWT_OK; e >= JWT_ERR_NOT_YET; e--)
        for (int f = e - 1; f >= JWT_ERR_NOT_YET; f--)
            CHECK(strcmp(jwt_strerror(e), jwt_strerror(f)) != 0);
    CHECK(strcmp(jwt_strerror(JWT_ERR_EXPIRED), "token expired") == 0);
    CHECK(jwt_strerror(7) != NULL);
}

int main(void)
{
    test_hmac();
    test_valid();
    test_signature();
    test_alg();
    test_claims();
    test_format();
    test_length();
    test_strerror();
    return check_summary("jwt");
}

/* fuzz_http.c - libFuzzer harness for http.c: the request-head parser, the
 * helpers the server applies to what it found (header lookup, list tokens,
 * query parameters, percent-decoding, Content-Length), and handshake.c's
 * decision on each complete request.
 *
 * Properties, beyond memory safety:
 * - a complete head lies inside the input and the 8 KiB limit, and every
 *   field the parser fills points into it and holds what RFC 9112 allows;
 * - a prefix answers 0 ("need more") or what the whole input answers, and
 *   the prefix that ends where the head ends answers the same as the whole;
 * - percent-decoding, query lookup, list tokens and Content-Length agree
 *   with slow references written below from the RFCs' wording;
 * - the handshake's answer is a status it may give, with a reason, and a 101
 *   carries an accept key and a userId the contract allows. */
#include <ctype.h>
#include <strings.h>

#include "fuzz/fuzz.h"
#include "handshake.h"
#include "http.h"

/* ---- References ---------------------------------------------------------- */

static int ref_hex(char c)
{
    char s[2] = {c, '\0'};
    return isxdigit((unsigned char)c) ? (int)strtol(s, NULL, 16) : -1;
}

/* RFC 3986 section 2.1, and '+' as a space in form-encoded queries. */
static long ref_decode(const char *in, size_t len, char *out, size_t cap, bool plus)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)in[i];
        if (c == '%') {
            if (len - i < 3 || ref_hex(in[i + 1]) < 0 || ref_hex(in[i + 2]) < 0)
                return -1;
            c = ref_hex(in[i + 1]) * 16 + ref_hex(in[i + 2]);
            i += 2;
        } else if (c == '+' && plus) {
            c = ' ';
        }
        if (n == cap)
            return -1;
        out[n++] = (char)c;
    }
    return (long)n;
}

/* The first non-empty pair of the query whose decoded name is name. */
static long ref_query(const char *target, size_t len, const char *name, char *out, size_t cap)
{
    const char *q = memchr(target, '?', len);
    char key[HTTP_MAX_HEAD];

    if (!q)
        return -1;
    for (size_t i = (size_t)(q - target) + 1; i <= len;) {
        size_t stop = i, eq;
        while (stop < len && target[stop] != '&')
            stop++;
        for (eq = i; eq < stop && target[eq] != '='; eq++)
            ;
        long klen = ref_decode(target + i, eq - i, key, sizeof key, true);
        if (stop > i && klen == (long)strlen(name) && memcmp(key, name, (size_t)klen) == 0) {
            size_t value = eq < stop ? eq + 1 : stop;
            long n = ref_decode(target + value, stop - value, out, cap, true);
            return n < 0 ? -2 : n;
        }
        i = stop + 1;
    }
    return -1;
}

/* RFC 9110 section 5.6.1: comma-separated elements, OWS around each. */
static bool ref_has_token(const char *value, size_t len, const char *token)
{
    size_t tlen = strlen(token), i = 0;

    while (i <= len) {
        size_t j = i;
        while (j < len && value[j] != ',')
            j++;
        size_t a = i, b = j;
        while (a < b && (value[a] == ' ' || value[a] == '\t'))
            a++;
        while (b > a && (value[b - 1] == ' ' || value[b - 1] == '\t'))
            b--;
        if (b - a == tlen && strncasecmp(value + a, token, tlen) == 0)
            return true;
        i = j + 1;
    }
    return false;
}

/* RFC 9110 section 8.6 and RFC 9112 section 6.3: every Content-Length is
 * 1*DIGIT, all of them agree, and the length is at most max. */
static int ref_content_length(const struct http_request *req, size_t max, size_t *out)
{
    size_t length = 0;
    bool seen = false;

    for (size_t i = 0; i < req->num_headers; i++) {
        const struct http_header *h = &req->headers[i];
        unsigned __int128 v = 0;
        if (h->name_len != 14 || strncasecmp(h->name, "content-length", 14) != 0)
            continue;
        if (h->value_len == 0)
            return -1;
        for (size_t k = 0; k < h->value_len; k++) {
            if (!isdigit((unsigned char)h->value[k]))
                return -1;
            v = v * 10 + (unsigned)(h->value[k] - '0');
            if (v > max)
                return -1;
        }
        if (seen && v != length)
            return -1;
        length = (size_t)v;
        seen = true;
    }
    *out = length;
    return 0;
}

/* ---- Checks -------------------------------------------------------------- */

static bool inside(const char *p, size_t n, const char *buf, size_t len)
{
    return p >= buf && (size_t)(p - buf) <= len && n <= len - (size_t)(p - buf);
}

static bool all_tchar(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)p[i]) && !strchr("!#$%&'*+-.^_`|~", p[i]))
            return false;
    return n > 0 && !memchr(p, '\0', n);
}

/* Looking up header i's name (in another case) finds the first header of
 * that name, compared case-insensitively. */
static void check_find(const struct http_request *req, size_t i)
{
    char name[HTTP_MAX_HEAD];
    size_t n = req->headers[i].name_len, first = 0;

    for (size_t k = 0; k < n; k++)
        name[k] = (char)(k % 2 ? toupper((unsigned char)req->headers[i].name[k])
                               : tolower((unsigned char)req->headers[i].name[k]));
    name[n] = '\0';
    while (req->headers[first].name_len != n || strncasecmp(req->headers[first].name, name, n) != 0)
        first++;
    EXPECT(http_header_find(req, name) == &req->headers[first]);
}

/* What RFC 9112 lets into each field of a head the parser accepted. */
static void check_fields(const char *buf, int r, const struct http_request *req)
{
    size_t len = (size_t)r;

    EXPECT(len <= HTTP_MAX_HEAD && req->num_headers <= HTTP_MAX_HEADERS);
    EXPECT(inside(req->method, req->method_len, buf, len) && all_tchar(req->method, req->method_len));
    EXPECT(inside(req->target, req->target_len, buf, len) && req->target_len <= HTTP_MAX_REQUEST_LINE);
    EXPECT(req->target_len > 0 && req->target[0] == '/');
    for (size_t i = 0; i < req->target_len; i++)
        EXPECT((unsigned char)req->target[i] > ' ' && (unsigned char)req->target[i] < 0x7f);
    EXPECT(req->minor_version == 0 || req->minor_version == 1);
    for (size_t i = 0; i < req->num_headers; i++) {
        const struct http_header *h = &req->headers[i];
        EXPECT(inside(h->name, h->name_len, buf, len) && all_tchar(h->name, h->name_len));
        EXPECT(inside(h->value, h->value_len, buf, len));
        for (size_t k = 0; k < h->value_len; k++) {
            unsigned char c = (unsigned char)h->value[k];
            EXPECT(c == '\t' || (c >= ' ' && c != 0x7f));
        }
        if (h->value_len)
            EXPECT(!strchr(" \t", h->value[0]) && !strchr(" \t", h->value[h->value_len - 1]));
        check_find(req, i);
        EXPECT(http_has_token(h->value, h->value_len, "upgrade") ==
               ref_has_token(h->value, h->value_len, "upgrade"));
        EXPECT(http_has_token(h->value, h->value_len, "websocket") ==
               ref_has_token(h->value, h->value_len, "websocket"));
    }
}

static void check_decode(const char *in, size_t len, size_t cap, bool plus)
{
    char *out = malloc(cap ? cap : 1), *ref = malloc(cap ? cap : 1);
    long n = http_percent_decode(in, len, out, cap, plus);
    long want = ref_decode(in, len, ref, cap, plus);

    EXPECT(n == want);
    EXPECT(n < 0 || memcmp(out, ref, (size_t)n) == 0);
    free(out);
    free(ref);
}

static void check_query(const char *target, size_t len, const char *name, size_t cap)
{
    char *out = malloc(cap ? cap : 1), *ref = malloc(cap ? cap : 1);
    long n = http_query_get(target, len, name, out, cap);
    long want = ref_query(target, len, name, ref, cap);

    EXPECT(n == want);
    EXPECT(n < 0 || memcmp(out, ref, (size_t)n) == 0);
    free(out);
    free(ref);
}

/* The helpers on the target: its path, its %-decoding, and its parameters,
 * looked up by the names the server uses and by the target's own first one. */
static void check_target(const char *target, size_t len)
{
    size_t plen = http_path_len(target, len);
    char first[64];

    EXPECT(plen <= len && (plen == len || target[plen] == '?'));
    EXPECT(!memchr(target, '?', plen));
    check_decode(target, len, len, false);
    check_decode(target, len, len, true);
    check_decode(target, len, len / 3, false);
    check_query(target, len, "userId", HTTP_MAX_REQUEST_LINE);
    check_query(target, len, "since", 32);
    check_query(target, len, "token", 8);

    const char *name = target + plen + 1, *end = target + len;
    size_t n = 0;
    while (name < end && *name != '=' && *name != '&' && n < sizeof first - 1)
        first[n++] = *name++;
    first[n] = '\0';
    char decoded[sizeof first];
    long dlen = http_percent_decode(first, n, decoded, sizeof decoded - 1, true);
    if (dlen > 0 && !memchr(decoded, '\0', (size_t)dlen)) {
        decoded[dlen] = '\0';
        check_query(target, len, decoded, 16);
    }
}

static void check_lengths(const struct http_request *req)
{
    static const size_t maxes[] = {0, 100, 65536, SIZE_MAX};

    for (size_t i = 0; i < sizeof maxes / sizeof maxes[0]; i++) {
        size_t got = 12345, want = 54321;
        int r = http_content_length(req, maxes[i], &got);
        EXPECT(r == ref_content_length(req, maxes[i], &want));
        EXPECT(r < 0 || (got == want && got <= maxes[i]));
    }
}

/* A prefix of the input, in its own block: "need more" or the whole's answer. */
static void check_prefix(const uint8_t *data, size_t cut, int whole)
{
    struct http_request req;
    uint8_t *copy = fuzz_copy(data, cut);
    int r = http_parse_request((const char *)copy, cut, &req);

    EXPECT(r == 0 || r == whole);
    free(copy);
}

/* ---- The handshake decided on what was parsed ------------------------------ */

/* handshake.c on every complete request, with and without a secret and an
 * Origin list: an answer is always one of the statuses it may give, with a
 * one-line reason; a 101 names a userId the contract allows and an accept
 * key of 28 base64 characters. */
static void check_handshake(const struct http_request *req)
{
    static struct config open = {.max_connections = 5},
                         strict = {.max_connections = 5, .secret = "k", .num_origins = 1,
                                   .origins = {"https://a.example"}};
    const struct config *cfgs[] = {&open, &strict};
    for (size_t i = 0; i < 4; i++) {
        struct handshake hs;
        bool echo = i & 1;
        handshake_check(req, echo, cfgs[i / 2], i, 1700000000, &hs);
        int st = hs.status;
        EXPECT(st == 101 || st == 400 || st == 401 || st == 403 || st == 405 || st == 426 ||
               st == 503);
        if (st != 101) {
            EXPECT(hs.why && hs.why[0] && !strchr(hs.why, '\n'));
            continue;
        }
        EXPECT(strlen(hs.accept) == 28 && http_header_find(req, "sec-websocket-key"));
        if (echo)
            continue;
        EXPECT(hs.user_len >= 1 && hs.user_len <= 64);
        EXPECT(utf8_validate(UTF8_ACCEPT, (const uint8_t *)hs.user, hs.user_len) == UTF8_ACCEPT);
        for (size_t k = 0; k < hs.user_len; k++)
            EXPECT((uint8_t)hs.user[k] >= 0x20 && (uint8_t)hs.user[k] != 0x7F);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    struct http_request req;
    int r = http_parse_request(buf, size, &req);

    EXPECT(r >= 0 ? (size_t)r <= size : r == -400 || r == -414 || r == -431);
    check_prefix(data, size / 2, r);
    if (r > 0) {
        check_prefix(data, (size_t)r, r);
        check_fields(buf, r, &req);
        check_target(req.target, req.target_len);
        check_lengths(&req);
        check_handshake(&req);
    }
    return 0;
}

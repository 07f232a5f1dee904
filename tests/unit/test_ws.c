/* test_ws.c - unit tests for ws.c: frame headers (every length form, every
 * error, every prefix), masking in pieces, close payloads, UTF-8 (named cases,
 * every split, and an exhaustive comparison with a slow reference decoder) and
 * the handshake keys. Every input sits at the end of its own heap block, so
 * AddressSanitizer catches any read past it. */
#include "tests/unit/check.h"
#include "ws.h"

#include <stdint.h>

static const uint8_t KEY[4] = {0x37, 0xfa, 0x21, 0x3d}; /* the masking key of RFC 6455 §5.7 */

/* ---- Frame headers ---- */

static int parse_copy(const uint8_t *buf, size_t len, bool require_mask, struct ws_header *h)
{
    uint8_t *copy = check_tail_copy(buf, len);
    int r = ws_parse_header(copy, len, require_mask, h);
    free(copy);
    return r;
}

/* The result for all of buf must be want; before byte `at` arrives every
 * prefix must need more, and from then on give want. For a good header `at` is
 * its length; for a bad one, the byte that shows the error, plus one. */
static bool parse_prefixes(const uint8_t *buf, size_t len, bool require_mask, int want, size_t at)
{
    struct ws_header h;
    for (size_t k = 0; k <= len; k++)
        if (parse_copy(buf, k, require_mask, &h) != (k < at ? WS_NEED_MORE : want))
            return false;
    return true;
}

/* The examples of RFC 6455 §5.7. */
static void test_rfc_examples(void)
{
    static const uint8_t unmasked[] = {0x81, 0x05, 'H', 'e', 'l', 'l', 'o'};
    static const uint8_t masked[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                     0x7f, 0x9f, 0x4d, 0x51, 0x58};
    static const uint8_t first[] = {0x01, 0x03, 'H', 'e', 'l'};
    static const uint8_t last[] = {0x80, 0x02, 'l', 'o'};
    static const uint8_t pong[] = {0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                   0x7f, 0x9f, 0x4d, 0x51, 0x58};
    static const uint8_t bin256[] = {0x82, 0x7E, 0x01, 0x00};
    static const uint8_t bin64k[] = {0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0};
    struct ws_header h;

    CHECK(parse_copy(unmasked, sizeof unmasked, false, &h) == 2);
    CHECK(h.fin && h.opcode == WS_OP_TEXT && !h.masked && h.len == 5);
    CHECK(h.mask[0] == 0 && h.mask[1] == 0 && h.mask[2] == 0 && h.mask[3] == 0);
    CHECK(parse_copy(unmasked, sizeof unmasked, true, &h) == WS_ERR_UNMASKED);

    CHECK(parse_copy(masked, sizeof masked, true, &h) == 6);
    CHECK(h.fin && h.opcode == WS_OP_TEXT && h.masked && h.len == 5);
    CHECK(memcmp(h.mask, KEY, 4) == 0);
    CHECK(parse_prefixes(masked, sizeof masked, true, 6, 6));
    uint8_t text[5];
    memcpy(text, masked + 6, 5);
    ws_mask(text, 5, h.mask, 0);
    CHECK(memcmp(text, "Hello", 5) == 0);

    CHECK(parse_copy(first, sizeof first, false, &h) == 2);
    CHECK(!h.fin && h.opcode == WS_OP_TEXT && h.len == 3);
    CHECK(parse_copy(last, sizeof last, false, &h) == 2);
    CHECK(h.fin && h.opcode == WS_OP_CONT && h.len == 2);

    CHECK(parse_copy(pong, sizeof pong, true, &h) == 6);
    CHECK(h.fin && h.opcode == WS_OP_PONG && h.len == 5);

    CHECK(parse_copy(bin256, sizeof bin256, false, &h) == 4);
    CHECK(h.fin && h.opcode == WS_OP_BINARY && h.len == 256);
    CHECK(parse_copy(bin64k, sizeof bin64k, false, &h) == 10);
    CHECK(h.len == 65536);
}

/* A length in the form the writer must choose, written out by hand. */
struct length_form {
    uint64_t len;      /* payload length */
    size_t n;          /* header length */
    uint8_t bytes[10]; /* the header of a final binary frame, unmasked */
};

static const struct length_form forms[] = {
    {0, 2, {0x82, 0x00}},
    {1, 2, {0x82, 0x01}},
    {125, 2, {0x82, 0x7D}},
    {126, 4, {0x82, 0x7E, 0x00, 0x7E}},
    {127, 4, {0x82, 0x7E, 0x00, 0x7F}},
    {256, 4, {0x82, 0x7E, 0x01, 0x00}},
    {65535, 4, {0x82, 0x7E, 0xFF, 0xFF}},
    {65536, 10, {0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00}},
    {0x0102030405060708, 10, {0x82, 0x7F, 1, 2, 3, 4, 5, 6, 7, 8}},
    {UINT64_MAX >> 1, 10, {0x82, 0x7F, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}},
};

/* Checks one length both ways: the server writes it as `form`; a client
 * header (the same with the mask bit and a key) parses back, every prefix of
 * it needing more, and trailing payload bytes not disturbing it. */
static bool length_round_trip(const struct length_form *form)
{
    uint8_t out[WS_MAX_SERVER_HEADER];
    if (ws_write_header(out, true, WS_OP_BINARY, form->len) != form->n ||
        memcmp(out, form->bytes, form->n) != 0)
        return false;

    uint8_t client[WS_MAX_HEADER + 3] = {0};
    memcpy(client, form->bytes, form->n);
    client[1] |= 0x80;
    memcpy(client + form->n, KEY, 4);
    size_t n = form->n + 4;
    struct ws_header h;
    if (parse_copy(client, n + 3, true, &h) != (int)n)
        return false;
    return h.len == form->len && h.fin && h.masked && h.opcode == WS_OP_BINARY &&
           memcmp(h.mask, KEY, 4) == 0 && parse_prefixes(client, n, true, (int)n, n);
}

static void test_lengths(void)
{
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++)
        CHECK(length_round_trip(&forms[i]));

    /* every 7-bit and every 16-bit length */
    size_t bad = 0;
    for (uint64_t len = 0; len <= 0xFFFF; len++) {
        struct length_form form = {len, 2, {0x82, (uint8_t)len}};
        if (len >= 126)
            form = (struct length_form){len, 4, {0x82, 0x7E, (uint8_t)(len >> 8), (uint8_t)len}};
        bad += !length_round_trip(&form);
    }
    CHECK(bad == 0);

    uint8_t out[WS_MAX_SERVER_HEADER];
    CHECK(ws_write_header(out, false, WS_OP_TEXT, 3) == 2 && out[0] == 0x01 && out[1] == 0x03);
    CHECK(ws_write_header(out, true, WS_OP_CLOSE, 2) == 2 && out[0] == 0x88 && out[1] == 0x02);
    CHECK(ws_write_header(out, true, WS_OP_PONG, 125) == 2 && out[0] == 0x8A && out[1] == 0x7D);
}

struct bad_header {
    uint8_t bytes[WS_MAX_HEADER]; /* the whole header */
    size_t n;                     /* its length */
    bool require_mask;            /* parsed as the server (true) or a client */
    int want;                     /* the WS_ERR_* */
    size_t at;                    /* the prefix length at which the error shows */
};

static const struct bad_header bad_headers[] = {
    {{0xC1, 0x80, 1, 2, 3, 4}, 6, true, WS_ERR_RSV, 1},
    {{0xA1, 0x80, 1, 2, 3, 4}, 6, true, WS_ERR_RSV, 1},
    {{0x91, 0x80, 1, 2, 3, 4}, 6, true, WS_ERR_RSV, 1},
    {{0x09, 0x80, 1, 2, 3, 4}, 6, true, WS_ERR_CONTROL_FRAGMENTED, 1},
    {{0x08, 0x80, 1, 2, 3, 4}, 6, true, WS_ERR_CONTROL_FRAGMENTED, 1},
    {{0x0A, 0x80, 1, 2, 3, 4}, 6, true, WS_ERR_CONTROL_FRAGMENTED, 1},
    {{0x81, 0x05}, 2, true, WS_ERR_UNMASKED, 2},
    {{0x82, 0x7E, 0x01, 0x00}, 4, true, WS_ERR_UNMASKED, 2},
    {{0x89, 0xFE, 0x00, 0x7E, 1, 2, 3, 4}, 8, true, WS_ERR_CONTROL_TOO_LONG, 2},
    {{0x88, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0x7E, 1, 2, 3, 4}, 14, true, WS_ERR_CONTROL_TOO_LONG, 2},
    {{0x8A, 0x7E, 0x00, 0x05}, 4, false, WS_ERR_CONTROL_TOO_LONG, 2},
    {{0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}, 14, true, WS_ERR_LENGTH_TOP_BIT, 10},
    {{0x82, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, 10, false,
     WS_ERR_LENGTH_TOP_BIT, 10},
    {{0x82, 0xFE, 0x00, 0x7D, 1, 2, 3, 4}, 8, true, WS_ERR_LENGTH_NOT_MINIMAL, 4},
    {{0x82, 0xFE, 0x00, 0x00, 1, 2, 3, 4}, 8, true, WS_ERR_LENGTH_NOT_MINIMAL, 4},
    {{0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 1, 2, 3, 4}, 14, true,
     WS_ERR_LENGTH_NOT_MINIMAL, 10},
    {{0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0x00, 0x7D, 1, 2, 3, 4}, 14, true,
     WS_ERR_LENGTH_NOT_MINIMAL, 10},
    {{0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0x00, 0x00}, 10, false, WS_ERR_LENGTH_NOT_MINIMAL, 10},
};

static void test_header_errors(void)
{
    for (size_t i = 0; i < sizeof bad_headers / sizeof bad_headers[0]; i++) {
        const struct bad_header *b = &bad_headers[i];
        CHECK(parse_prefixes(b->bytes, b->n, b->require_mask, b->want, b->at));
    }

    /* Each opcode, as a final masked frame and as a first fragment. */
    for (unsigned op = 0; op < 16; op++) {
        bool known = op <= 0x2 || (op >= 0x8 && op <= 0xA);
        bool control = op >= 0x8;
        uint8_t final[] = {(uint8_t)(0x80 | op), 0x80, 1, 2, 3, 4};
        uint8_t first[] = {(uint8_t)op, 0x80, 1, 2, 3, 4};
        struct ws_header h;
        CHECK(parse_copy(final, sizeof final, true, &h) == (known ? 6 : WS_ERR_OPCODE));
        CHECK(!known || (h.opcode == op && h.fin && h.len == 0));
        int want = !known ? WS_ERR_OPCODE : control ? WS_ERR_CONTROL_FRAGMENTED : 6;
        CHECK(parse_copy(first, sizeof first, true, &h) == want);
        CHECK(!known || control || (h.opcode == op && !h.fin));
    }

    /* A control frame of exactly 125 bytes is fine (§5.5). */
    static const uint8_t ping125[] = {0x89, 0xFD, 1, 2, 3, 4};
    CHECK(parse_prefixes(ping125, sizeof ping125, true, 6, 6));

    /* *h is left alone unless a header is returned. */
    struct ws_header h = {.len = 42};
    CHECK(parse_copy(ping125, 5, true, &h) == WS_NEED_MORE && h.len == 42);
    CHECK(parse_copy(bad_headers[0].bytes, 6, true, &h) == WS_ERR_RSV && h.len == 42);

    const int errors[] = {WS_ERR_RSV, WS_ERR_OPCODE, WS_ERR_CONTROL_FRAGMENTED,
                          WS_ERR_CONTROL_TOO_LONG, WS_ERR_UNMASKED, WS_ERR_LENGTH_TOP_BIT,
                          WS_ERR_LENGTH_NOT_MINIMAL};
    const size_t count = sizeof errors / sizeof errors[0];
    const char *unknown = ws_strerror(-100);
    CHECK(unknown && *unknown);
    for (size_t i = 0; i < count; i++) {
        const char *s = ws_strerror(errors[i]);
        CHECK(s && *s && strcmp(s, unknown) != 0);
        for (size_t j = 0; j < i; j++)
            CHECK(strcmp(s, ws_strerror(errors[j])) != 0);
    }
}

/* ---- Masking ---- */

static void ref_mask(uint8_t *data, size_t len, const uint8_t mask[4], uint64_t pos)
{
    for (size_t i = 0; i < len; i++)
        data[i] ^= mask[(pos + i) % 4];
}

/* Masks data[from, to) as its own read would, alone in a heap block. */
static void mask_piece(uint8_t *data, size_t from, size_t to, uint64_t pos)
{
    uint8_t *piece = check_tail_copy(data + from, to - from);
    ws_mask(piece, to - from, KEY, pos + from);
    memcpy(data + from, piece, to - from);
    free(piece);
}

static void test_mask(void)
{
    uint8_t hello[] = "Hello";
    ws_mask(hello, 5, KEY, 0);
    CHECK(memcmp(hello, "\x7f\x9f\x4d\x51\x58", 5) == 0); /* §5.7 */

    enum { N = 70 };
    uint8_t plain[N];
    uint32_t seed = 1;
    for (size_t i = 0; i < N; i++)
        plain[i] = (uint8_t)((seed = seed * 1103515245 + 12345) >> 16);

    const uint64_t starts[] = {0, 1, 2, 3, 4, 7, ((uint64_t)1 << 32) + 3};
    for (size_t s = 0; s < sizeof starts / sizeof starts[0]; s++) {
        uint64_t pos = starts[s];
        uint8_t want[N], got[N];
        memcpy(want, plain, N);
        ref_mask(want, N, KEY, pos);

        memcpy(got, plain, N);
        mask_piece(got, 0, N, pos);
        CHECK(memcmp(got, want, N) == 0);
        mask_piece(got, 0, N, pos);
        CHECK(memcmp(got, plain, N) == 0);

        /* Cut into three pieces at every pair of points a <= b. */
        size_t bad = 0;
        for (size_t a = 0; a <= N; a++) {
            for (size_t b = a; b <= N; b++) {
                memcpy(got, plain, N);
                mask_piece(got, 0, a, pos);
                mask_piece(got, a, b, pos);
                mask_piece(got, b, N, pos);
                bad += memcmp(got, want, N) != 0;
            }
        }
        CHECK(bad == 0);
    }
}

/* ---- UTF-8 ---- */

static uint32_t validate_copy(uint32_t state, const char *s, size_t len)
{
    uint8_t *copy = check_tail_copy(s, len);
    state = utf8_validate(state, copy, len);
    free(copy);
    return state;
}

struct utf8_case {
    const char *name; /* printed when the case fails */
    const char *s;    /* the text */
    size_t len;       /* its length in bytes */
    size_t at;        /* index of the byte that shows it invalid; len if valid or cut short */
};

#define U(name, lit, at) {name, lit, sizeof lit - 1, at}
#define VALID(name, lit) U(name, lit, sizeof lit - 1)

static const struct utf8_case valid[] = {
    VALID("empty", ""),
    VALID("ascii", "Hello, world! 0123456789 ~"),
    VALID("kosme", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"),
    VALID("Autobahn 6.2", "Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc\xc3\xa0\xc3\xa1"
                          "-UTF-8!!"),
    VALID("U+0000", "a\0b"),
    VALID("U+007F", "\x7f"),
    VALID("U+0080", "\xc2\x80"),
    VALID("U+07FF", "\xdf\xbf"),
    VALID("U+0800", "\xe0\xa0\x80"),
    VALID("U+D7FF", "\xed\x9f\xbf"),
    VALID("U+E000", "\xee\x80\x80"),
    VALID("U+FFFD", "\xef\xbf\xbd"),
    VALID("U+FFFE", "\xef\xbf\xbe"),
    VALID("U+FFFF", "\xef\xbf\xbf"),
    VALID("U+10000", "\xf0\x90\x80\x80"),
    VALID("U+10FFFF", "\xf4\x8f\xbf\xbf"),
    VALID("mixed", "ascii run \xe2\x82\xac then \xf0\x9f\x98\x80 and long ascii to the end ......"),
};

static const struct utf8_case invalid[] = {
    U("stray continuation 80", "\x80", 0),
    U("stray continuation BF", "abc\xbf", 3),
    U("continuation after a whole char", "\xc2\xa9\xa9", 2),
    U("overlong C0 80 (U+0000)", "\xc0\x80", 0),
    U("overlong C1 BF", "\xc1\xbf", 0),
    U("overlong E0 80 80", "\xe0\x80\x80", 1),
    U("overlong E0 9F BF (U+07FF)", "\xe0\x9f\xbf", 1),
    U("overlong F0 80 80 80", "\xf0\x80\x80\x80", 1),
    U("overlong F0 8F BF BF (U+FFFF)", "\xf0\x8f\xbf\xbf", 1),
    U("surrogate U+D800", "\xed\xa0\x80", 1),
    U("surrogate U+DFFF", "\xed\xbf\xbf", 1),
    U("surrogate pair", "ok \xed\xa0\x80\xed\xb0\x80", 4),
    U("U+110000", "\xf4\x90\x80\x80", 1),
    U("F4 BF (above U+10FFFF)", "\xf4\xbf\xbf\xbf", 1),
    U("F5", "\xf5\x80\x80\x80", 0),
    U("F7 (U+1FFFFF)", "\xf7\xbf\xbf\xbf", 0),
    U("F8 five-byte form", "\xf8\x88\x80\x80\x80", 0),
    U("FE", "\xfe", 0),
    U("FF", "a\xff", 1),
    U("lead then ASCII", "\xce\x41", 1),
    U("lead then lead", "\xc2\xc2\xa9", 1),
    U("3-byte cut by ASCII", "\xe1\x80\x41", 2),
    U("4-byte cut by ASCII", "\xf1\x80\x80\x41", 3),
    U("lead then a long ASCII run", "\xc3xxxxxxxxxxxxxxxx", 1),
    U("cut short: lead of 2", "\xce", 1),
    U("cut short: 2 of 4", "\xf4\x8f", 2),
    U("cut short: 3 of 4", "\xf0\x9f\x98", 3),
};

static bool continuation(char c)
{
    return ((uint8_t)c & 0xC0) == 0x80;
}

/* Feeds the text in two pieces cut at every point, then byte by byte; the
 * state between pieces must say "boundary" exactly at character boundaries. */
static bool valid_in_pieces(const struct utf8_case *c)
{
    if (validate_copy(UTF8_ACCEPT, c->s, c->len) != UTF8_ACCEPT)
        return false;
    for (size_t k = 0; k <= c->len; k++) {
        uint32_t mid = validate_copy(UTF8_ACCEPT, c->s, k);
        bool boundary = k == c->len || !continuation(c->s[k]);
        if (mid == UTF8_REJECT || (mid == UTF8_ACCEPT) != boundary ||
            validate_copy(mid, c->s + k, c->len - k) != UTF8_ACCEPT)
            return false;
    }
    uint32_t state = UTF8_ACCEPT;
    for (size_t i = 0; i < c->len; i++)
        state = validate_copy(state, c->s + i, 1);
    return state == UTF8_ACCEPT;
}

/* The text must be rejected exactly when byte `at` arrives, however it was cut;
 * text that is only cut short must end inside a character. After a rejection,
 * good text must not bring it back. */
static bool invalid_in_pieces(const struct utf8_case *c)
{
    bool cut_short = c->at == c->len;
    uint32_t whole = validate_copy(UTF8_ACCEPT, c->s, c->len);
    if (cut_short ? whole == UTF8_ACCEPT || whole == UTF8_REJECT : whole != UTF8_REJECT)
        return false;
    for (size_t k = 0; k <= c->len; k++) {
        uint32_t mid = validate_copy(UTF8_ACCEPT, c->s, k);
        if ((mid == UTF8_REJECT) != (k > c->at) ||
            validate_copy(mid, c->s + k, c->len - k) != whole)
            return false;
    }
    return cut_short || validate_copy(whole, "abc", 3) == UTF8_REJECT;
}

/* The slow, obvious decoder: find each character's length from its lead byte,
 * gather the code point, then check its range (RFC 3629 §3). */
static bool ref_valid(const uint8_t *s, size_t n)
{
    static const uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000}; /* by length, against overlongs */
    for (size_t i = 0; i < n;) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t len = 0;
        if (s[i] >> 5 == 0x6) /* 110xxxxx */
            len = 2;
        else if (s[i] >> 4 == 0xE) /* 1110xxxx */
            len = 3;
        else if (s[i] >> 3 == 0x1E) /* 11110xxx */
            len = 4;
        if (len == 0 || n - i < len)
            return false;
        uint32_t cp = s[i] & (0xFF >> (len + 1));
        for (size_t k = 1; k < len; k++) {
            if (!continuation((char)s[i + k]))
                return false;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if (cp < least[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

/* Can s still grow into valid UTF-8? Completing its last character with the
 * lowest (80) or the highest (BF) continuation bytes gives the least and the
 * greatest code point it can become. The invalid ones in such a range (the
 * overlongs at its bottom, surrogates, those above U+10FFFF) either fill it or
 * sit at one end, never on both sides of valid ones, so trying both suffices. */
static bool ref_viable(const uint8_t *s, size_t n)
{
    uint8_t buf[8];
    memcpy(buf, s, n);
    for (size_t extra = 0; extra <= 3; extra++) {
        memset(buf + n, 0x80, extra);
        if (ref_valid(buf, n + extra))
            return true;
        memset(buf + n, 0xBF, extra);
        if (ref_valid(buf, n + extra))
            return true;
    }
    return false;
}

/* Compares the validator with the reference on every string of `len` bytes
 * from alphabet: ACCEPT exactly when the string is valid, REJECT exactly when
 * nothing can make it valid (which is failing fast, as every prefix of a
 * string is itself one of the strings tried). Returns the mismatches. */
static size_t utf8_exhaustive(const uint8_t *alphabet, size_t count, size_t len)
{
    size_t total = 1, bad = 0;
    for (size_t i = 0; i < len; i++)
        total *= count;
    for (size_t n = 0; n < total; n++) {
        uint8_t s[4];
        for (size_t i = 0, rest = n; i < len; i++, rest /= count)
            s[i] = alphabet[rest % count];
        uint32_t state = utf8_validate(UTF8_ACCEPT, s, len);
        if ((state == UTF8_ACCEPT) != ref_valid(s, len) ||
            (state == UTF8_REJECT) != !ref_viable(s, len)) {
            if (bad++ == 0)
                fprintf(stderr, "utf8 mismatch: %zu bytes, %02x %02x...\n", len, s[0], s[len > 1]);
        }
    }
    return bad;
}

static void test_utf8(void)
{
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        bool ok = valid_in_pieces(&valid[i]);
        if (!ok)
            fprintf(stderr, "utf8 case: %s\n", valid[i].name);
        CHECK(ok);
    }
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        bool ok = invalid_in_pieces(&invalid[i]);
        if (!ok)
            fprintf(stderr, "utf8 case: %s\n", invalid[i].name);
        CHECK(ok);
    }

    /* every 1- and 2-byte string; every string of up to 4 range-edge bytes */
    uint8_t all[256];
    for (size_t i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    static const uint8_t edges[] = {0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF,
                                    0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xEC, 0xED,
                                    0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF};
    CHECK(utf8_exhaustive(all, 256, 1) == 0);
    CHECK(utf8_exhaustive(all, 256, 2) == 0);
    CHECK(utf8_exhaustive(edges, sizeof edges, 3) == 0);
    CHECK(utf8_exhaustive(edges, sizeof edges, 4) == 0);

    /* The 8-bytes-at-a-time ASCII path: one odd byte at every position of a
     * 40-byte run must be seen, and must not hide the rest. */
    enum { RUN = 40 };
    size_t bad = 0;
    for (size_t p = 0; p < RUN; p++) {
        char text[RUN];
        memset(text, 'x', RUN);
        text[p] = '\x80'; /* a stray continuation */
        bad += validate_copy(UTF8_ACCEPT, text, RUN) != UTF8_REJECT;
        text[p] = '\xc3'; /* a lead, then ASCII or the end */
        uint32_t state = validate_copy(UTF8_ACCEPT, text, RUN);
        bad += p < RUN - 1 ? state != UTF8_REJECT : state == UTF8_ACCEPT || state == UTF8_REJECT;
        if (p < RUN - 2) {
            text[p + 1] = '\xa9'; /* a whole character */
            bad += validate_copy(UTF8_ACCEPT, text, RUN) != UTF8_ACCEPT;
            text[RUN - 1] = '\xff'; /* and after more ASCII, a bad byte */
            bad += validate_copy(UTF8_ACCEPT, text, RUN) != UTF8_REJECT;
        }
    }
    CHECK(bad == 0);
}

/* ---- Close frames ---- */

static int close_copy(const char *payload, size_t len, unsigned *code)
{
    uint8_t *copy = check_tail_copy(payload, len);
    int r = ws_parse_close(copy, len, code);
    free(copy);
    return r;
}

static void test_close(void)
{
    static const unsigned good[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
                                    1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999};
    static const unsigned bad[] = {0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100,
                                   2000, 2999, 5000, 65535, 65536, 0xFFFFFFFF};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        CHECK(ws_close_code_valid(good[i]));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(!ws_close_code_valid(bad[i]));

    unsigned code = 7;
    CHECK(close_copy("", 0, &code) == 0 && code == WS_CLOSE_NO_STATUS);
    code = 7;
    CHECK(close_copy("\x03", 1, &code) == WS_CLOSE_PROTOCOL_ERROR && code == 7);
    CHECK(close_copy("\x03\xe8", 2, &code) == 0 && code == 1000);
    CHECK(close_copy("\x03\xe9" "bye", 5, &code) == 0 && code == 1001);
    CHECK(close_copy("\x0b\xb8", 2, &code) == 0 && code == 3000);
    CHECK(close_copy("\x13\x87", 2, &code) == 0 && code == 4999);
    code = 7;
    CHECK(close_copy("\x03\xe8\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", 13, &code) == 0);
    CHECK(code == 1000);
    code = 7;
    CHECK(close_copy("\x03\xed", 2, &code) == WS_CLOSE_PROTOCOL_ERROR && code == 7); /* 1005 */
    CHECK(close_copy("\x03\xee", 2, &code) == WS_CLOSE_PROTOCOL_ERROR);              /* 1006 */
    CHECK(close_copy("\x00\x00", 2, &code) == WS_CLOSE_PROTOCOL_ERROR);
    CHECK(close_copy("\x13\x88", 2, &code) == WS_CLOSE_PROTOCOL_ERROR); /* 5000 */
    CHECK(close_copy("\x03\xed\xc0\x80", 4, &code) == WS_CLOSE_PROTOCOL_ERROR);
    CHECK(close_copy("\x03\xe8\xc0\x80", 4, &code) == WS_CLOSE_INVALID_PAYLOAD && code == 7);
    CHECK(close_copy("\x03\xe8\xed\xa0\x80", 5, &code) == WS_CLOSE_INVALID_PAYLOAD);
    CHECK(close_copy("\x03\xe8ok\xce", 5, &code) == WS_CLOSE_INVALID_PAYLOAD); /* cut short */
}

/* ---- Handshake ---- */

static bool key_valid_copy(const char *key)
{
    size_t len = strlen(key);
    char *copy = check_tail_copy(key, len);
    bool ok = ws_key_valid(copy, len);
    free(copy);
    return ok;
}

static bool accept_is(const char *key, const char *want)
{
    char out[WS_ACCEPT_SIZE];
    memset(out, '#', sizeof out);
    size_t len = strlen(key);
    char *copy = check_tail_copy(key, len);
    ws_accept_key(copy, len, out);
    free(copy);
    return strlen(out) == WS_ACCEPT_SIZE - 1 && strcmp(out, want) == 0;
}

static void test_handshake(void)
{
    CHECK(accept_is("dGhlIHNhbXBsZSBub25jZQ==", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")); /* §1.3 */
    CHECK(accept_is("x3JJHMbDL1EzLkh9GBhXDw==", "HSmrc0sMlYUkAGmm5OPpG2HaGWk="));
    CHECK(accept_is("wDqumtseNBJdhkihL6PW7w==", "0FFP+2nmNIf/h+4BP36k9uzrYGk="));

    CHECK(key_valid_copy("dGhlIHNhbXBsZSBub25jZQ=="));
    CHECK(key_valid_copy("AZaz09+/AZaz09+/AZaz09=="));
    const char *key = "dGhlIHNhbXBsZSBub25jZQ==";
    size_t bad = 0;
    for (size_t k = 0; k < 24; k++) {
        char prefix[24];
        memcpy(prefix, key, k);
        prefix[k] = '\0';
        bad += key_valid_copy(prefix);
    }
    CHECK(bad == 0);
    CHECK(!key_valid_copy("dGhlIHNhbXBsZSBub25jZQ==="));
    CHECK(!key_valid_copy("dGhlIHNhbXBsZSBub25jZQ=A"));
    CHECK(!key_valid_copy("dGhlIHNhbXBsZSBub25jZQ=\t"));
    CHECK(!key_valid_copy("dGhlIHNhbXBsZSBub25jZQQQ"));
    CHECK(!key_valid_copy("dGhlIHNhbXBsZSBub25jZQA=")); /* 17 bytes */
    CHECK(!key_valid_copy("dGhlIHNhbXBsZSBub25jZ==="));
    CHECK(!key_valid_copy("dGhlIHNhbXBsZSBub25j-Q==")); /* base64url is not base64 */
    CHECK(!key_valid_copy("dGhlIHNhbXBsZSBub25j_Q=="));
    CHECK(!key_valid_copy("dGhlIHNhbXBsZSBub25j Q=="));
    CHECK(!key_valid_copy(" dGhlIHNhbXBsZSBub25jZQ=="));
    CHECK(!key_valid_copy("dGhlIHNhbXBsZSBub25jZQ\xc3\xa9"));
}

int main(void)
{
    test_rfc_examples();
    test_lengths();
    test_header_errors();
    test_mask();
    test_utf8();
    test_close();
    test_handshake();
    return check_summary("ws");
}

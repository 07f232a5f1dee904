/* fuzz_json.c - libFuzzer harness for json.c: the object iterator, string
 * and integer decoding, and the chat Message's reader and writer.
 *
 * Properties, beyond memory safety:
 * - the iterator accepts exactly what a slow recursive reference of RFC 8259
 *   accepts, nesting limit (JSON_MAX_DEPTH, the outer object included) too;
 * - strings decode as the reference decodes them (section 7: escapes, UTF-16
 *   surrogate pairs), integers as strtoll reads them, and json_key_is agrees
 *   with the decoded key;
 * - message_read succeeds exactly when the input is valid and every
 *   known key has a value of its type (null counting as absent), and then
 *   holds the last value of each key;
 * - what message_write writes fits message_bound, is valid JSON,
 *   and reads back to the same fields, byte for byte. */
#include <errno.h>

#include "fuzz/fuzz.h"
#include "json.h"
#include "message.h"

/* ---- Reference reader (RFC 8259) ----------------------------------------- */

struct cursor {
    const uint8_t *p, *end;
};

static void ws(struct cursor *c)
{
    while (c->p < c->end && strchr(" \t\r\n", *c->p) && *c->p)
        c->p++;
}

static bool eat(struct cursor *c, char ch)
{
    if (c->p < c->end && *c->p == (uint8_t)ch) {
        c->p++;
        return true;
    }
    return false;
}

static bool is_hex(uint8_t b)
{
    return (b >= '0' && b <= '9') || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F');
}

static bool ref_string(struct cursor *c)
{
    if (!eat(c, '"'))
        return false;
    while (c->p < c->end) {
        uint8_t b = *c->p++;
        if (b == '"')
            return true;
        if (b < 0x20)
            return false;
        if (b != '\\')
            continue;
        if (c->p == c->end)
            return false;
        b = *c->p++;
        if (b == 'u') {
            for (int i = 0; i < 4; i++)
                if (c->p == c->end || !is_hex(*c->p++))
                    return false;
        } else if (!strchr("\"\\/bfnrt", b) || b == 0) {
            return false;
        }
    }
    return false;
}

static bool digits(struct cursor *c)
{
    const uint8_t *start = c->p;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
        c->p++;
    return c->p > start;
}

static bool ref_number(struct cursor *c)
{
    eat(c, '-');
    if (!eat(c, '0') && !(c->p < c->end && *c->p >= '1' && *c->p <= '9' && digits(c)))
        return false;
    if (eat(c, '.') && !digits(c))
        return false;
    if (eat(c, 'e') || eat(c, 'E')) {
        if (!eat(c, '+'))
            eat(c, '-');
        return digits(c);
    }
    return true;
}

static bool ref_word(struct cursor *c, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n) != 0)
        return false;
    c->p += n;
    return true;
}

/* depth: containers open around the value, the outer object included. */
static bool ref_value(struct cursor *c, int depth)
{
    if (c->p == c->end)
        return false;
    uint8_t b = *c->p;
    if (b == '{' || b == '[') {
        char close = b == '{' ? '}' : ']';
        if (depth + 1 > JSON_MAX_DEPTH)
            return false;
        c->p++;
        ws(c);
        if (eat(c, close))
            return true;
        do {
            ws(c);
            if (b == '{') {
                if (!ref_string(c))
                    return false;
                ws(c);
                if (!eat(c, ':'))
                    return false;
                ws(c);
            }
            if (!ref_value(c, depth + 1))
                return false;
            ws(c);
        } while (eat(c, ','));
        return eat(c, close);
    }
    if (b == '"')
        return ref_string(c);
    if (b == '-' || (b >= '0' && b <= '9'))
        return ref_number(c);
    return ref_word(c, "true") || ref_word(c, "false") || ref_word(c, "null");
}

/* Is in[0..len) one JSON object, with whitespace around it? */
static bool ref_valid(const void *in, size_t len)
{
    struct cursor c = {in, (const uint8_t *)in + len};
    ws(&c);
    if (c.p == c.end || *c.p != '{' || !ref_value(&c, 0))
        return false;
    ws(&c);
    return c.p == c.end;
}

/* ---- Reference decoding (section 7) -------------------------------------- */

static int hex4(const char *p)
{
    char s[5] = {p[0], p[1], p[2], p[3], '\0'};
    return (int)strtol(s, NULL, 16);
}

static size_t utf8_put(char *out, uint32_t cp)
{
    int n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    static const uint8_t lead[] = {0, 0, 0xC0, 0xE0, 0xF0};
    for (int i = n - 1; i > 0; i--, cp >>= 6)
        out[i] = (char)(0x80 | (cp & 0x3F));
    out[0] = (char)(lead[n] | cp);
    return (size_t)n;
}

static char simple_escape(char letter)
{
    switch (letter) {
    case 'b': return '\b';
    case 'f': return '\f';
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    default: return letter;     /* '"', '\\' and '/' stand for themselves */
    }
}

/* A string value (quotes included, already valid) into out; -1 for an
 * unpaired surrogate escape. */
static long ref_decode(const char *p, size_t len, char *out)
{
    const char *end = p + len - 1;
    size_t n = 0;

    for (p++; p < end;) {
        if (*p != '\\') {
            out[n++] = *p++;
            continue;
        }
        if (p[1] != 'u') {
            out[n++] = simple_escape(p[1]);
            p += 2;
            continue;
        }
        uint32_t cp = (uint32_t)hex4(p + 2);
        p += 6;
        if (cp >= 0xDC00 && cp <= 0xDFFF)
            return -1;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (end - p < 6 || p[0] != '\\' || p[1] != 'u')
                return -1;
            uint32_t lo = (uint32_t)hex4(p + 2);
            if (lo < 0xDC00 || lo > 0xDFFF)
                return -1;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            p += 6;
        }
        n += utf8_put(out + n, cp);
    }
    return (long)n;
}

/* ---- The Message, as the reference reads it ------------------------------- */

enum { F_TYPE, F_MEDIA, F_FROM, F_TO, F_CONTENT, F_FILE, F_URL, F_CREATE, F_UPDATE, F_ID,
       F_SINCE, NF };
static const char *const names[NF] = {"messageType", "mediaType", "from", "to", "content",
                                      "fileId", "url", "createAt", "updateAt", "id", "since"};

struct expected {
    bool ok;                 /* message_read must succeed */
    bool since_bad;          /* the last since is not an integer */
    int64_t num[NF];         /* integer fields */
    char *str[NF];           /* decoded string fields (malloc'd), NULL if absent */
    long len[NF];
};

static bool is_string(int f)
{
    return f >= F_FROM && f <= F_URL;
}

static const struct json_str *str_field(const struct message *m, int f)
{
    const struct json_str *s[NF] = {
        [F_FROM] = &m->from, [F_TO] = &m->to, [F_CONTENT] = &m->content,
        [F_FILE] = &m->file_id, [F_URL] = &m->url,
    };
    return s[f];
}

static int64_t num_field(const struct message *m, int f)
{
    switch (f) {
    case F_TYPE: return m->message_type;
    case F_MEDIA: return m->media_type;
    case F_CREATE: return m->create_at;
    case F_UPDATE: return m->update_at;
    case F_ID: return m->id;
    default: return m->since;
    }
}

/* json_integer's contract, worked out on the decimal text: the digits and
 * the exponent say exactly what the number is; a whole number of at most 19
 * digits is then written out plainly and read by strtoll. */
static int ref_integer(const struct json_value *v, int64_t *out)
{
    if (v->type != JSON_NUMBER)
        return -1;
    const char *p = v->p, *end = v->p + v->len;
    char *digits = malloc(v->len + 1), text[24];
    size_t nd = 0, first = 0;
    long exp10 = 0;
    bool negative = *p == '-';
    p += negative;
    for (; p < end && *p >= '0' && *p <= '9'; p++)
        digits[nd++] = *p;
    if (p < end && *p == '.')
        for (p++; p < end && *p >= '0' && *p <= '9'; p++, exp10--)
            digits[nd++] = *p;
    if (p < end) {
        bool down = false;
        long e = 0;
        if (*++p == '-' || *p == '+')
            down = *p++ == '-';
        for (; p < end; p++)
            if (e < 1000000)
                e = e * 10 + (*p - '0');
        exp10 += down ? -e : e;
    }
    while (first < nd && digits[first] == '0')
        first++;
    while (exp10 < 0 && nd > first && digits[nd - 1] == '0')
        nd--, exp10++;
    int r = -1;
    if (first == nd) {
        *out = 0, r = 0;                        /* zero, however written */
    } else if (exp10 >= 0 && nd - first + (size_t)exp10 <= 19) {
        size_t n = 0;
        if (negative)
            text[n++] = '-';
        memcpy(text + n, digits + first, nd - first);
        n += nd - first;
        memset(text + n, '0', (size_t)exp10);
        text[n + (size_t)exp10] = '\0';
        errno = 0;
        long long x = strtoll(text, NULL, 10);
        if (errno != ERANGE)
            *out = x, r = 0;
    }
    free(digits);
    return r;
}

/* One member: check the decoders on it, and note what it means for the
 * Message. */
static void member(const struct json_value *key, const struct json_value *val,
                   const char *in, size_t len, struct expected *e)
{
    EXPECT(key->type == JSON_STRING && val->len > 0);
    EXPECT(key->p >= in && key->p + key->len <= in + len);
    EXPECT(val->p >= in && val->p + val->len <= in + len);

    char *k = malloc(key->len), *kr = malloc(key->len);
    long klen = json_string_decode(key, k);
    EXPECT(klen == ref_decode(key->p, key->len, kr));
    EXPECT(klen < 0 || memcmp(k, kr, (size_t)klen) == 0);
    if (klen >= 0 && !memchr(k, '\0', (size_t)klen)) {
        k[klen] = '\0';     /* klen < key->len: the quotes are gone */
        EXPECT(json_key_is(key, k));
    }

    int64_t got = 0, want = 0;
    int r = json_integer(val, &got);
    EXPECT(r == ref_integer(val, &want) && (r < 0 || got == want));

    char *s = NULL;
    long slen = -1;
    if (val->type == JSON_STRING) {
        s = malloc(val->len);
        char *sr = malloc(val->len);
        slen = json_string_decode(val, s);
        EXPECT(slen == ref_decode(val->p, val->len, sr) && slen < (long)val->len);
        EXPECT(slen < 0 || memcmp(s, sr, (size_t)slen) == 0);
        free(sr);
    }

    for (int f = 0; klen >= 0 && f < NF; f++) {
        if ((size_t)klen != strlen(names[f]) || memcmp(kr, names[f], (size_t)klen) != 0 ||
            val->type == JSON_NULL)
            continue;
        if (f == F_SINCE) {
            /* Read for a Join alone: never a reason to refuse a message. */
            e->since_bad = r != 0;
            if (r == 0)
                e->num[f] = got;
        } else if (!is_string(f)) {
            e->ok &= r == 0;
            e->num[f] = got;
        } else if (slen < 0) {
            e->ok = false;
        } else {
            free(e->str[f]);
            e->str[f] = s;
            e->len[f] = slen;
            s = NULL;
        }
    }
    free(s);
    free(k);
    free(kr);
}

/* Walks the object with the iterator, checking it against the reference. */
static void walk(const char *in, size_t len, struct expected *e)
{
    struct json_iter it;
    struct json_value key, val;
    int r = json_object_begin(&it, in, len);

    e->ok = r == 0;
    while (r == 0 && (r = json_object_next(&it, &key, &val)) == 1) {
        member(&key, &val, in, len, e);
        r = 0;
    }
    EXPECT((r == 0) == ref_valid(in, len));
    EXPECT(r == 0 || (it.error && it.error_at <= len));
    EXPECT(json_object_next(&it, &key, &val) == (r == 0 ? 0 : -1));
    e->ok &= r == 0;
}

/* ---- Reading and writing the Message ------------------------------------- */

static void check_same(const struct message *a, const struct message *b)
{
    for (int f = 0; f < F_SINCE; f++) { /* since is read, never written */
        const struct json_str *sa = str_field(a, f), *sb = str_field(b, f);
        if (is_string(f))
            EXPECT(sa->len == sb->len && memcmp(sa->p, sb->p, sa->len) == 0);
        else
            EXPECT(num_field(a, f) == num_field(b, f));
    }
}

static void round_trip(const struct message *m)
{
    size_t bound = message_bound(m);
    char *out = malloc(bound), *scratch = malloc(bound), why[64];
    size_t n = message_write(out, m);
    struct message back;

    EXPECT(n <= bound);
    EXPECT(ref_valid(out, n));
    EXPECT(message_read(out, n, scratch, &back, why, sizeof why) == 0);
    check_same(m, &back);
    free(out);
    free(scratch);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    struct expected e = {0};
    struct message m;
    char *scratch = malloc(size ? size : 1), why[40];

    walk(in, size, &e);
    memset(why, 'x', sizeof why);
    int r = message_read(in, size, scratch, &m, why, sizeof why);
    EXPECT((r == 0) == e.ok);
    if (r == 0) {
        EXPECT(m.since_bad == e.since_bad);
        for (int f = 0; f < NF; f++) {
            const struct json_str *s = str_field(&m, f);
            if (!is_string(f))
                EXPECT(num_field(&m, f) == e.num[f]);
            else
                EXPECT(s->p && s->len == (size_t)(e.str[f] ? e.len[f] : 0) &&
                       memcmp(s->p, e.str[f] ? e.str[f] : "", s->len) == 0);
        }
        round_trip(&m);
    } else {
        EXPECT(r == -1 && memchr(why, '\0', sizeof why) && why[0] != '\0');
    }
    for (int f = 0; f < NF; f++)
        free(e.str[f]);
    free(scratch);
    return 0;
}

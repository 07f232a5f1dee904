/* json.c - owns JSON (RFC 8259): a reader that walks the members of one
 * object, validating each value in full, and the writing of strings and
 * integers. The chat Message built on it is message.c's.
 *
 * The reader makes one pass with pointers into the caller's buffer and
 * allocates nothing. Nested arrays and objects are walked with a bit stack,
 * not recursion, so hostile input costs neither stack nor more than linear
 * time. */
#include "json.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

_Static_assert(JSON_MAX_DEPTH <= 64, "the nesting stack is one uint64_t");

enum { ITER_FIRST, ITER_MORE, ITER_ENDED, ITER_FAILED }; /* json_iter.state */

const char json_nesting_too_deep[] = "nesting too deep";
static const char end_of_input[] = "unexpected end of input";

/* ---- Reading: the grammar of RFC 8259 ------------------------------------- */

static const char *fail(struct json_iter *it, const char *at, const char *why)
{
    it->error = why;
    it->error_at = (size_t)(at - it->in);
    return NULL;
}

/* A byte the grammar does not allow at p; running out of input is named as such. */
static const char *unexpected(struct json_iter *it, const char *p, const char *why)
{
    return fail(it, p, p == it->end ? end_of_input : why);
}

/* Section 2: the four insignificant whitespace bytes. */
static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
        return (c | 0x20) - 'a' + 10;
    return -1;
}

/* Section 7: the byte a two-character escape such as \n stands for, or 0
 * where letter does not make one. */
static char unescaped(char letter)
{
    switch (letter) {
    case '"': return '"';
    case '\\': return '\\';
    case '/': return '/';
    case 'b': return '\b';
    case 'f': return '\f';
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    default: return 0;
    }
}

/* Section 7: a string, p at its opening quote. Escapes are checked for form
 * only; whether \u surrogates pair up is json_string_decode's concern, since
 * the grammar allows lone ones (section 8.2). */
static const char *scan_string(struct json_iter *it, const char *p)
{
    const char *end = it->end;

    for (p++; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"')
            return p + 1;
        if (c < 0x20)
            return fail(it, p, "control character in string");
        if (c != '\\')
            continue;
        if (++p == end)
            break;
        if (*p == 'u') {
            for (int i = 0; i < 4; i++) {
                if (++p == end)
                    return fail(it, p, end_of_input);
                if (hex_digit(*p) < 0)
                    return fail(it, p, "bad \\u escape");
            }
        } else if (!unescaped(*p)) {
            return fail(it, p - 1, "bad escape");
        }
    }
    return fail(it, end, end_of_input);
}

/* One or more decimal digits at p, or NULL. */
static const char *skip_digits(const char *p, const char *end)
{
    const char *start = p;

    while (p < end && *p >= '0' && *p <= '9')
        p++;
    return p > start ? p : NULL;
}

/* Section 6: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)? */
static const char *scan_number(struct json_iter *it, const char *p)
{
    const char *end = it->end, *q;

    if (*p == '-')
        p++;
    if (p < end && *p == '0')
        q = p + 1;
    else
        q = skip_digits(p, end);
    if (q && q < end && *q == '.')
        q = skip_digits(p = q + 1, end);
    if (q && q < end && (*q == 'e' || *q == 'E')) {
        p = q + 1;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        q = skip_digits(p, end);
    }
    return q ? q : unexpected(it, p, "bad number");
}

static const char *scan_literal(struct json_iter *it, const char *p, const char *word)
{
    size_t n = strlen(word);

    if ((size_t)(it->end - p) < n || memcmp(p, word, n) != 0)
        return unexpected(it, p, "expected a value");
    return p + n;
}

/* A value other than an array or object, p at its first byte. */
static const char *scan_scalar(struct json_iter *it, const char *p)
{
    if (p == it->end)
        return fail(it, p, end_of_input);
    switch (*p) {
    case '"':
        return scan_string(it, p);
    case 't':
        return scan_literal(it, p, "true");
    case 'f':
        return scan_literal(it, p, "false");
    case 'n':
        return scan_literal(it, p, "null");
    default:
        if (*p == '-' || (*p >= '0' && *p <= '9'))
            return scan_number(it, p);
        return unexpected(it, p, "expected a value");
    }
}

/* Section 4: a member's name and its ':'. Returns where the value starts. */
static const char *scan_key(struct json_iter *it, const char *p, struct json_value *key)
{
    const char *q;

    if (p == it->end || *p != '"')
        return unexpected(it, p, "expected a string key");
    if (!(q = scan_string(it, p)))
        return NULL;
    if (key)
        *key = (struct json_value){p, (size_t)(q - p), JSON_STRING};
    q = skip_ws(q, it->end);
    if (q == it->end || *q != ':')
        return unexpected(it, q, "expected ':'");
    return skip_ws(q + 1, it->end);
}

/* Steps from p to the next element of an array or object (sections 4, 5):
 * either past its closing bracket, with *closed set, or to the start of the
 * next value, past the ',' (unless first: just after the opening bracket) and
 * for an object past the member's name (into *key unless NULL). */
static const char *step(struct json_iter *it, const char *p, bool object, bool first,
                        bool *closed, struct json_value *key)
{
    const char *end = it->end;

    p = skip_ws(p, end);
    *closed = p < end && *p == (object ? '}' : ']');
    if (*closed)
        return p + 1;
    if (!first) {
        if (p == end || *p != ',')
            return unexpected(it, p, object ? "expected ',' or '}'" : "expected ',' or ']'");
        p = skip_ws(p + 1, end);
    }
    return object ? scan_key(it, p, key) : p;
}

static enum json_type type_of(char first)
{
    switch (first) {
    case '"': return JSON_STRING;
    case '{': return JSON_OBJECT;
    case '[': return JSON_ARRAY;
    case 't': case 'f': return JSON_BOOL;
    case 'n': return JSON_NULL;
    default: return JSON_NUMBER;
    }
}

/* Validates the value that starts at p, inside depth open containers, into
 * *v, and returns the byte after it. Arrays and objects inside it are tracked
 * by `open` and one bit each in `objects` (set: an object), so no input can
 * nest deeper than JSON_MAX_DEPTH, which section 9 lets a parser limit. */
static const char *scan_value(struct json_iter *it, const char *p, unsigned depth,
                              struct json_value *v)
{
    const char *start = p;
    uint64_t objects = 0; /* bit i: the i-th open container is an object */
    unsigned open = 0;    /* containers open inside this value */
    bool complete;        /* p is just past a complete value */

    for (;;) {
        if (p < it->end && (*p == '{' || *p == '[')) {
            bool object = *p == '{';
            if (depth + open >= JSON_MAX_DEPTH)
                return fail(it, p, json_nesting_too_deep);
            objects = (objects & ~(UINT64_C(1) << open)) | (uint64_t)object << open;
            open++;
            if (!(p = step(it, p + 1, object, true, &complete, NULL)))
                return NULL;
            open -= complete;
        } else {
            if (!(p = scan_scalar(it, p)))
                return NULL;
            complete = true;
        }
        while (complete) {
            if (open == 0) {
                *v = (struct json_value){start, (size_t)(p - start), type_of(*start)};
                return p;
            }
            if (!(p = step(it, p, (objects >> (open - 1)) & 1, false, &complete, NULL)))
                return NULL;
            open -= complete;
        }
    }
}

static int begin(struct json_iter *it, const char *in, size_t len, char open, const char *what)
{
    const char *p = skip_ws(in, in + len);

    *it = (struct json_iter){in, in + len, p, ITER_FAILED, NULL, 0};
    if (p == it->end || *p != open) {
        fail(it, p, what);
        return -1;
    }
    it->at = p + 1;
    it->state = ITER_FIRST;
    return 0;
}

int json_object_begin(struct json_iter *it, const char *in, size_t len)
{
    return begin(it, in, len, '{', "not a JSON object");
}

int json_array_begin(struct json_iter *it, const char *in, size_t len)
{
    return begin(it, in, len, '[', "not a JSON array");
}

/* The next member (object) or element: see json_object_next. */
static int next(struct json_iter *it, bool object, struct json_value *key, struct json_value *val)
{
    const char *p;
    bool closed;

    if (it->state == ITER_ENDED || it->state == ITER_FAILED)
        return it->state == ITER_ENDED ? 0 : -1;
    p = step(it, it->at, object, it->state == ITER_FIRST, &closed, key);
    if (p && closed) {
        p = skip_ws(p, it->end);
        if (p == it->end) {
            it->state = ITER_ENDED;
            return 0;
        }
        p = fail(it, p, object ? "data after the object" : "data after the array");
    }
    if (p)
        p = scan_value(it, p, 1, val);
    if (!p) {
        it->state = ITER_FAILED;
        return -1;
    }
    it->at = p;
    it->state = ITER_MORE;
    return 1;
}

int json_object_next(struct json_iter *it, struct json_value *key, struct json_value *val)
{
    return next(it, true, key, val);
}

int json_array_next(struct json_iter *it, struct json_value *val)
{
    return next(it, false, NULL, val);
}

/* ---- Decoding strings and numbers ------------------------------------------ */

/* Writes code point c (at most U+10FFFF, not a surrogate) as UTF-8, RFC 3629
 * section 3, and returns its length. */
static size_t put_utf8(char *out, uint32_t c)
{
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xC0 | c >> 6);
        out[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xE0 | c >> 12);
        out[1] = (char)(0x80 | (c >> 6 & 0x3F));
        out[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | c >> 18);
    out[1] = (char)(0x80 | (c >> 12 & 0x3F));
    out[2] = (char)(0x80 | (c >> 6 & 0x3F));
    out[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

/* Decodes the escape at p (a backslash, before end) into out[0..4) and sets
 * *n to its length. Returns the byte after it, or NULL for an unpaired
 * surrogate (section 7: U+10000 and up are written as a UTF-16 pair). */
static const char *unescape(const char *p, const char *end, char *out, size_t *n)
{
    uint32_t c = 0;

    if (end - p < 2)
        return NULL;
    if (p[1] != 'u') {
        out[0] = unescaped(p[1]);
        *n = 1;
        return out[0] ? p + 2 : NULL;
    }
    if (end - p < 6)
        return NULL;
    /* The reader has checked the hex digits; should any be bad, c is some
     * number still written in at most 4 bytes. */
    for (int i = 2; i < 6; i++)
        c = c << 4 | (uint32_t)hex_digit(p[i]);
    p += 6;
    if (c >= 0xDC00 && c <= 0xDFFF)
        return NULL;
    if (c >= 0xD800 && c <= 0xDBFF) {
        uint32_t lo = 0;
        if (end - p < 6 || p[0] != '\\' || p[1] != 'u')
            return NULL;
        for (int i = 2; i < 6; i++)
            lo = lo << 4 | (uint32_t)hex_digit(p[i]);
        if (lo < 0xDC00 || lo > 0xDFFF)
            return NULL;
        c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
        p += 6;
    }
    *n = put_utf8(out, c);
    return p;
}

long json_string_decode(const struct json_value *v, char *out)
{
    const char *p = v->p + 1, *end = v->p + v->len - 1;
    char *o = out;

    while (p < end) {
        size_t n;
        if (*p != '\\') {
            *o++ = *p++;
            continue;
        }
        if (!(p = unescape(p, end, o, &n)))
            return -1;
        o += n;
    }
    return (long)(o - out);
}

bool json_key_is(const struct json_value *key, const char *name)
{
    const char *p = key->p + 1, *end = key->p + key->len - 1;

    /* The usual key has no escape, so it is its own bytes (and no NUL:
     * a raw string holds no control character). */
    if (!memchr(p, '\\', (size_t)(end - p)))
        return strncmp(p, name, (size_t)(end - p)) == 0 && name[end - p] == '\0';

    while (p < end) {
        char c[4];
        size_t n = 1;
        if (*p != '\\')
            c[0] = *p++;
        else if (!(p = unescape(p, end, c, &n)))
            return false;
        for (size_t i = 0; i < n; i++, name++)
            if (*name == '\0' || *name != c[i])
                return false;
    }
    return *name == '\0';
}

/* A JSON_NUMBER read exactly, without floating point: its magnitude is *m
 * plus a part below 1, nonzero where *above (digits past the point, or
 * past what 64 bits hold there). -1 where the whole part is beyond 64 bits. */
static int number_parts(const struct json_value *v, uint64_t *m, bool *negative, bool *above)
{
    const char *p = v->p, *end = v->p + v->len;
    long shift = 0;             /* the number is m * 10^shift, and more where above */

    *m = 0;
    *above = false;
    if (v->type != JSON_NUMBER || p == end)
        return -1;
    *negative = *p == '-';
    p += *negative;
    if (p == end)
        return -1;
    for (; p < end && *p >= '0' && *p <= '9'; p++) {
        if (*m > (UINT64_MAX - 9) / 10)
            return -1;
        *m = *m * 10 + (uint64_t)(*p - '0');
    }
    if (p < end && *p == '.')
        for (p++; p < end && *p >= '0' && *p <= '9'; p++) {
            if (*m <= (UINT64_MAX - 9) / 10)
                *m = *m * 10 + (uint64_t)(*p - '0'), shift--;
            else
                *above |= *p != '0';
        }
    if (p < end && (*p == 'e' || *p == 'E')) {
        bool down = false;
        long e = 0;
        if (++p < end && (*p == '-' || *p == '+'))
            down = *p++ == '-';
        for (; p < end && *p >= '0' && *p <= '9'; p++)
            if (e < 100000)     /* past this, m is 0 or too large either way */
                e = e * 10 + (*p - '0');
        shift += down ? -e : e;
    }
    if (p != end)
        return -1;
    for (; shift > 0 && *m; shift--) {
        if (*m > UINT64_MAX / 10)
            return -1;
        *m *= 10;
    }
    for (; shift < 0 && *m; shift++) {
        *above |= *m % 10 != 0;
        *m /= 10;
    }
    return 0;
}

/* The signed value of magnitude m, where int64 holds it. */
static int signed_value(uint64_t m, bool negative, int64_t *out)
{
    if (m > (negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX))
        return -1;
    /* -(m - 1) - 1 reaches INT64_MIN without converting 2^63 to int64_t. */
    *out = negative && m ? -(int64_t)(m - 1) - 1 : (int64_t)m;
    return 0;
}

int json_integer(const struct json_value *v, int64_t *out)
{
    uint64_t m;
    bool negative, above;
    if (number_parts(v, &m, &negative, &above) < 0 || above)
        return -1;
    return signed_value(m, negative, out);
}

int json_number_ceil(const struct json_value *v, int64_t *out)
{
    uint64_t m;
    bool negative, above;
    if (number_parts(v, &m, &negative, &above) < 0)
        return -1;
    /* Upwards, a positive number's part below 1 adds one (beyond int64
     * already where m is); a negative's is nearer zero already. */
    if (!negative && above) {
        if (m >= (uint64_t)INT64_MAX)
            return -1;
        m++;
    }
    return signed_value(m, negative, out);
}

/* ---- Writing --------------------------------------------------------------- */

/* Two digits a division: every message carries three 13- to 16-digit
 * numbers (createAt, updateAt, id), and this is on the path of each. */
size_t json_write_int(char *out, int64_t v)
{
    static const char pairs[] =
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
        "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
        "8081828384858687888990919293949596979899";
    char digits[20];
    size_t n = sizeof digits;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

    while (u >= 100) {
        const char *d = pairs + 2 * (u % 100);
        u /= 100;
        digits[--n] = d[1];
        digits[--n] = d[0];
    }
    if (u >= 10) {
        digits[--n] = pairs[2 * u + 1];
        digits[--n] = pairs[2 * u];
    } else {
        digits[--n] = (char)('0' + u);
    }
    char *o = out;
    if (v < 0)
        *o++ = '-';
    memcpy(o, digits + n, sizeof digits - n);
    return (size_t)(o - out) + sizeof digits - n;
}

/* The letter of c's two-character escape (the inverse of unescaped(), but
 * for '/', which needs none), or 0 where it has none. */
static char escape_letter(unsigned char c)
{
    switch (c) {
    case '"': return '"';
    case '\\': return '\\';
    case '\b': return 'b';
    case '\f': return 'f';
    case '\n': return 'n';
    case '\r': return 'r';
    case '\t': return 't';
    default: return 0;
    }
}

/* Section 7: '"', '\\' and the control characters must be escaped. DEL, a
 * control character to ASCII though not to JSON, is escaped too, so the text
 * holds no invisible ASCII. Everything else, UTF-8 included, goes out as it
 * is, which keeps any bytes exact across a write and a read. */
size_t json_write_string(char *out, const struct json_str *s)
{
    char *o = out;
    static const char hex[] = "0123456789abcdef";

    *o++ = '"';
    for (size_t i = 0; i < s->len; i++) {
        unsigned char c = (unsigned char)s->p[i];
        char letter;
        if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7F) {
            *o++ = (char)c;
        } else if ((letter = escape_letter(c))) {
            *o++ = '\\';
            *o++ = letter;
        } else {
            memcpy(o, "\\u00", 4);
            o[4] = hex[c >> 4];
            o[5] = hex[c & 0xF];
            o += 6;
        }
    }
    *o++ = '"';
    return (size_t)(o - out);
}


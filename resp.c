/* resp.c - owns RESP2 on the wire: the reply parser that turns the bytes a
 * Redis server sends into a tree of elements, and the encoder of commands.
 *
 * RESP2 is self-delimiting: every element is a type byte, a line ended by
 * CRLF, and for a bulk string a payload of the length that line gives. The
 * parser reads it byte by byte in wire order and checks each byte as it
 * comes, so an error is reported at the first byte that shows it, and every
 * number read from the wire is bounded before it is used. */
#include "resp.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

/* ---- Reading replies ------------------------------------------------------ */

#define NONE SIZE_MAX /* no array open */

enum { DONE = 1 }; /* a reader's third result, beside RESP_NEED_MORE and errors */

/* One parse of one reply. While an array is open (still expecting
 * elements), its own element holds its part of the parse: next counts the
 * elements still to come and integer is the index of the array around it
 * (-1 for none). Both take their final values when it closes. So the parser
 * needs no stack beside the caller's array, and its depth is bounded by the
 * caller's limit alone, not by a constant here. */
struct parse {
    const char *buf;               /* the input */
    size_t len;                    /* its length */
    size_t pos;                    /* the next byte to read */
    const struct resp_limits *lim; /* the caller's limits */
    struct resp_elem *elems;       /* the caller's array */
    size_t cap;                    /* its length */
    size_t used;                   /* elements filled */
    size_t reserved;               /* elements filled or owed to open arrays: never above cap */
    size_t open;                   /* the innermost open array, or NONE */
    size_t depth;                  /* arrays open */
    size_t err_at;                 /* after an error: the byte that showed it */
};

/* The largest magnitude a number may have, and the error for one past it. */
struct bound {
    unsigned long long max;
    int err;
};

static int fail(struct parse *p, size_t at, int err)
{
    p->err_at = at;
    return err;
}

/* Every line ends with CR LF. */
static int read_crlf(struct parse *p)
{
    if (p->pos == p->len)
        return RESP_NEED_MORE;
    if (p->buf[p->pos] != '\r')
        return fail(p, p->pos, RESP_ERR_CRLF);
    if (p->pos + 1 == p->len)
        return RESP_NEED_MORE;
    if (p->buf[p->pos + 1] != '\n')
        return fail(p, p->pos + 1, RESP_ERR_CRLF);
    p->pos += 2;
    return DONE;
}

/* The rest of a length or integer line: an optional '-' (bounded by neg,
 * else by pos), digits, CRLF. Redis writes numbers in their shortest form
 * and its own reader takes no other, so "-0", "+1" and "007" are a stream
 * out of step rather than numbers; with one form per value, a reply is also
 * exactly what re-encoding its elements writes. Each digit is checked
 * against the bound before it is added, so nothing overflows and an absurd
 * length is refused at the digit that makes it so. */
static int read_number(struct parse *p, struct bound pos, struct bound neg, bool *minus,
                       unsigned long long *out)
{
    if (p->pos == p->len)
        return RESP_NEED_MORE;
    *minus = p->buf[p->pos] == '-';
    struct bound b = *minus ? neg : pos;
    p->pos += *minus;
    const size_t first = p->pos;
    unsigned long long n = 0;

    for (;; p->pos++) {
        if (p->pos == p->len)
            return RESP_NEED_MORE;
        char c = p->buf[p->pos];
        if (c < '0' || c > '9')
            break;
        if (p->buf[first] == '0' && (p->pos > first || *minus))
            return fail(p, p->pos, RESP_ERR_DIGIT);
        unsigned d = (unsigned)(c - '0');
        if (d > b.max || n > (b.max - d) / 10)
            return fail(p, p->pos, b.err);
        n = n * 10 + d;
    }
    char c = p->buf[p->pos];
    if (p->pos == first || (c != '\r' && c != '\n'))
        return fail(p, p->pos, RESP_ERR_DIGIT);
    *out = n;
    return read_crlf(p);
}

/* A simple string or an error: any bytes but CR and LF, up to max_line. */
static int read_line(struct parse *p, struct resp_elem *e)
{
    const size_t start = p->pos;

    for (;; p->pos++) {
        if (p->pos == p->len)
            return RESP_NEED_MORE;
        char c = p->buf[p->pos];
        if (c == '\r' || c == '\n')
            break;
        if (p->pos - start == p->lim->max_line)
            return fail(p, p->pos, RESP_ERR_LINE_LONG);
    }
    e->str = p->buf + start;
    e->len = p->pos - start;
    return read_crlf(p);
}

static int read_integer(struct parse *p, struct resp_elem *e)
{
    static const struct bound pos = {LLONG_MAX, RESP_ERR_OVERFLOW};
    static const struct bound neg = {(unsigned long long)LLONG_MAX + 1, RESP_ERR_OVERFLOW};
    bool minus;
    unsigned long long n;
    int r = read_number(p, pos, neg, &minus, &n);

    /* n >= 1 when minus ("-0" is refused), and n - 1 fits: no overflow. */
    if (r == DONE)
        e->integer = minus ? -(long long)(n - 1) - 1 : (long long)n;
    return r;
}

/* "$-1" is the null bulk string; any other negative length is an error. */
static int read_bulk(struct parse *p, struct resp_elem *e)
{
    static const struct bound neg = {1, RESP_ERR_NEGATIVE};
    const struct bound pos = {p->lim->max_bulk, RESP_ERR_BULK_LONG};
    bool minus;
    unsigned long long n;
    int r = read_number(p, pos, neg, &minus, &n);

    if (r != DONE)
        return r;
    if (minus) {
        e->type = RESP_NIL;
        return DONE;
    }
    /* The payload is binary: skipped by its length, never scanned. */
    if (p->len - p->pos < n)
        return RESP_NEED_MORE;
    e->str = p->buf + p->pos;
    e->len = (size_t)n;
    p->pos += (size_t)n;
    return read_crlf(p);
}

/* An array's count is bounded by the room left in the caller's array once
 * every element already owed is counted, so a count too large for it is
 * refused at its header, before any of its elements arrive. */
static int read_array(struct parse *p, struct resp_elem *e)
{
    static const struct bound neg = {1, RESP_ERR_NEGATIVE};
    const struct bound pos = {p->cap - p->reserved, RESP_ERR_CAPACITY};
    bool minus;
    unsigned long long n;
    int r = read_number(p, pos, neg, &minus, &n);

    if (r != DONE)
        return r;
    if (minus) {
        e->type = RESP_NIL_ARRAY;
        return DONE;
    }
    e->len = (size_t)n;
    p->reserved += (size_t)n;
    return DONE;
}

/* Reads the element at p->pos into elems[p->used]. */
static int read_element(struct parse *p)
{
    if (p->pos == p->len)
        return RESP_NEED_MORE;
    const size_t at = p->pos++;
    struct resp_elem *e = &p->elems[p->used];

    *e = (struct resp_elem){.str = NULL};
    switch (p->buf[at]) {
    case '+':
        e->type = RESP_STRING;
        return read_line(p, e);
    case '-':
        e->type = RESP_ERROR;
        return read_line(p, e);
    case ':':
        e->type = RESP_INTEGER;
        return read_integer(p, e);
    case '$':
        e->type = RESP_BULK;
        return read_bulk(p, e);
    case '*':
        /* Even an empty or null array is an array at this depth. */
        if (p->depth == p->lim->max_depth)
            return fail(p, at, RESP_ERR_DEPTH);
        e->type = RESP_ARRAY;
        return read_array(p, e);
    }
    return fail(p, at, RESP_ERR_TYPE);
}

/* Element i has just been read: open it if it is an array that expects
 * elements, else it is complete, and so is every open array it fills. */
static void place(struct parse *p, size_t i)
{
    struct resp_elem *e = &p->elems[i];

    if (e->type == RESP_ARRAY && e->len > 0) {
        e->integer = p->open == NONE ? -1 : (long long)p->open;
        e->next = e->len;
        p->open = i;
        p->depth++;
        return;
    }
    e->next = i + 1;
    while (p->open != NONE) {
        struct resp_elem *a = &p->elems[p->open];
        if (--a->next > 0)
            return;
        size_t outer = a->integer < 0 ? NONE : (size_t)a->integer;
        a->next = p->used;
        a->integer = 0;
        p->depth--;
        p->open = outer;
    }
}

long resp_parse(const char *buf, size_t len, const struct resp_limits *lim,
                struct resp_elem *elems, size_t cap, size_t *err_at)
{
    struct parse p = {.buf = buf, .len = len, .lim = lim, .elems = elems, .cap = cap,
                      .reserved = 1, .open = NONE};

    if (cap == 0) { /* not even room for the reply's first element */
        if (len == 0)
            return RESP_NEED_MORE;
        *err_at = 0;
        return RESP_ERR_CAPACITY;
    }
    for (;;) {
        int r = read_element(&p);
        if (r != DONE) {
            if (r < 0)
                *err_at = p.err_at;
            return r;
        }
        place(&p, p.used++);
        if (p.open == NONE)
            return (long)p.pos;
    }
}

const char *resp_strerror(int err)
{
    switch (err) {
    case RESP_ERR_TYPE: return "unknown reply type";
    case RESP_ERR_CRLF: return "line not ended by CRLF";
    case RESP_ERR_DIGIT: return "malformed number";
    case RESP_ERR_NEGATIVE: return "negative length";
    case RESP_ERR_OVERFLOW: return "integer out of range";
    case RESP_ERR_BULK_LONG: return "bulk string too long";
    case RESP_ERR_LINE_LONG: return "simple string too long";
    case RESP_ERR_DEPTH: return "arrays nested too deep";
    case RESP_ERR_CAPACITY: return "too many elements";
    }
    return "unknown RESP error";
}

/* ---- Writing commands ----------------------------------------------------- */

/* a + b, or SIZE_MAX where that would pass it: SIZE_MAX never fits. */
static size_t add_sat(size_t a, size_t b)
{
    return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

static size_t decimal_len(size_t n)
{
    size_t k = 1;

    while (n >= 10) {
        n /= 10;
        k++;
    }
    return k;
}

/* Writes a header line, "*3\r\n" or "$5\r\n", and returns where it ends. */
static char *put_header(char *at, char type, size_t n)
{
    size_t k = decimal_len(n);

    *at++ = type;
    for (size_t i = k; i-- > 0; n /= 10)
        at[i] = (char)('0' + n % 10);
    at += k;
    *at++ = '\r';
    *at++ = '\n';
    return at;
}

size_t resp_encode_command(char *out, size_t cap, size_t argc, const char *const argv[],
                           const size_t lens[])
{
    size_t need = 1 + decimal_len(argc) + 2;

    for (size_t i = 0; i < argc; i++)
        need = add_sat(add_sat(need, 1 + decimal_len(lens[i]) + 2), add_sat(lens[i], 2));
    if (need == SIZE_MAX || need > cap)
        return need;

    char *at = put_header(out, '*', argc);
    for (size_t i = 0; i < argc; i++) {
        at = put_header(at, '$', lens[i]);
        if (lens[i]) /* an empty argument may come as a NULL pointer */
            memcpy(at, argv[i], lens[i]);
        at += lens[i];
        *at++ = '\r';
        *at++ = '\n';
    }
    return need;
}

bool resp_append_command(struct buf *b, size_t argc, const char *const argv[],
                         const size_t lens[])
{
    size_t n = resp_encode_command(NULL, 0, argc, argv, lens);
    char *at = buf_reserve(b, n);

    if (!at)
        return false;
    b->len += resp_encode_command(at, n, argc, argv, lens);
    return true;
}

/* fuzz_resp.c - libFuzzer harness for resp.c: the RESP2 reply parser, under
 * limits the first input byte chooses, and the command encoder. The rest of
 * the input is a stream of replies, as a Redis connection would read it.
 *
 * Properties, beyond memory safety:
 * - every answer agrees with a slow recursive reference written below from
 *   the RESP2 spec and resp.h's rules: the same length, or "need more", or
 *   the same error at the same byte;
 * - a reply's length is at most the input's, a prefix answers "need more"
 *   or what the whole does (the same elements for a reply, the same byte for
 *   an error), and so does the input with bytes after a complete reply;
 * - a reply's elements are well formed (next past each subtree, strings in
 *   the reply, limits kept), and written back in RESP2 they give exactly the
 *   reply's bytes;
 * - looser limits never change a reply or a syntax error, and never turn
 *   "need more" into anything else;
 * - replies back to back are read one after the other, each as above;
 * - a command the encoder writes reads back as its arguments, its length is
 *   the same whether written or not, and a buffer one byte short gets
 *   nothing. */
#include "fuzz/fuzz.h"
#include "resp.h"

#define LOOSE_CAP 4096 /* more elements than max_len bytes can hold */

static struct resp_elem elems[LOOSE_CAP], again[LOOSE_CAP];

static const struct resp_limits loose = {.max_bulk = SIZE_MAX, .max_line = SIZE_MAX,
                                         .max_depth = LOOSE_CAP};

/* ---- Reference parser ------------------------------------------------------ */

struct ref {
    const uint8_t *d;
    size_t n, pos;
    const struct resp_limits *lim;
    size_t cap, reserved;
    size_t err_at;
};

static int ref_fail(struct ref *r, size_t at, int err)
{
    r->err_at = at;
    return err;
}

/* A line's CRLF at r->pos: 1 past it, 0 for more, or the error. */
static int ref_crlf(struct ref *r, size_t j)
{
    if (j >= r->n)
        return 0;
    if (r->d[j] != '\r')
        return ref_fail(r, j, RESP_ERR_CRLF);
    if (j + 1 >= r->n)
        return 0;
    if (r->d[j + 1] != '\n')
        return ref_fail(r, j + 1, RESP_ERR_CRLF);
    r->pos = j + 2;
    return 1;
}

/* "-"? ("0" | [1-9][0-9]*) CRLF, its magnitude at most pos_max (neg_max
 * after '-'), "-0" refused. The value is kept in 128 bits and compared
 * after each digit, so the first digit past the bound is the one named. */
static int ref_number(struct ref *r, unsigned __int128 pos_max, int pos_err,
                      unsigned __int128 neg_max, int neg_err, bool *minus, unsigned __int128 *v)
{
    size_t s = r->pos;
    *minus = false;
    *v = 0;
    for (size_t j = s;; j++) {
        if (j >= r->n)
            return 0;
        uint8_t c = r->d[j];
        if (j == s && c == '-') {
            *minus = true;
            continue;
        }
        size_t first = s + *minus;
        if (c >= '0' && c <= '9') {
            if ((j > first && r->d[first] == '0') || (j == first && *minus && c == '0'))
                return ref_fail(r, j, RESP_ERR_DIGIT);
            *v = *v * 10 + (c - '0');
            if (*v > (*minus ? neg_max : pos_max))
                return ref_fail(r, j, *minus ? neg_err : pos_err);
            continue;
        }
        if (j == first || (c != '\r' && c != '\n'))
            return ref_fail(r, j, RESP_ERR_DIGIT);
        return ref_crlf(r, j);
    }
}

static int ref_element(struct ref *r, size_t depth)
{
    bool minus;
    unsigned __int128 v;
    int rc;

    if (r->pos >= r->n)
        return 0;
    size_t at = r->pos++;
    switch (r->d[at]) {
    case '+':
    case '-':
        for (size_t j = r->pos;; j++) {
            if (j >= r->n)
                return 0;
            if (r->d[j] == '\r' || r->d[j] == '\n')
                return ref_crlf(r, j);
            if (j - r->pos >= r->lim->max_line)
                return ref_fail(r, j, RESP_ERR_LINE_LONG);
        }
    case ':':
        return ref_number(r, (unsigned __int128)INT64_MAX, RESP_ERR_OVERFLOW,
                          (unsigned __int128)INT64_MAX + 1, RESP_ERR_OVERFLOW, &minus, &v);
    case '$':
        rc = ref_number(r, r->lim->max_bulk, RESP_ERR_BULK_LONG, 1, RESP_ERR_NEGATIVE, &minus, &v);
        if (rc != 1 || minus)
            return rc;
        if (r->n - r->pos < v)
            return 0;
        return ref_crlf(r, r->pos + (size_t)v);
    case '*':
        if (depth >= r->lim->max_depth)
            return ref_fail(r, at, RESP_ERR_DEPTH);
        rc = ref_number(r, r->cap - r->reserved, RESP_ERR_CAPACITY, 1, RESP_ERR_NEGATIVE,
                        &minus, &v);
        if (rc != 1 || minus)
            return rc;
        r->reserved += (size_t)v;
        for (size_t i = 0; i < v; i++)
            if ((rc = ref_element(r, depth + 1)) != 1)
                return rc;
        return 1;
    }
    return ref_fail(r, at, RESP_ERR_TYPE);
}

/* What resp_parse must answer for d[0..n). */
static long ref_parse(const uint8_t *d, size_t n, const struct resp_limits *lim, size_t cap,
                      size_t *err_at)
{
    struct ref r = {.d = d, .n = n, .lim = lim, .cap = cap, .reserved = 1};
    int rc = ref_element(&r, 0);

    *err_at = r.err_at;
    return rc == 1 ? (long)r.pos : rc;
}

/* ---- Checks ---------------------------------------------------------------- */

static bool same_elems(const struct resp_elem *a, const char *abase, const struct resp_elem *b,
                       const char *bbase, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (a[i].type != b[i].type || a[i].len != b[i].len || a[i].integer != b[i].integer ||
            a[i].next != b[i].next || (a[i].str == NULL) != (b[i].str == NULL) ||
            (a[i].str && a[i].str - abase != b[i].str - bbase))
            return false;
    return true;
}

/* Writes elements i.. back in RESP2 at out[*n..) and returns the index past
 * them, checking each against the reply buf[0..len) and the limits. */
static size_t rewrite(size_t i, size_t depth, const char *buf, size_t len,
                      const struct resp_limits *lim, size_t cap, char *out, size_t *n)
{
    const struct resp_elem *e = &elems[i];
    size_t k = i + 1;

    EXPECT(i < cap && *n < len + 64);
    EXPECT((e->str != NULL) == (e->type == RESP_STRING || e->type == RESP_ERROR ||
                                e->type == RESP_BULK));
    EXPECT(!e->str || (e->str >= buf && (size_t)(e->str - buf) <= len - e->len));
    EXPECT(e->type == RESP_INTEGER || e->integer == 0);
    EXPECT(e->type == RESP_ARRAY || e->type == RESP_STRING || e->type == RESP_ERROR ||
           e->type == RESP_BULK || e->len == 0);
    switch (e->type) {
    case RESP_STRING:
    case RESP_ERROR:
        EXPECT(e->len <= lim->max_line && !memchr(e->str, '\r', e->len) &&
               !memchr(e->str, '\n', e->len));
        out[(*n)++] = e->type == RESP_STRING ? '+' : '-';
        memcpy(out + *n, e->str, e->len); /* not %s: a simple string may hold a NUL */
        *n += e->len;
        *n += (size_t)sprintf(out + *n, "\r\n");
        break;
    case RESP_INTEGER: *n += (size_t)sprintf(out + *n, ":%lld\r\n", e->integer); break;
    case RESP_NIL: *n += (size_t)sprintf(out + *n, "$-1\r\n"); break;
    case RESP_NIL_ARRAY:
        EXPECT(depth < lim->max_depth);
        *n += (size_t)sprintf(out + *n, "*-1\r\n");
        break;
    case RESP_BULK:
        EXPECT(e->len <= lim->max_bulk && e->len <= len);
        *n += (size_t)sprintf(out + *n, "$%zu\r\n", e->len);
        memcpy(out + *n, e->str, e->len);
        *n += e->len;
        *n += (size_t)sprintf(out + *n, "\r\n");
        break;
    case RESP_ARRAY:
        EXPECT(depth < lim->max_depth);
        *n += (size_t)sprintf(out + *n, "*%zu\r\n", e->len);
        for (size_t c = 0; c < e->len; c++)
            k = rewrite(k, depth + 1, buf, len, lim, cap, out, n);
        break;
    default: EXPECT(!"a type resp.h does not name");
    }
    EXPECT(e->next == k);
    return k;
}

/* A prefix of data, in its own block, answers "need more" or as the whole. */
static void check_prefix(const uint8_t *data, size_t cut, const struct resp_limits *lim,
                         size_t cap, long whole, size_t whole_at)
{
    uint8_t *copy = fuzz_copy(data, cut);
    size_t at = SIZE_MAX;
    long r = resp_parse((const char *)copy, cut, lim, again, cap, &at);

    if (whole > 0 && cut >= (size_t)whole) {
        EXPECT(r == whole && same_elems(again, (const char *)copy, elems, (const char *)data,
                                        elems[0].next));
    } else if (whole < 0 && cut > whole_at) {
        EXPECT(r == whole && at == whole_at);
    } else {
        EXPECT(r == RESP_NEED_MORE);
    }
    free(copy);
}

static bool limit_error(long r)
{
    return r == RESP_ERR_BULK_LONG || r == RESP_ERR_LINE_LONG || r == RESP_ERR_DEPTH ||
           r == RESP_ERR_CAPACITY;
}

/* One reply (or error, or "need more") at the start of d[0..size). Returns
 * its length, or 0 when it is not a complete reply. */
static size_t check_one(const uint8_t *d, size_t size, const struct resp_limits *lim,
                        size_t cap)
{
    const char *buf = (const char *)d;
    size_t at = SIZE_MAX, ref_at = SIZE_MAX;
    long r = resp_parse(buf, size, lim, elems, cap, &at);
    long want = ref_parse(d, size, lim, cap, &ref_at);

    EXPECT(r == want);
    EXPECT(r >= 0 || at == ref_at);
    EXPECT(r >= RESP_ERR_CAPACITY && (r <= 0 || (size_t)r <= size));
    EXPECT(r >= 0 ? at == SIZE_MAX : at < size);
    if (r < 0)
        EXPECT(strcmp(resp_strerror((int)r), "unknown RESP error") != 0);

    /* Prefixes: all of them for short inputs, a few telling cuts else. */
    if (size <= 128) {
        for (size_t cut = 0; cut <= size; cut++)
            check_prefix(d, cut, lim, cap, r, at);
    } else {
        size_t cuts[] = {size / 2, size - 1, r > 0 ? (size_t)r - 1 : 0, r > 0 ? (size_t)r : 0,
                         r < 0 ? at : 0, r < 0 ? at + 1 : 0};
        for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++)
            check_prefix(d, cuts[i], lim, cap, r, at);
    }

    if (r > 0) {
        size_t len = (size_t)r, n = 0;
        char *out = malloc(2 * len + 128); /* room for a wrong rewrite to show itself */
        EXPECT(rewrite(0, 0, buf, len, lim, cap, out, &n) == elems[0].next);
        EXPECT(n == len && memcmp(out, buf, len) == 0);
        free(out);
    }

    /* Looser limits take what these take, and refuse the same syntax. */
    size_t la = SIZE_MAX;
    long lr = resp_parse(buf, size, &loose, again, LOOSE_CAP, &la);
    if (r > 0)
        EXPECT(lr == r && same_elems(again, buf, elems, buf, elems[0].next));
    else if (r == RESP_NEED_MORE)
        EXPECT(lr == RESP_NEED_MORE);
    else if (!limit_error(r))
        EXPECT(lr == r && la == at);
    else
        EXPECT(lr == RESP_NEED_MORE || (lr > 0 && (size_t)lr > at) || (lr < 0 && la >= at));
    return r > 0 ? (size_t)r : 0;
}

/* ---- The encoder ------------------------------------------------------------- */

/* d[0..size) cut into argc arguments of about equal length. */
static void check_encode(const uint8_t *d, size_t size, size_t argc)
{
    const char *argv[8];
    size_t lens[8];

    for (size_t i = 0; i < argc; i++) {
        size_t from = size * i / argc, to = size * (i + 1) / argc;
        argv[i] = (const char *)d + from;
        lens[i] = to - from;
    }
    size_t n = resp_encode_command(NULL, 0, argc, argv, lens);
    char *out = malloc(n + 1);
    out[n - 1] = '#';
    EXPECT(resp_encode_command(out, n - 1, argc, argv, lens) == n && out[n - 1] == '#');
    EXPECT(resp_encode_command(out, n, argc, argv, lens) == n);

    size_t at;
    EXPECT(resp_parse(out, n, &loose, again, LOOSE_CAP, &at) == (long)n);
    EXPECT(again[0].type == RESP_ARRAY && again[0].len == argc && again[0].next == argc + 1);
    for (size_t i = 0; i < argc; i++)
        EXPECT(again[1 + i].type == RESP_BULK && again[1 + i].len == lens[i] &&
               memcmp(again[1 + i].str, argv[i], lens[i]) == 0);

    struct buf b = buf_make(n), short_b = buf_make(n - 1);
    EXPECT(resp_append_command(&b, argc, argv, lens) && b.len == n &&
           memcmp(b.data, out, n) == 0);
    EXPECT(!resp_append_command(&short_b, argc, argv, lens) && short_b.len == 0);
    buf_free(&b);
    buf_free(&short_b);
    free(out);
}

/* The first byte picks the limits: bits 0-2 the element capacity, 3-4 the
 * depth, 5 a small max_bulk, 6 a small max_line. The encoder cuts the same
 * bytes into as many arguments as the input's length gives, modulo 8. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t caps[] = {1, 2, 3, 5, 8, 16, 64, 256}, depths[] = {1, 2, 3, 16};

    if (size < 1)
        return 0;
    uint8_t knob = data[0];
    const uint8_t *d = data + 1;
    size--;
    const struct resp_limits lim = {.max_bulk = knob & 0x20 ? 8 : RESP_MAX_BULK_DEFAULT,
                                    .max_line = knob & 0x40 ? 8 : 4096,
                                    .max_depth = depths[knob >> 3 & 3]};
    size_t cap = caps[knob & 7];

    /* Replies back to back, as they come down one connection. */
    for (size_t off = 0, r; off <= size; off += r)
        if ((r = check_one(d + off, size - off, &lim, cap)) == 0)
            break;
    check_encode(d, size, size % 8);
    return 0;
}

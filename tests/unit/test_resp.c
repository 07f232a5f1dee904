/* test_resp.c - unit tests for resp.c: every reply type, nested arrays,
 * pipelined replies whole and in pieces, every prefix of every input, every
 * error at its byte, the limits, and the command encoder byte for byte.
 * Every input sits at the end of its own heap block, so AddressSanitizer
 * catches any read past it. */
#include "tests/unit/check.h"
#include "resp.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#define CAP 64

static const struct resp_limits LIM = {.max_bulk = RESP_MAX_BULK_DEFAULT, .max_line = 1024,
                                       .max_depth = 8};
static struct resp_elem elems[CAP];

/* ---- Seeing a reply --------------------------------------------------------- */

struct text {
    char s[2048];
    size_t n;
    bool bad; /* an element was inconsistent: a wrong next, a str outside the input */
};

static void put(struct text *t, const char *p, size_t n)
{
    if (t->n + n >= sizeof t->s) {
        t->bad = true;
        return;
    }
    memcpy(t->s + t->n, p, n);
    t->n += n;
    t->s[t->n] = '\0';
}

static void put_str(struct text *t, const char *s)
{
    put(t, s, strlen(s));
}

/* Writes element i in a compact form ("*2[+OK,$3:foo]") and returns the
 * index after it, checking on the way that next and str say what they
 * should about the reply in buf[0..len). */
static size_t show(struct text *t, size_t i, const char *buf, size_t len)
{
    const struct resp_elem *e = &elems[i];
    char num[48];
    size_t k = i + 1;

    if ((e->str != NULL) != (e->type == RESP_STRING || e->type == RESP_ERROR ||
                             e->type == RESP_BULK) ||
        (e->str && (e->str < buf || e->len > len || (size_t)(e->str - buf) > len - e->len)) ||
        (e->type != RESP_INTEGER && e->integer != 0))
        t->bad = true;
    switch (e->type) {
    case RESP_STRING: put_str(t, "+"); put(t, e->str, e->len); break;
    case RESP_ERROR: put_str(t, "-"); put(t, e->str, e->len); break;
    case RESP_INTEGER:
        snprintf(num, sizeof num, ":%lld", e->integer);
        put_str(t, num);
        break;
    case RESP_BULK:
        snprintf(num, sizeof num, "$%zu:", e->len);
        put_str(t, num);
        put(t, e->str, e->len);
        break;
    case RESP_NIL: put_str(t, "$nil"); break;
    case RESP_NIL_ARRAY: put_str(t, "*nil"); break;
    case RESP_ARRAY:
        snprintf(num, sizeof num, "*%zu[", e->len);
        put_str(t, num);
        for (size_t c = 0; c < e->len && !t->bad && k < CAP; c++) {
            if (c)
                put_str(t, ",");
            k = show(t, k, buf, len);
        }
        put_str(t, "]");
        break;
    default: t->bad = true;
    }
    if (e->next != k)
        t->bad = true;
    return k;
}

/* Parses s[0..n) from the end of its own heap block, with limits lim and
 * cap elements. A reply is written into t (when t is given) while its bytes
 * are still there. */
static long parse(const char *s, size_t n, const struct resp_limits *lim, size_t cap,
                  size_t *err_at, struct text *t)
{
    char *copy = check_tail_copy(s, n);
    long r = resp_parse(copy, n, lim, elems, cap, err_at);

    if (r > 0 && t) {
        t->n = 0;
        t->s[0] = '\0';
        t->bad = false;
        if (show(t, 0, copy, (size_t)r) != elems[0].next)
            t->bad = true;
    }
    free(copy);
    return r;
}

/* s[0..len) is one reply that shows as want: every shorter prefix needs
 * more, the whole gives its length, and bytes after it change nothing. */
static bool reply_is(const char *s, size_t len, const char *want)
{
    struct text t;
    size_t at;
    char *more = malloc(len + 3);

    for (size_t n = 0; n < len; n++)
        if (parse(s, n, &LIM, CAP, &at, NULL) != RESP_NEED_MORE)
            return free(more), false;
    memcpy(more, s, len);
    memcpy(more + len, "+x\r", 3);
    for (size_t extra = 0; extra <= 3; extra++)
        if (parse(more, len + extra, &LIM, CAP, &at, &t) != (long)len || t.bad ||
            strcmp(t.s, want) != 0) {
            fprintf(stderr, "  got \"%s\"%s, want \"%s\"\n", t.s, t.bad ? " (bad)" : "", want);
            return free(more), false;
        }
    free(more);
    return true;
}

#define REPLY(lit, want) CHECK(reply_is(lit, sizeof lit - 1, want))

/* ---- Reply types ------------------------------------------------------------- */

static void test_scalars(void)
{
    REPLY("+OK\r\n", "+OK");
    REPLY("+\r\n", "+");
    REPLY("+QUEUED\r\n", "+QUEUED");
    REPLY("+a\tb \x01\xff\r\n", "+a\tb \x01\xff");
    REPLY("-ERR unknown command 'foo'\r\n", "-ERR unknown command 'foo'");
    REPLY("-NOSCRIPT No matching script. Please use EVAL.\r\n",
          "-NOSCRIPT No matching script. Please use EVAL.");
    REPLY(":0\r\n", ":0");
    REPLY(":1000\r\n", ":1000");
    REPLY(":-1\r\n", ":-1");
    REPLY(":9223372036854775807\r\n", ":9223372036854775807");
    REPLY(":-9223372036854775808\r\n", ":-9223372036854775808");
    REPLY("$5\r\nhello\r\n", "$5:hello");
    REPLY("$0\r\n\r\n", "$0:");
    REPLY("$-1\r\n", "$nil");
    REPLY("$12\r\n\r\n$3\r\n*1\r\nab\r\n", "$12:\r\n$3\r\n*1\r\nab");

    size_t at;
    CHECK(parse(":-9223372036854775808\r\n", 23, &LIM, CAP, &at, NULL) == 23);
    CHECK(elems[0].type == RESP_INTEGER && elems[0].integer == LLONG_MIN);
    CHECK(parse(":9223372036854775807\r\n", 22, &LIM, CAP, &at, NULL) == 22);
    CHECK(elems[0].integer == LLONG_MAX && elems[0].next == 1 && elems[0].str == NULL);
    /* A bulk's payload is binary: a NUL and a CRLF inside it are its bytes. */
    static const char bin[] = "$4\r\n\0\r\n\xff\r\n";
    struct text t;
    CHECK(parse(bin, sizeof bin - 1, &LIM, CAP, &at, &t) == 10);
    CHECK(!t.bad && t.n == 7 && memcmp(t.s, "$4:\0\r\n\xff", 7) == 0);
    CHECK(elems[0].type == RESP_BULK && elems[0].len == 4);
}

static void test_arrays(void)
{
    REPLY("*0\r\n", "*0[]");
    REPLY("*-1\r\n", "*nil");
    REPLY("*2\r\n$3\r\nfoo\r\n$3\r\nbar\r\n", "*2[$3:foo,$3:bar]");
    REPLY("*5\r\n:1\r\n:2\r\n:3\r\n:4\r\n$6\r\nfoobar\r\n", "*5[:1,:2,:3,:4,$6:foobar]");
    REPLY("*3\r\n$3\r\nfoo\r\n$-1\r\n$3\r\nbar\r\n", "*3[$3:foo,$nil,$3:bar]");
    REPLY("*3\r\n+a\r\n-b\r\n*-1\r\n", "*3[+a,-b,*nil]");
    /* Pub/Sub: a subscription's confirmation and a message. */
    REPLY("*3\r\n$9\r\nsubscribe\r\n$6\r\npusher\r\n:1\r\n", "*3[$9:subscribe,$6:pusher,:1]");
    REPLY("*3\r\n$7\r\nmessage\r\n$6\r\npusher\r\n$5\r\nhello\r\n",
          "*3[$7:message,$6:pusher,$5:hello]");

    /* Nested: the spec's example, a SCAN page, an EXEC of several replies,
     * and a Lua script's table of tables, empty ones included. */
    REPLY("*2\r\n*3\r\n:1\r\n:2\r\n:3\r\n*2\r\n+Foo\r\n-Bar\r\n", "*2[*3[:1,:2,:3],*2[+Foo,-Bar]]");
    REPLY("*2\r\n$2\r\n17\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n", "*2[$2:17,*2[$1:a,$1:b]]");
    REPLY("*4\r\n+OK\r\n:7\r\n*2\r\n$1\r\n0\r\n*1\r\n$1\r\nk\r\n-WRONGTYPE x\r\n",
          "*4[+OK,:7,*2[$1:0,*1[$1:k]],-WRONGTYPE x]");
    REPLY("*3\r\n*0\r\n*1\r\n*1\r\n*0\r\n:5\r\n", "*3[*0[],*1[*1[*0[]]],:5]");
    REPLY("*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:8\r\n",
          "*1[*1[*1[*1[*1[*1[*1[*1[:8]]]]]]]]");

    /* The elements themselves: depth first, next past each subtree. */
    static const char s[] = "*3\r\n*2\r\n:1\r\n$1\r\nx\r\n*0\r\n+y\r\n";
    size_t at;
    CHECK(parse(s, sizeof s - 1, &LIM, CAP, &at, NULL) == (long)sizeof s - 1);
    CHECK(elems[0].type == RESP_ARRAY && elems[0].len == 3 && elems[0].next == 6);
    CHECK(elems[1].type == RESP_ARRAY && elems[1].len == 2 && elems[1].next == 4);
    CHECK(elems[2].type == RESP_INTEGER && elems[2].integer == 1 && elems[2].next == 3);
    CHECK(elems[3].type == RESP_BULK && elems[3].len == 1 && elems[3].next == 4);
    CHECK(elems[4].type == RESP_ARRAY && elems[4].len == 0 && elems[4].next == 5);
    CHECK(elems[5].type == RESP_STRING && elems[5].len == 1 && elems[5].next == 6);
    CHECK(elems[0].integer == 0 && elems[1].integer == 0 && elems[4].integer == 0);
}

/* ---- Pipelining ---------------------------------------------------------------- */

static const char *const PIPELINE[] = {
    "+OK\r\n", ":42\r\n", "$-1\r\n", "*-1\r\n", "$0\r\n\r\n", "*0\r\n",
    "*3\r\n$7\r\nmessage\r\n$6\r\npusher\r\n$11\r\n{\"id\":12}\r\n\r\n",
    "-NOSCRIPT x\r\n", "*2\r\n*1\r\n:1\r\n*1\r\n*0\r\n", "$3\r\n+OK\r\n",
};
#define NPIPE (sizeof PIPELINE / sizeof PIPELINE[0])

/* What each reply of PIPELINE shows as, parsed alone. */
static void shown_alone(char want[NPIPE][256])
{
    struct text t;
    size_t at;
    for (size_t i = 0; i < NPIPE; i++) {
        CHECK(parse(PIPELINE[i], strlen(PIPELINE[i]), &LIM, CAP, &at, &t) ==
              (long)strlen(PIPELINE[i]));
        CHECK(t.n < 256);
        memcpy(want[i], t.s, t.n < 256 ? t.n + 1 : 0);
    }
}

/* The replies back to back, read as a connection would: bytes arrive
 * `step` at a time, and after each arrival every complete reply is taken
 * from the front. The replies come out whole, in order, each as it shows
 * alone, each as soon as its last byte is there. */
static bool pipeline_in_steps(const char *all, size_t len, size_t step, char want[NPIPE][256])
{
    size_t start = 0, have = 0, next = 0, at;
    struct text t;

    while (have < len) {
        have = have + step < len ? have + step : len;
        for (;;) {
            long r = parse(all + start, have - start, &LIM, CAP, &at, &t);
            if (r == RESP_NEED_MORE)
                break;
            if (r < 0 || next == NPIPE || t.bad || strcmp(t.s, want[next]) != 0 ||
                (size_t)r != strlen(PIPELINE[next]))
                return false;
            start += (size_t)r;
            next++;
        }
        /* Not a reply more than the bytes hold: the one in progress ends
         * after what has arrived. */
        if (next < NPIPE && start + strlen(PIPELINE[next]) <= have)
            return false;
    }
    return next == NPIPE && start == len;
}

static void test_pipeline(void)
{
    char want[NPIPE][256], all[1024];
    size_t len = 0;

    shown_alone(want);
    for (size_t i = 0; i < NPIPE; i++) {
        memcpy(all + len, PIPELINE[i], strlen(PIPELINE[i]));
        len += strlen(PIPELINE[i]);
    }
    for (size_t step = 1; step <= 16; step++)
        CHECK(pipeline_in_steps(all, len, step, want));
    CHECK(pipeline_in_steps(all, len, len, want));
}

/* ---- Errors ---------------------------------------------------------------------- */

/* s is refused with err at byte at, and no sooner: every prefix up to that
 * byte needs more, every longer one gives the same error there. */
static bool fails_at(const char *s, size_t len, const struct resp_limits *lim, size_t cap,
                     int err, size_t at)
{
    for (size_t n = 0; n <= len; n++) {
        size_t where = SIZE_MAX;
        long r = parse(s, n, lim, cap, &where, NULL);
        if (n <= at ? r != RESP_NEED_MORE : r != err || where != at) {
            fprintf(stderr, "  prefix %zu: got %ld at %zu, want %d at %zu\n", n, r, where,
                    n <= at ? RESP_NEED_MORE : err, at);
            return false;
        }
    }
    return true;
}

/* Every prefix of s[0..len), the whole included, needs more. */
static bool needs_more(const char *s, size_t len, const struct resp_limits *lim)
{
    size_t at;
    for (size_t n = 0; n <= len; n++)
        if (parse(s, n, lim, CAP, &at, NULL) != RESP_NEED_MORE)
            return false;
    return true;
}

#define FAILS(lit, err, at) CHECK(fails_at(lit, sizeof lit - 1, &LIM, CAP, err, at))
#define FAILS_WITH(lim, cap, lit, err, at) CHECK(fails_at(lit, sizeof lit - 1, lim, cap, err, at))

static void test_syntax_errors(void)
{
    /* A type byte RESP2 does not have, RESP3's included. */
    FAILS("?OK\r\n", RESP_ERR_TYPE, 0);
    FAILS("\r\n", RESP_ERR_TYPE, 0);
    FAILS("_\r\n", RESP_ERR_TYPE, 0);
    FAILS("%1\r\n", RESP_ERR_TYPE, 0);
    FAILS("*2\r\n:1\r\n!x\r\n", RESP_ERR_TYPE, 8);

    /* Lines end in CRLF: a CR without LF, a bare LF, a bulk payload longer
     * than its length says. */
    FAILS("+OK\rX\n", RESP_ERR_CRLF, 4);
    FAILS("+OK\r\r\n", RESP_ERR_CRLF, 4);
    FAILS("+OK\n", RESP_ERR_CRLF, 3);
    FAILS("-ERR\n", RESP_ERR_CRLF, 4);
    FAILS(":1\rX", RESP_ERR_CRLF, 3);
    FAILS(":1\n", RESP_ERR_CRLF, 2);
    FAILS("$3\n", RESP_ERR_CRLF, 2);
    FAILS("*1\r:1\r\n", RESP_ERR_CRLF, 3);
    FAILS("$3\r\nfooX\r\n", RESP_ERR_CRLF, 7);
    FAILS("$3\r\nfoo\n", RESP_ERR_CRLF, 7);
    FAILS("$3\r\nfoo\rX", RESP_ERR_CRLF, 8);
    FAILS("$0\r\nX", RESP_ERR_CRLF, 4);
    FAILS("*2\r\n$1\r\nab\r\n", RESP_ERR_CRLF, 9);

    /* Numbers: digits in their shortest form, an optional '-'. */
    FAILS("$x\r\n", RESP_ERR_DIGIT, 1);
    FAILS("$1x\r\n", RESP_ERR_DIGIT, 2);
    FAILS("$\r\n", RESP_ERR_DIGIT, 1);
    FAILS("$ 1\r\n", RESP_ERR_DIGIT, 1);
    FAILS(":\r\n", RESP_ERR_DIGIT, 1);
    FAILS(":-\r\n", RESP_ERR_DIGIT, 2);
    FAILS(":--1\r\n", RESP_ERR_DIGIT, 2);
    FAILS(":+1\r\n", RESP_ERR_DIGIT, 1);
    FAILS(":1 \r\n", RESP_ERR_DIGIT, 2);
    FAILS(":1.5\r\n", RESP_ERR_DIGIT, 2);
    FAILS(":01\r\n", RESP_ERR_DIGIT, 2);
    FAILS(":00\r\n", RESP_ERR_DIGIT, 2);
    FAILS(":-0\r\n", RESP_ERR_DIGIT, 2);
    FAILS("$-0\r\n", RESP_ERR_DIGIT, 2);
    FAILS("$007\r\n", RESP_ERR_DIGIT, 2);
    FAILS("*01\r\n", RESP_ERR_DIGIT, 2);
    FAILS("$-1x\r\n", RESP_ERR_DIGIT, 3);
    FAILS("*-\r\n", RESP_ERR_DIGIT, 2);
    FAILS("*3\r\n:1\r\n:x\r\n", RESP_ERR_DIGIT, 9);

    /* Negative lengths other than -1, known at the digit that shows it. */
    FAILS("$-2\r\n", RESP_ERR_NEGATIVE, 2);
    FAILS("$-10\r\n", RESP_ERR_NEGATIVE, 3);
    FAILS("$-11\r\n", RESP_ERR_NEGATIVE, 3);
    FAILS("*-2\r\n", RESP_ERR_NEGATIVE, 2);
    FAILS("*-100\r\n", RESP_ERR_NEGATIVE, 3);
    FAILS("*1\r\n$-5\r\n", RESP_ERR_NEGATIVE, 6);

    /* Integers past 64 bits, at the digit that passes. */
    FAILS(":9223372036854775808\r\n", RESP_ERR_OVERFLOW, 19);
    FAILS(":-9223372036854775809\r\n", RESP_ERR_OVERFLOW, 20);
    FAILS(":99999999999999999999\r\n", RESP_ERR_OVERFLOW, 19);
    FAILS(":18446744073709551616\r\n", RESP_ERR_OVERFLOW, 20);

    /* Only the first error counts, whatever follows it. */
    FAILS("+OK\rX?\r\n$-5", RESP_ERR_CRLF, 4);
}

static void test_limits(void)
{
    const struct resp_limits small = {.max_bulk = 16, .max_line = 4, .max_depth = 2};
    const struct resp_limits flat = {.max_bulk = 16, .max_line = 4, .max_depth = 0};
    const struct resp_limits huge = {.max_bulk = SIZE_MAX, .max_line = 4, .max_depth = 1};
    size_t at;

    /* Bulk lengths: the longest allowed waits for its payload; one more is
     * refused at the digit that makes it too long, before any payload. */
    CHECK(parse("$16\r\n0123456789abcdef\r\n", 23, &small, CAP, &at, NULL) == 23);
    FAILS_WITH(&small, CAP, "$17\r\n", RESP_ERR_BULK_LONG, 2);
    FAILS_WITH(&small, CAP, "$100\r\n", RESP_ERR_BULK_LONG, 3);
    FAILS_WITH(&small, CAP, "*2\r\n$1\r\na\r\n$20\r\n", RESP_ERR_BULK_LONG, 13);
    CHECK(needs_more("$536870912\r\n", 12, &LIM));
    FAILS("$536870913\r\n", RESP_ERR_BULK_LONG, 9);
    FAILS("$5368709120\r\n", RESP_ERR_BULK_LONG, 10);
    /* With no ceiling but SIZE_MAX, a length past it is too long all the same. */
    FAILS_WITH(&huge, CAP, "$18446744073709551616\r\n", RESP_ERR_BULK_LONG, 20);
    CHECK(needs_more("$18446744073709551615\r\n", 23, &huge));

    /* Simple strings and errors: max_line bytes, not one more. */
    CHECK(parse("+OKAY\r\n", 7, &small, CAP, &at, NULL) == 7);
    FAILS_WITH(&small, CAP, "+OKAYS\r\n", RESP_ERR_LINE_LONG, 5);
    FAILS_WITH(&small, CAP, "-ERROR\r\n", RESP_ERR_LINE_LONG, 5);
    FAILS_WITH(&small, CAP, "*1\r\n+12345", RESP_ERR_LINE_LONG, 9);

    /* Depth: max_depth arrays one in another, even empty or null ones. */
    CHECK(parse("*1\r\n*1\r\n:1\r\n", 12, &small, CAP, &at, NULL) == 12);
    FAILS_WITH(&small, CAP, "*1\r\n*1\r\n*1\r\n:1\r\n", RESP_ERR_DEPTH, 8);
    FAILS_WITH(&small, CAP, "*1\r\n*1\r\n*0\r\n", RESP_ERR_DEPTH, 8);
    FAILS_WITH(&small, CAP, "*1\r\n*1\r\n*-1\r\n", RESP_ERR_DEPTH, 8);
    FAILS_WITH(&small, CAP, "*2\r\n*1\r\n:1\r\n*1\r\n*0\r\n", RESP_ERR_DEPTH, 16);
    CHECK(parse(":1\r\n", 4, &flat, CAP, &at, NULL) == 4);
    FAILS_WITH(&flat, CAP, "*0\r\n", RESP_ERR_DEPTH, 0);
    FAILS_WITH(&huge, CAP, "*1\r\n*0\r\n", RESP_ERR_DEPTH, 4);

    /* Capacity: an array whose elements cannot all fit is refused at the
     * digit of its count that says so, before they arrive. */
    CHECK(parse("*2\r\n:1\r\n:2\r\n", 12, &LIM, 3, &at, NULL) == 12);
    CHECK(parse("*1\r\n*1\r\n:1\r\n", 12, &LIM, 3, &at, NULL) == 12);
    FAILS_WITH(&LIM, 3, "*3\r\n:1\r\n:2\r\n:3\r\n", RESP_ERR_CAPACITY, 1);
    FAILS_WITH(&LIM, 3, "*2\r\n*1\r\n:1\r\n:2\r\n", RESP_ERR_CAPACITY, 5);
    FAILS_WITH(&LIM, 5, "*10\r\n", RESP_ERR_CAPACITY, 2);
    FAILS_WITH(&LIM, 1, "*1\r\n", RESP_ERR_CAPACITY, 1);
    FAILS_WITH(&LIM, 0, ":1\r\n", RESP_ERR_CAPACITY, 0);
    FAILS("*18446744073709551616\r\n", RESP_ERR_CAPACITY, 3);
    CHECK(parse("*0\r\n", 4, &LIM, 1, &at, NULL) == 4);
    CHECK(parse("*-1\r\n", 5, &LIM, 1, &at, NULL) == 5);
    /* Elements owed to an outer array count: the inner one's count is
     * refused though the inner elements alone would fit. */
    FAILS_WITH(&LIM, 4, "*2\r\n*2\r\n", RESP_ERR_CAPACITY, 5);
}

static void test_strerror(void)
{
    for (int err = RESP_ERR_TYPE; err >= RESP_ERR_CAPACITY; err--)
        CHECK(strcmp(resp_strerror(err), "unknown RESP error") != 0);
    CHECK(strcmp(resp_strerror(RESP_ERR_CAPACITY - 1), "unknown RESP error") == 0);
}

/* ---- Commands ------------------------------------------------------------------- */

static size_t encode(char *out, size_t cap, size_t argc, const char *const argv[])
{
    size_t lens[16];
    for (size_t i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    return resp_encode_command(out, cap, argc, argv, lens);
}

static void test_encode(void)
{
    static const char set_wire[] = "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";
    const char *set[] = {"SET", "key", "value"};
    char out[256];

    memset(out, '#', sizeof out);
    CHECK(encode(out, sizeof out, 3, set) == sizeof set_wire - 1);
    CHECK(memcmp(out, set_wire, sizeof set_wire - 1) == 0 && out[sizeof set_wire - 1] == '#');

    /* Like snprintf: the length whether or not it fits, nothing written
     * unless it all fits. */
    CHECK(encode(NULL, 0, 3, set) == sizeof set_wire - 1);
    memset(out, '#', sizeof out);
    CHECK(encode(out, sizeof set_wire - 2, 3, set) == sizeof set_wire - 1);
    CHECK(out[0] == '#' && out[sizeof set_wire - 2] == '#');
    CHECK(encode(out, sizeof set_wire - 1, 3, set) == sizeof set_wire - 1);
    CHECK(memcmp(out, set_wire, sizeof set_wire - 1) == 0 && out[sizeof set_wire - 1] == '#');

    const char *none[] = {NULL};
    CHECK(encode(out, sizeof out, 0, none) == 4 && memcmp(out, "*0\r\n", 4) == 0);

    /* Arguments are binary: CRLF, NUL, empty (even as a NULL pointer), and
     * lengths of several digits. */
    static const char bin[] = "a\r\n\0b";
    const char *argv[] = {"PUBLISH", "pusher:bus", bin, NULL, "0123456789"};
    const size_t lens[] = {7, 10, sizeof bin - 1, 0, 10};
    static const char want[] = "*5\r\n$7\r\nPUBLISH\r\n$10\r\npusher:bus\r\n$5\r\na\r\n\0b\r\n"
                               "$0\r\n\r\n$10\r\n0123456789\r\n";
    CHECK(resp_encode_command(out, sizeof out, 5, argv, lens) == sizeof want - 1);
    CHECK(memcmp(out, want, sizeof want - 1) == 0);

    /* What the encoder writes, the parser reads back. */
    struct text t;
    size_t at;
    CHECK(parse(out, sizeof want - 1, &LIM, CAP, &at, &t) == (long)sizeof want - 1);
    static const char shown[] = "*5[$7:PUBLISH,$10:pusher:bus,$5:a\r\n\0b,$0:,$10:0123456789]";
    CHECK(!t.bad && t.n == sizeof shown - 1 && memcmp(t.s, shown, sizeof shown - 1) == 0);

    /* A length past SIZE_MAX is SIZE_MAX, which fits nowhere; the
     * arguments are not read. */
    const char *big[] = {"x", "y", "z"};
    const size_t big_lens[] = {SIZE_MAX / 2, SIZE_MAX / 2, 10};
    CHECK(resp_encode_command(out, sizeof out, 3, big, big_lens) == SIZE_MAX);
    const size_t top[] = {SIZE_MAX - 8};
    CHECK(resp_encode_command(out, sizeof out, 1, big, top) == SIZE_MAX);
}

static void test_append(void)
{
    static const char ping[] = "*1\r\n$4\r\nPING\r\n";
    static const char get[] = "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
    const char *argv_ping[] = {"PING"}, *argv_get[] = {"GET", "k"};
    const size_t lens_ping[] = {4}, lens_get[] = {3, 1};
    struct buf b = buf_make(sizeof ping - 1 + sizeof get - 1);

    /* Commands pipelined into one buffer, up to its ceiling exactly. */
    CHECK(resp_append_command(&b, 1, argv_ping, lens_ping));
    CHECK(resp_append_command(&b, 2, argv_get, lens_get));
    CHECK(b.len == b.max && !b.failed);
    CHECK(memcmp(b.data, ping, sizeof ping - 1) == 0);
    CHECK(memcmp(b.data + sizeof ping - 1, get, sizeof get - 1) == 0);

    /* One more byte than the ceiling: refused, and nothing of it added. */
    CHECK(!resp_append_command(&b, 1, argv_ping, lens_ping));
    CHECK(b.failed && b.len == b.max);
    buf_free(&b);

    b = buf_make(sizeof ping - 2);
    CHECK(!resp_append_command(&b, 1, argv_ping, lens_ping) && b.failed && b.len == 0);
    buf_free(&b);
}

int main(void)
{
    test_scalars();
    test_arrays();
    test_pipeline();
    test_syntax_errors();
    test_limits();
    test_strerror();
    test_encode();
    test_append();
    return check_summary("resp");
}

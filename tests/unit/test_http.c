/* test_http.c - the HTTP/1.1 request-head parser and its helpers (http.c). */
#include "check.h"
#include "http.h"

#include <stdbool.h>
#include <stdint.h>

static struct http_request req;

/* Parses the first n bytes of s from the end of a heap block, so ASan sees
 * any read past them. */
static int parse_prefix(const char *s, size_t n)
{
    char *copy = check_tail_copy(s, n);
    int r = http_parse_request(copy, n, &req);

    free(copy);
    return r;
}

/* Feeds every prefix of s[0..len): each must answer 0, until one answers
 * want, and from there every longer one must answer want too. Returns the
 * length of the first prefix that answered, or SIZE_MAX if the rule broke. */
static size_t first_answer(const char *s, size_t len, int want)
{
    size_t first = SIZE_MAX;

    for (size_t n = 0; n <= len; n++) {
        int r = parse_prefix(s, n);
        if (r == 0 && first == SIZE_MAX)
            continue;
        if (r != want)
            return SIZE_MAX;
        if (first == SIZE_MAX)
            first = n;
    }
    return first;
}

static bool field_is(const char *p, size_t len, const char *want)
{
    return len == strlen(want) && memcmp(p, want, len) == 0;
}

static bool header_is(const char *name, const char *want)
{
    const struct http_header *h = http_header_find(&req, name);

    return h && field_is(h->value, h->value_len, want);
}

/* A head is complete, and known to be, exactly at its blank line. */
static void check_complete(const char *s)
{
    size_t head = (size_t)(strstr(s, "\r\n\r\n") + 4 - s);

    CHECK(first_answer(s, strlen(s), (int)head) == head);
    CHECK(http_parse_request(s, strlen(s), &req) == (int)head);
}

static void test_typical(void)
{
    const char *ws =
        "GET /websocket?userId=alice&token=a.b.c HTTP/1.1\r\n"
        "Host: localhost:8080\r\n"
        "Connection: keep-alive, Upgrade\r\n"
        "Pragma: no-cache\r\n"
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64) \xc3\xa9t\xc3\xa9\r\n"
        "Upgrade: websocket\r\n"
        "Origin: http://localhost:8080\r\n"
        "Sec-WebSocket-Version: 13\r\n"
        "Accept-Encoding: gzip, deflate, br\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
        "\r\n";
    check_complete(ws);
    CHECK(field_is(req.method, req.method_len, "GET"));
    CHECK(field_is(req.target, req.target_len, "/websocket?userId=alice&token=a.b.c"));
    CHECK(req.minor_version == 1);
    CHECK(req.num_headers == 10);
    CHECK(header_is("upgrade", "websocket"));
    CHECK(header_is("SEC-WEBSOCKET-KEY", "dGhlIHNhbXBsZSBub25jZQ=="));
    CHECK(header_is("user-agent", "Mozilla/5.0 (X11; Linux x86_64) \xc3\xa9t\xc3\xa9"));
    CHECK(http_header_find(&req, "Cookie") == NULL);
    CHECK(http_header_find(&req, "Upgrad") == NULL);

    const char *curl =
        "GET /healthz HTTP/1.0\r\n"
        "Host: 127.0.0.1:8080\r\n"
        "User-Agent: curl/7.88.1\r\n"
        "Accept: */*\r\n"
        "\r\n";
    check_complete(curl);
    CHECK(field_is(req.target, req.target_len, "/healthz"));
    CHECK(req.minor_version == 0);
    CHECK(req.num_headers == 3);

    /* The body is not part of the head; whatever follows it is left alone. */
    const char *post =
        "POST /api/push HTTP/1.1\r\n"
        "Host: x\r\n"
        "Authorization: Bearer k\r\n"
        "Content-Type: application/json\r\n"
        "Content-Length: 16\r\n"
        "\r\n"
        "{\"messageType\":2}";
    check_complete(post);
    CHECK(field_is(req.method, req.method_len, "POST"));
    CHECK(header_is("authorization", "Bearer k"));
    size_t body = 99;
    CHECK(http_content_length(&req, 1 << 20, &body) == 0 && body == 16);

    /* Values lose the spaces and tabs around them, keep those inside; an
     * empty value is a value; obs-text (bytes >= 0x80) is allowed. */
    const char *spaced = "GET / HTTP/1.1\r\nA: \t x \t y\t \r\nB:\r\nC:z\r\nD: \xff\r\n\r\n";
    check_complete(spaced);
    CHECK(header_is("a", "x \t y") && header_is("b", "") && header_is("c", "z"));
    CHECK(header_is("d", "\xff"));

    /* The first of repeated headers is the one found. */
    CHECK(http_parse_request("GET / HTTP/1.1\r\nX: 1\r\nx: 2\r\n\r\n", 30, &req) == 30);
    CHECK(header_is("X", "1"));
    CHECK(http_header_count(&req, "x") == 2 && http_header_count(&req, "host") == 0);

    /* Any token is a method; the server decides which it serves. */
    check_complete("M-SEARCH! /a%20b?q HTTP/1.1\r\n\r\n");
    CHECK(field_is(req.method, req.method_len, "M-SEARCH!") && req.num_headers == 0);
}

/* RFC 9112 section 2.2: a bare LF ends a line as well as CRLF does. */
static void test_bare_lf(void)
{
    const char *lf = "GET /a HTTP/1.1\nHost: x\nUpgrade: websocket\n\n";
    size_t len = strlen(lf);

    CHECK(first_answer(lf, len, (int)len) == len);
    CHECK(http_parse_request(lf, len, &req) == (int)len);
    CHECK(req.num_headers == 2 && header_is("host", "x") && header_is("upgrade", "websocket"));

    const char *mixed = "GET /a HTTP/1.1\r\nHost: x\n\r\n";
    len = strlen(mixed);
    CHECK(first_answer(mixed, len, (int)len) == len);
    CHECK(http_parse_request(mixed, len, &req) == (int)len && header_is("host", "x"));
}

/* Each bad input gets its status once its bytes tell (the offending header
 * line complete, or a byte no request line may hold), and every longer
 * prefix keeps it. */
static void check_bad(const char *s, size_t known_at)
{
    CHECK(first_answer(s, strlen(s), -400) == known_at);
}

static void test_malformed(void)
{
    /* The request line: known at the first byte that cannot continue one
     * (a TLS ClientHello or noise need no line end to be refused), or at its
     * LF where only the whole line tells. */
    check_bad("G@T / HTTP/1.1\r\n\r\n", 2);
    check_bad(" / HTTP/1.1\r\n\r\n", 1);
    check_bad("GET  / HTTP/1.1\r\n\r\n", 5);
    check_bad("GET / HTTP/1.1 \r\n\r\n", 15);
    check_bad("GET /\r\n\r\n", 7);
    check_bad("GET\r\n\r\n", 5);
    check_bad("\r\nGET / HTTP/1.1\r\n\r\n", 2);
    check_bad("\nGET / HTTP/1.1\r\n\r\n", 1);
    check_bad("GET http://h/ HTTP/1.1\r\n\r\n", 5);
    check_bad("OPTIONS * HTTP/1.1\r\n\r\n", 9);
    check_bad("GET /a\x01 HTTP/1.1\r\n\r\n", 7);
    check_bad("GET /\xc3\xa9 HTTP/1.1\r\n\r\n", 6);
    check_bad("GET / HTTP/2.0\r\n\r\n", 12);
    check_bad("GET / HTTP/1.2\r\n\r\n", 14);
    check_bad("GET / http/1.1\r\n\r\n", 7);
    check_bad("GET / HTTP/1.10\r\n\r\n", 15);
    check_bad("GET / HTTP/1.1\r\r\n\r\n", 16);
    check_bad("GET / HTTP/1.1\rX: y\r\n\r\n", 16);

    /* Header lines: known when the line's LF (at 16 + its length) arrives. */
    check_bad("GET / HTTP/1.1\r\nHo st: x\r\n\r\n", 26);
    check_bad("GET / HTTP/1.1\r\nHost : x\r\n\r\n", 26);
    check_bad("GET / HTTP/1.1\r\nHost x\r\n\r\n", 24);
    check_bad("GET / HTTP/1.1\r\nHost\r\n\r\n", 22);
    check_bad("GET / HTTP/1.1\r\n: x\r\n\r\n", 21);
    check_bad("GET / HTTP/1.1\r\nH\xc3\xa9: x\r\n\r\n", 24);
    check_bad("GET / HTTP/1.1\r\n X: y\r\n\r\n", 23);
    check_bad("GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n", 26);
    check_bad("GET / HTTP/1.1\r\nX: a\x01" "b\r\n\r\n", 24);
    check_bad("GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n", 23);
    check_bad("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", 24);
    check_bad("GET / HTTP/1.1\r\nX: a\r\r\n\r\n", 23);
    check_bad("GET / HTTP/1.1\r\n\r\r\n\r\n", 19);

    /* A TLS ClientHello on the plain port: refused at its first byte. */
    const char hello[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";
    CHECK(first_answer(hello, sizeof hello - 1, -400) == 1);
    /* Found by fuzzing: a line too long to be a request line, but no
     * request line from its first byte, is 400 whether its LF has come or
     * not (it was 414 once the LF came, 400 before). */
    static char noise[HTTP_MAX_REQUEST_LINE + 8];
    memset(noise, 'b', sizeof noise);
    noise[0] = (char)0xBA;
    memcpy(noise + HTTP_MAX_REQUEST_LINE + 1, "\n\n", 3);
    CHECK(first_answer(noise, HTTP_MAX_REQUEST_LINE + 3, -400) == 1);
    /* A prefix that may still become a request line waits for more. */
    CHECK(http_parse_request("GE", 2, &req) == 0);
    CHECK(http_parse_request("GET /a?b HTTP/1.", 16, &req) == 0);
    CHECK(http_parse_request("GET /a?b HTTP/1.1\r", 18, &req) == 0);

    /* NUL bytes in a value, a method, a name. */
    const char nul_value[] = "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n";
    CHECK(first_answer(nul_value, sizeof nul_value - 1, -400) == 24);
    const char nul_method[] = "G\0T / HTTP/1.1\r\n\r\n";
    CHECK(first_answer(nul_method, sizeof nul_method - 1, -400) == 2);
    const char nul_name[] = "GET / HTTP/1.1\r\nX\0: a\r\n\r\n";
    CHECK(first_answer(nul_name, sizeof nul_name - 1, -400) == 23);

    /* Only the first bad line counts: the head stays bad whatever follows. */
    check_bad("GET / HTTP/1.1\r\nBad line\r\nX: y\r\n\r\n", 26);
}

/* Builds "GET /aaa... HTTP/1.1" whose length is exactly line_len. */
static size_t request_line(char *out, size_t line_len)
{
    const char *version = " HTTP/1.1";
    size_t target = line_len - 4 - strlen(version);

    memcpy(out, "GET /", 5);
    memset(out + 5, 'a', target - 1);
    memcpy(out + 4 + target, version, strlen(version));
    return line_len;
}

static void test_request_line_limit(void)
{
    static char s[HTTP_MAX_REQUEST_LINE + 64];
    size_t n = request_line(s, HTTP_MAX_REQUEST_LINE);

    memcpy(s + n, "\r\n\r\n", 4);
    CHECK(first_answer(s, n + 4, (int)n + 4) == n + 4);
    CHECK(req.target_len == HTTP_MAX_REQUEST_LINE - 13);
    memcpy(s + n, "\n\n", 2);
    CHECK(first_answer(s, n + 2, (int)n + 2) == n + 2);

    /* One byte more is refused as soon as that byte is seen, without
     * waiting for the line's end. */
    n = request_line(s, HTTP_MAX_REQUEST_LINE + 1);
    memcpy(s + n, "\r\n\r\n", 4);
    CHECK(first_answer(s, n + 4, -414) == HTTP_MAX_REQUEST_LINE + 1);
    memcpy(s + n, "\n\n", 2);
    CHECK(first_answer(s, n + 2, -414) == HTTP_MAX_REQUEST_LINE + 1);

    /* A line with no end at all is refused at the same byte. */
    memset(s, 'a', sizeof s);
    CHECK(first_answer(s, sizeof s, -414) == HTTP_MAX_REQUEST_LINE + 1);
}

/* Appends "GET / HTTP/1.1\r\n" and count headers "Hnn: v\r\n" to out. */
static size_t headers(char *out, int count)
{
    size_t n = (size_t)sprintf(out, "GET / HTTP/1.1\r\n");

    for (int i = 0; i < count; i++)
        n += (size_t)sprintf(out + n, "H%02d: v\r\n", i);
    return n;
}

static void test_header_limits(void)
{
    static char s[HTTP_MAX_HEAD + 64];
    size_t n = headers(s, HTTP_MAX_HEADERS);

    memcpy(s + n, "\r\n", 2);
    CHECK(first_answer(s, n + 2, (int)n + 2) == n + 2);
    CHECK(http_parse_request(s, n + 2, &req) == (int)n + 2);
    CHECK(req.num_headers == HTTP_MAX_HEADERS && header_is("h31", "v"));

    n = headers(s, HTTP_MAX_HEADERS + 1);
    memcpy(s + n, "\r\n", 2);
    CHECK(first_answer(s, n + 2, -431) == n);

    /* A head of exactly HTTP_MAX_HEAD bytes: pad one header's value. */
    n = (size_t)sprintf(s, "GET / HTTP/1.1\r\nX: ");
    memset(s + n, 'v', HTTP_MAX_HEAD - n - 4);
    memcpy(s + HTTP_MAX_HEAD - 4, "\r\n\r\n", 4);
    CHECK(first_answer(s, HTTP_MAX_HEAD, HTTP_MAX_HEAD) == HTTP_MAX_HEAD);
    CHECK(req.headers[0].value_len == HTTP_MAX_HEAD - n - 4);

    /* One more byte in that value, and the head is refused as soon as byte
     * HTTP_MAX_HEAD + 1 arrives, though its blank line is not there yet. */
    memset(s + n, 'v', HTTP_MAX_HEAD - n - 3);
    memcpy(s + HTTP_MAX_HEAD - 3, "\r\n\r\n", 4);
    CHECK(first_answer(s, HTTP_MAX_HEAD + 1, -431) == HTTP_MAX_HEAD + 1);

    /* A client trickling an endless header is answered at the limit, not
     * buffered for ever. */
    memset(s + n, 'v', sizeof s - n);
    CHECK(first_answer(s, sizeof s, -431) == HTTP_MAX_HEAD + 1);
}

static void test_has_token(void)
{
    const char *v = "keep-alive, Upgrade";

    CHECK(http_has_token(v, strlen(v), "upgrade"));
    CHECK(http_has_token(v, strlen(v), "KEEP-ALIVE"));
    CHECK(!http_has_token(v, strlen(v), "close"));
    CHECK(!http_has_token(v, strlen(v), "upgrad"));
    CHECK(!http_has_token(v, strlen(v), "keep-alive, Upgrade"));
    CHECK(http_has_token("Upgrade", 7, "upgrade"));
    CHECK(http_has_token(" ,\t upgrade \t, ,", 16, "upgrade"));
    CHECK(!http_has_token("upgrades", 8, "upgrade"));
    CHECK(!http_has_token("up grade", 8, "upgrade"));
    CHECK(!http_has_token("", 0, "upgrade"));
    /* Only len bytes count: "upgrade" is cut to "upgr". */
    CHECK(!http_has_token("close, upgrade", 11, "upgrade"));
}

static void test_percent_decode(void)
{
    char out[16];

    CHECK(http_percent_decode("a%2e%2Eb", 8, out, sizeof out, false) == 4);
    CHECK(memcmp(out, "a..b", 4) == 0);
    CHECK(http_percent_decode("%00", 3, out, sizeof out, false) == 1 && out[0] == '\0');
    CHECK(http_percent_decode("%C3%A9", 6, out, sizeof out, false) == 2);
    CHECK(memcmp(out, "\xc3\xa9", 2) == 0);
    CHECK(http_percent_decode("a+b%2B", 6, out, sizeof out, true) == 4);
    CHECK(memcmp(out, "a b+", 4) == 0);
    CHECK(http_percent_decode("a+b", 3, out, sizeof out, false) == 3);
    CHECK(memcmp(out, "a+b", 3) == 0);
    CHECK(http_percent_decode("", 0, out, sizeof out, false) == 0);

    /* Bad escapes: short, not hex, signed. */
    CHECK(http_percent_decode("%", 1, out, sizeof out, false) == -1);
    CHECK(http_percent_decode("a%4", 3, out, sizeof out, false) == -1);
    CHECK(http_percent_decode("%g0", 3, out, sizeof out, false) == -1);
    CHECK(http_percent_decode("%-1", 3, out, sizeof out, false) == -1);
    CHECK(http_percent_decode("%+1", 3, out, sizeof out, true) == -1);
    /* An escape cut by len is bad even if more bytes follow in memory. */
    CHECK(http_percent_decode("%41", 2, out, sizeof out, false) == -1);

    /* Output room: exactly enough, then one short. */
    CHECK(http_percent_decode("abc", 3, out, 3, false) == 3);
    CHECK(http_percent_decode("abc", 3, out, 2, false) == -1);
    CHECK(http_percent_decode("%41%42", 6, out, 2, false) == 2);
    CHECK(http_percent_decode("%41%42", 6, out, 1, false) == -1);

    /* Every prefix of an escape, from the end of a heap block. */
    const char *s = "x%2F";
    for (size_t n = 0; n <= 4; n++) {
        char *copy = check_tail_copy(s, n);
        long r = http_percent_decode(copy, n, out, sizeof out, false);
        CHECK(r == (n == 2 || n == 3 ? -1 : n == 4 ? 2 : (long)n));
        free(copy);
    }
}

static long query(const char *target, const char *name, char *out, size_t cap)
{
    char *copy = check_tail_copy(target, strlen(target));
    long r = http_query_get(copy, strlen(target), name, out, cap);

    free(copy);
    return r;
}

static void test_query(void)
{
    const char *t = "/websocket?userId=al%69ce+b&token=x.y.z&since=42&empty=&flag&userId=bob";
    char out[32];

    CHECK(query(t, "userId", out, sizeof out) == 7 && memcmp(out, "alice b", 7) == 0);
    CHECK(query(t, "token", out, sizeof out) == 5 && memcmp(out, "x.y.z", 5) == 0);
    CHECK(query(t, "since", out, sizeof out) == 2 && memcmp(out, "42", 2) == 0);
    CHECK(query(t, "empty", out, sizeof out) == 0);
    CHECK(query(t, "flag", out, sizeof out) == 0);
    CHECK(query(t, "user", out, sizeof out) == -1);
    CHECK(query(t, "userid", out, sizeof out) == -1);
    CHECK(query(t, "websocket", out, sizeof out) == -1);
    CHECK(query(t, "", out, sizeof out) == -1);

    /* Names are decoded before they are compared. */
    CHECK(query("/?user%49d=a", "userId", out, sizeof out) == 1 && out[0] == 'a');
    CHECK(query("/?my+name=a", "my name", out, sizeof out) == 1);
    CHECK(query("/?%zz=a&x=b", "x", out, sizeof out) == 1 && out[0] == 'b');
    CHECK(query("/?user=a&userId=b", "userId", out, sizeof out) == 1 && out[0] == 'b');

    /* A bad or oversized value is malformed, not absent. */
    CHECK(query("/?userId=a%2", "userId", out, sizeof out) == -2);
    CHECK(query("/?userId=abcd", "userId", out, 3) == -2);
    CHECK(query("/?userId=abc", "userId", out, 3) == 3);

    /* No query, an empty one, stray '&'s; and only len bytes are read. */
    CHECK(query("/websocket", "userId", out, sizeof out) == -1);
    CHECK(query("/?", "userId", out, sizeof out) == -1);
    CHECK(query("/?&&x=1&", "x", out, sizeof out) == 1 && out[0] == '1');
    CHECK(query("/?x=1&", "", out, sizeof out) == -1);
    CHECK(query("/?&=v", "", out, sizeof out) == 1 && out[0] == 'v');
    CHECK(http_query_get("/?x=12", 5, "x", out, sizeof out) == 1 && out[0] == '1');
    CHECK(http_query_get("/?x=12", 3, "x", out, sizeof out) == 0);

    /* The path stops at the first '?'. */
    CHECK(http_path_len("/a/b?c?d", 8) == 4);
    CHECK(http_path_len("/a/b", 4) == 4);
    CHECK(http_path_len("/?", 2) == 1);
    CHECK(http_path_len("/a?b", 2) == 2);
}

static int content_length(const char *head, size_t max, size_t *out)
{
    int r = http_parse_request(head, strlen(head), &req);

    return r > 0 ? http_content_length(&req, max, out) : -99;
}

static void test_content_length(void)
{
    size_t n = 99;

    CHECK(content_length("POST / HTTP/1.1\r\n\r\n", 10, &n) == 0 && n == 0);
    CHECK(content_length("POST / HTTP/1.1\r\ncontent-length: 10\r\n\r\n", 10, &n) == 0 && n == 10);
    CHECK(content_length("POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n", 10, &n) == -1);
    CHECK(content_length("POST / HTTP/1.1\r\nContent-Length: 007\r\n\r\n", 10, &n) == 0 && n == 7);
    CHECK(content_length("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 0, &n) == 0 && n == 0);
    CHECK(content_length("POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\n", 0, &n) == -1);
    CHECK(content_length("POST / HTTP/1.1\r\nContent-Length: 5\r\nX: y\r\n"
                         "CONTENT-LENGTH: 5\r\n\r\n", 10, &n) == 0 && n == 5);
    CHECK(content_length("POST / HTTP/1.1\r\nContent-Length: 5\r\n"
                         "Content-Length: 6\r\n\r\n", 10, &n) == -1);
    CHECK(content_length("POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n", 10, &n) == -1);
    CHECK(content_length("POST / HTTP/1.1\r\nContent-Length: \r\n\r\n", 10, &n) == -1);
    CHECK(content_length("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 10, &n) == -1);
    CHECK(content_length("POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\n", 10, &n) == -1);
    CHECK(content_length("POST / HTTP/1.1\r\nContent-Length: 0x1\r\n\r\n", 10, &n) == -1);

    /* No overflow however many digits, even with max at its largest. */
    char head[128];
    snprintf(head, sizeof head, "POST / HTTP/1.1\r\nContent-Length: %zu\r\n\r\n", SIZE_MAX);
    CHECK(content_length(head, SIZE_MAX, &n) == 0 && n == SIZE_MAX);
    snprintf(head, sizeof head, "POST / HTTP/1.1\r\nContent-Length: %zu0\r\n\r\n", SIZE_MAX);
    CHECK(content_length(head, SIZE_MAX, &n) == -1);
    CHECK(content_length("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
                         SIZE_MAX, &n) == -1);
}

int main(void)
{
    test_typical();
    test_bare_lf();
    test_malformed();
    test_request_line_limit();
    test_header_limits();
    test_has_token();
    test_percent_decode();
    test_query();
    test_content_length();
    return check_summary("http");
}

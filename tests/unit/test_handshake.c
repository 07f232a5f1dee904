/* test_handshake.c - unit tests for handshake.c: every reason a request is
 * refused, with its status, and what an accepted one yields (the accept key
 * of RFC 6455 §1.3, the decoded userId, since). Requests go through the real
 * parser, as the server sees them. */
#include "tests/unit/check.h"
#include "handshake.h"

/* jwt.io's example token: sub "1234567890", HS256 with this secret. */
#define JWT_IO "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." \
               "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ." \
               "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
#define JWT_IO_SECRET "your-256-bit-secret"

static const char GOOD_HEADERS[] = "Host: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                   "Sec-WebSocket-Version: 13\r\n";

static struct config base(void)
{
    return (struct config){.max_connections = 10};
}

/* Runs request line + headers (+ the blank line) through the parser and the
 * handshake; the status, with hs filled in. */
static int check_with(const struct config *cfg, bool echo, size_t open, const char *line,
                      const char *headers, struct handshake *hs)
{
    static char buf[8192];
    snprintf(buf, sizeof buf, "%s\r\n%s\r\n", line, headers);
    struct http_request req;
    if (http_parse_request(buf, strlen(buf), &req) <= 0)
        return -1;
    handshake_check(&req, echo, cfg, open, 1700000000, hs);
    return hs->status;
}

static int status_of(const char *line, const char *headers)
{
    struct config cfg = base();
    struct handshake hs;
    return check_with(&cfg, false, 0, line, headers, &hs);
}

static void test_accepted(void)
{
    struct config cfg = base();
    struct handshake hs;
    CHECK(check_with(&cfg, false, 0, "GET /websocket?userId=al%20ice&since=42 HTTP/1.1", GOOD_HEADERS, &hs) == 101);
    CHECK(strcmp(hs.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0); /* RFC 6455 §1.3 */
    CHECK(hs.user_len == 6 && memcmp(hs.user, "al ice", 6) == 0);
    CHECK(hs.since == 42 && hs.why == NULL && hs.extra == NULL);
    CHECK(check_with(&cfg, false, 0, "GET /websocket?userId=%E6%9D%8E HTTP/1.1", GOOD_HEADERS, &hs) == 101);
    CHECK(hs.user_len == 3 && hs.since == 0);
    /* 64 bytes is the most a userId may have */
    char line[256];
    snprintf(line, sizeof line, "GET /websocket?userId=%064d HTTP/1.1", 7);
    CHECK(status_of(line, GOOD_HEADERS) == 101);
    snprintf(line, sizeof line, "GET /websocket?userId=%065d HTTP/1.1", 7);
    CHECK(status_of(line, GOOD_HEADERS) == 400);
    /* header names and tokens are case-insensitive; Connection is a list */
    CHECK(status_of("GET /websocket?userId=a HTTP/1.1",
                    "host: x\r\nupgrade: WebSocket\r\nconnection: keep-alive, UPGRADE\r\n"
                    "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n") == 101);
    /* /echo takes no userId */
    CHECK(check_with(&cfg, true, 0, "GET /echo HTTP/1.1", GOOD_HEADERS, &hs) == 101);
}

static void test_not_a_handshake(void)
{
    const char *line = "GET /websocket?userId=a HTTP/1.1";
    struct config cfg = base();
    struct handshake hs;
    CHECK(status_of("POST /websocket?userId=a HTTP/1.1", GOOD_HEADERS) == 405);
    CHECK(status_of("GET /websocket?userId=a HTTP/1.0", GOOD_HEADERS) == 400);
    CHECK(status_of(line, "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n") == 400);
    CHECK(status_of(line, "Host: x\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n") == 400);
    CHECK(status_of(line, "Host: x\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n") == 400);
    CHECK(status_of(line, "Host: x\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n"
                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n") == 400);
    CHECK(status_of(line, "Host: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n") == 400);
    CHECK(status_of(line, "Host: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Version: 13\r\n") == 400);
    CHECK(status_of(line, "Host: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Key: dGhlIHNhbXBsZQ==\r\nSec-WebSocket-Version: 13\r\n") == 400);
    CHECK(check_with(&cfg, false, 0, line, "Host: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n", &hs) == 426);
    CHECK(hs.extra && strcmp(hs.extra, "Sec-WebSocket-Version: 13\r\n") == 0);
    /* the handshake's own headers, twice */
    char twice[1024];
    snprintf(twice, sizeof twice, "%sHost: y\r\n", GOOD_HEADERS);
    CHECK(status_of(line, twice) == 400);
    snprintf(twice, sizeof twice, "%sSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n", GOOD_HEADERS);
    CHECK(status_of(line, twice) == 400);
    snprintf(twice, sizeof twice, "%ssec-websocket-version: 13\r\n", GOOD_HEADERS);
    CHECK(status_of(line, twice) == 400);
}

static void test_user(void)
{
    static const char *const bad[] = {
        "GET /websocket HTTP/1.1",                   /* missing */
        "GET /websocket?user=a HTTP/1.1",            /* missing */
        "GET /websocket?userId= HTTP/1.1",           /* empty */
        "GET /websocket?userId=%zz HTTP/1.1",        /* bad escape */
        "GET /websocket?userId=%C3%28 HTTP/1.1",     /* not UTF-8 */
        "GET /websocket?userId=a%00b HTTP/1.1",      /* NUL */
        "GET /websocket?userId=a%0Ab HTTP/1.1",      /* C0 */
        "GET /websocket?userId=a%7F HTTP/1.1",       /* DEL */
        "GET /websocket?userId=a%C2%85 HTTP/1.1",    /* C1 (NEL) */
        "GET /websocket?userId=a&since=x HTTP/1.1",  /* since not a number */
        "GET /websocket?userId=a&since= HTTP/1.1",
        "GET /websocket?userId=a&since=-1 HTTP/1.1",
        "GET /websocket?userId=a&since=18446744073709551616 HTTP/1.1", /* 2^64 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct config cfg = base();
        struct handshake hs;
        CHECK(check_with(&cfg, false, 0, bad[i], GOOD_HEADERS, &hs) == 400);
        CHECK(hs.why && hs.why[0] != '\0' && !strchr(hs.why, '\n'));
    }
    CHECK(status_of("GET /websocket?userId=a%C2%A0 HTTP/1.1", GOOD_HEADERS) == 101); /* NBSP is no control */
    CHECK(status_of("GET /websocket?userId=a&since=18446744073709551615 HTTP/1.1", GOOD_HEADERS) == 101);
}

static void test_token(void)
{
    struct config cfg = base();
    cfg.secret = JWT_IO_SECRET;
    struct handshake hs;
    CHECK(check_with(&cfg, false, 0, "GET /websocket?userId=1234567890&token=" JWT_IO " HTTP/1.1",
                     GOOD_HEADERS, &hs) == 101);
    CHECK(check_with(&cfg, false, 0, "GET /websocket?userId=1234567890 HTTP/1.1", GOOD_HEADERS, &hs) == 401);
    CHECK(strcmp(hs.why, "token is missing") == 0);
    CHECK(hs.extra && strcmp(hs.extra, "WWW-Authenticate: Bearer\r\n") == 0);
    /* someone else's token */
    CHECK(check_with(&cfg, false, 0, "GET /websocket?userId=alice&token=" JWT_IO " HTTP/1.1",
                     GOOD_HEADERS, &hs) == 401);
    CHECK(check_with(&cfg, false, 0, "GET /websocket?userId=1234567890&token=x.y.z HTTP/1.1",
                     GOOD_HEADERS, &hs) == 401);
    /* the wrong secret */
    cfg.secret = "another-secret";
    CHECK(check_with(&cfg, false, 0, "GET /websocket?userId=1234567890&token=" JWT_IO " HTTP/1.1",
                     GOOD_HEADERS, &hs) == 401);
    /* /echo needs none */
    CHECK(check_with(&cfg, true, 0, "GET /echo HTTP/1.1", GOOD_HEADERS, &hs) == 101);
}

static void test_policy(void)
{
    struct config cfg = base();
    struct handshake hs;
    strcpy(cfg.origins[0], "https://chat.example");
    cfg.num_origins = 1;
    char headers[1024];
    snprintf(headers, sizeof headers, "%sOrigin: https://CHAT.example\r\n", GOOD_HEADERS);
    CHECK(check_with(&cfg, false, 0, "GET /websocket?userId=a HTTP/1.1", headers, &hs) == 101);
    snprintf(headers, sizeof headers, "%sOrigin: https://evil.example\r\n", GOOD_HEADERS);
    CHECK(check_with(&cfg, false, 0, "GET /websocket?userId=a HTTP/1.1", headers, &hs) == 403);
    /* no Origin at all is not a browser: the list does not apply */
    CHECK(check_with(&cfg, false, 0, "GET /websocket?userId=a HTTP/1.1", GOOD_HEADERS, &hs) == 101);
    cfg.num_origins = 0;
    CHECK(check_with(&cfg, false, 9, "GET /websocket?userId=a HTTP/1.1", GOOD_HEADERS, &hs) == 101);
    CHECK(check_with(&cfg, false, 10, "GET /websocket?userId=a HTTP/1.1", GOOD_HEADERS, &hs) == 503);
    CHECK(check_with(&cfg, true, 10, "GET /echo HTTP/1.1", GOOD_HEADERS, &hs) == 503);
    /* room is told before identity: no token is checked when there is none */
    CHECK(check_with(&cfg, false, 10, "GET /websocket HTTP/1.1", GOOD_HEADERS, &hs) == 503);
}

/* handshake_admit: pusher's own conditions, without the upgrade's headers,
 * as GET /api/preflight asks them. */
static int admit(const struct config *cfg, size_t open, const char *target, const char *origin,
                 struct handshake *hs)
{
    static char buf[8192];
    snprintf(buf, sizeof buf, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", target);
    struct http_request req;
    if (http_parse_request(buf, strlen(buf), &req) <= 0)
        return -1;
    handshake_admit(&req, false, origin, origin ? strlen(origin) : 0, cfg, open, 1700000000, hs);
    return hs->status;
}

static void test_admit(void)
{
    struct config cfg = base();
    struct handshake hs;
    CHECK(admit(&cfg, 0, "/api/preflight?userId=a+b", NULL, &hs) == 101);
    CHECK(hs.user_len == 3 && memcmp(hs.user, "a b", 3) == 0);
    CHECK(admit(&cfg, 0, "/api/preflight", NULL, &hs) == 400 && strstr(hs.why, "missing"));
    CHECK(admit(&cfg, 0, "/api/preflight?userId=a&since=x", NULL, &hs) == 400);
    strcpy(cfg.origins[0], "https://chat.example");
    cfg.num_origins = 1;
    CHECK(admit(&cfg, 0, "/api/preflight?userId=a", "https://chat.example", &hs) == 101);
    CHECK(admit(&cfg, 0, "/api/preflight?userId=a", "https://evil.example", &hs) == 403);
    CHECK(admit(&cfg, 0, "/api/preflight?userId=a", NULL, &hs) == 101);
    CHECK(admit(&cfg, 10, "/api/preflight?userId=a", NULL, &hs) == 503);
    cfg.secret = "s";
    CHECK(admit(&cfg, 0, "/api/preflight?userId=a", NULL, &hs) == 401 &&
          strcmp(hs.why, "token is missing") == 0);
}

int main(void)
{
    test_admit();
    test_accepted();
    test_not_a_handshake();
    test_user();
    test_token();
    test_policy();
    return check_summary("handshake");
}

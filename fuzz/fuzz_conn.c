/* fuzz_conn.c - libFuzzer harness for a whole server connection: the bytes a
 * client sends, as the server's read() sees them, through the real event
 * loop, conn.c, server.c (HTTP, the handshake, the endpoints), session.c and
 * connmgr.c, its output batched through io_uring as the default backend does.
 *
 * Each input opens a socketpair, hands one end to conn_accept() and writes
 * the input into the other in pieces, turning the loop after each (loop_wait
 * with timeout 0, twice, so its before-sleep hook writes the output) and
 * reading what the server sends. At
 * the end it hangs up and turns the loop until the connection is reaped, so
 * whatever a connection leaks shows up under LeakSanitizer.
 *
 * The first input byte is a knob:
 *   bits 0-1  a handshake written first: none (the input brings its own),
 *             /websocket as alice, /echo, or /websocket with a token
 *   bits 2-3  the pieces the input is written in, after the handshake: all
 *             at once, or 1, 5 or 64 bytes (for its first PIECES_MAX bytes;
 *             the rest goes at once, to stay fast)
 *   bit 4     another user, bob, connects first (routing, presence)
 *   bit 5     tight limits: 1 KiB of pending output, 1 message/s, bursts of 3
 *   bit 6     a token secret, an API key and an allowed origin are set
 *   bit 7     with bob: bob reads nothing until the end (a slow reader);
 *             without him: the port speaks TLS, so the first byte picks
 *             TLS (0x16, into OpenSSL) or plain (answered 301 or 400)
 * Client frames must be masked; the corpus masks with the zero key, so the
 * fuzzer sees and mutates payloads in the clear.
 *
 * Properties, beyond memory safety and leaks: what the server sends is well
 * formed, either one HTTP answer whose body fits its Content-Length, or a
 * 101 and then whole, unmasked, unfragmented frames (RFC 6455 section 5),
 * whose text is UTF-8 and, on a chat connection, a Message message_read
 * reads, with a close frame only last and only with a code one may send.
 * Every connection is reaped once its peer hangs up, and the user table is
 * empty again. On a TLS port, plain bytes are answered 301 or 4xx, never
 * 101, and TLS bytes get TLS records (OpenSSL's) or nothing. */
#include <errno.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "config.h"
#include "conn.h"
#include "connmgr.h"
#include "history.h"
#include "fuzz/fuzz.h"
#include "http.h"
#include "json.h"
#include "message.h"
#include "jwt.h"
#include "log.h"
#include "loop.h"
#include "server.h"
#include "tls.h"
#include "ws.h"

enum {
    KNOB_PREFIX = 3,            /* bits 0-1: which handshake comes first */
    KNOB_PIECES_SHIFT = 2,      /* bits 2-3: the size of the pieces written */
    KNOB_BOB = 16,              /* bob connects first */
    KNOB_TIGHT = 32,            /* small output and rate limits */
    KNOB_AUTH = 64,             /* secret, API key, allowed origin */
    KNOB_BOB_STALLS = 128,      /* bob reads only at the end */
    KNOB_TLS = 128,             /* without bob: the port speaks TLS */
};

#define PIECES_MAX 512          /* bytes written in small pieces, at most */
#define TURNS_MAX 64            /* turns to wait for quiet, or for the reaping */
#define KEEP_MAX (1u << 20)     /* output kept for the checks, per connection */
#define SECRET "fuzz-secret"
#define ORIGIN "https://chat.example"

static struct loop *loop;
static struct config base;      /* config_load's defaults, and a few of ours */
static struct config cfg;       /* what the server reads: base plus the knob */
static char prefixes[4][1024]; /* the handshakes knob bits 0-1 choose */
static char bob_hello[1024];   /* bob's, with his token and since past all history */
static char tls_cert_path[64]; /* what cfg.tls_cert says on a TLS port (loaded at start) */

/* Our end of one connection, and what the server sent down it. */
struct peer {
    int fd;                     /* -1 when there is none */
    bool echo;                  /* an /echo connection: binary allowed, no JSON */
    bool eof;                   /* the server shut its side down */
    uint8_t *out;               /* what it sent, up to KEEP_MAX bytes */
    size_t len, cap;            /* bytes in out, and room */
};

/* ---- Set-up -------------------------------------------------------------- */

/* A token for user signed with SECRET, without exp. */
static void make_token(const char *user, char *out)
{
    char claims[128];
    uint8_t mac[JWT_HMAC_LEN];
    int n = snprintf(claims, sizeof claims, "{\"sub\":\"%s\"}", user);
    size_t len = fuzz_b64url("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", 27, out);

    out[len++] = '.';
    len += fuzz_b64url(claims, (size_t)n, out + len);
    jwt_hmac_sha256((const uint8_t *)SECRET, sizeof SECRET - 1, out, len, mac);
    out[len++] = '.';
    fuzz_b64url(mac, sizeof mac, out + len);
}

static void make_hello(char *out, size_t cap, const char *target)
{
    snprintf(out, cap,
             "GET %s HTTP/1.1\r\nHost: localhost:8080\r\nOrigin: " ORIGIN "\r\n"
             "Upgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
             target);
}

/* A throwaway self-signed certificate for the TLS knob, loaded once: a
 * temporary file for tls_load to read, removed once it has. */
static void load_certificate(void)
{
    char dir[] = "/tmp/fuzz_conn_XXXXXX", key[64], why[256];
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    X509 *x = X509_new();

    EXPECT(mkdtemp(dir) && pk && x);
    snprintf(tls_cert_path, sizeof tls_cert_path, "%s/cert.pem", dir);
    snprintf(key, sizeof key, "%s/key.pem", dir);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, pk);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"fuzz.invalid", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    EXPECT(X509_sign(x, pk, EVP_sha256()) > 0);
    FILE *fc = fopen(tls_cert_path, "w"), *fk = fopen(key, "w");
    EXPECT(fc && fk && PEM_write_X509(fc, x) && PEM_write_PrivateKey(fk, pk, NULL, NULL, 0, NULL, NULL));
    fclose(fc);
    fclose(fk);
    EXPECT(tls_load(tls_cert_path, key, why, sizeof why) == 0);
    unlink(tls_cert_path);
    unlink(key);
    rmdir(dir);
    X509_free(x);
    EVP_PKEY_free(pk);
}

/* The history full from the start, so that every input meets the same
 * server whatever ran before it (the history is replayed to each newcomer). */
static void fill_history(void)
{
    for (int i = 0; i < HISTORY_LEN; i++) {
        struct message m = {.message_type = 1, .from = {"", 0}, .to = {"", 0},
                            .content = {"earlier", 7}, .file_id = {"", 0}, .url = {"", 0}};
        char why[64];
        int queued;
        EXPECT(connmgr_push(&m, &queued, why, sizeof why) == 0);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char *args[] = {"fuzz_conn", NULL};
    char alice[256], bob[256], target[512];

    /* A peer that hangs up mid-write costs an EPIPE, as in pusher.c. */
    signal(SIGPIPE, SIG_IGN);
    EXPECT(config_load(&base, 1, args) == 0);
    base.max_connections = 8;   /* pusher.c derives it from the fd limit */
    base.echo = true;
    cfg = base;
    log_set_level(LOG_ERROR);
    loop = loop_create(1024, cfg.backend);
    EXPECT(loop && connmgr_init(1024, (size_t)cfg.max_connections, cfg.max_pending / 2,
                                 (size_t)cfg.max_rooms, 16) == 0);
    /* No listening socket: connections come from conn_accept() below. */
    EXPECT(server_init(loop, &cfg, -1, 16, 1024) == 0);
    /* As pusher.c does by default: a turn's writes go out by io_uring. */
    if (cfg.backend == BACKEND_URING)
        EXPECT(conn_batch_writes() == 0);
    fill_history();
    load_certificate();

    make_token("alice", alice);
    make_token("bob", bob);
    make_hello(prefixes[1], sizeof prefixes[1], "/websocket?userId=alice");
    make_hello(prefixes[2], sizeof prefixes[2], "/echo");
    snprintf(target, sizeof target, "/websocket?userId=alice&since=18446744073709551615&token=%s", alice);
    make_hello(prefixes[3], sizeof prefixes[3], target);
    snprintf(target, sizeof target, "/websocket?userId=bob&since=18446744073709551615&token=%s", bob);
    make_hello(bob_hello, sizeof bob_hello, target);
    return 0;
}

/* ---- Driving the loop ---------------------------------------------------- */

static void open_peer(struct peer *p)
{
    int sv[2];

    EXPECT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
    EXPECT(server_accept(sv[0]));
    p->fd = sv[1];
}

/* Reads all the server has sent p (if any); returns how many bytes. */
static size_t drain(struct peer *p)
{
    static uint8_t buf[65536];
    size_t got = 0;
    ssize_t n = -1;

    if (!p || p->fd < 0)
        return 0;
    while (!p->eof && (n = read(p->fd, buf, sizeof buf)) != 0) {
        if (n < 0) {
            EXPECT(errno == EAGAIN || errno == ECONNRESET);
            p->eof = errno == ECONNRESET;
            break;
        }
        got += (size_t)n;
        size_t keep = p->len + (size_t)n <= KEEP_MAX ? (size_t)n : KEEP_MAX - p->len;
        if (p->len + keep > p->cap) {
            p->cap = p->len + keep > 2 * p->cap ? p->len + keep : 2 * p->cap;
            p->out = realloc(p->out, p->cap);
            EXPECT(p->out);
        }
        memcpy(p->out + p->len, buf, keep);
        p->len += keep;
    }
    if (n == 0)
        p->eof = true;
    return got;
}

/* One turn, then the start of the next without waiting: the before-sleep
 * hook writes what the turn queued, as it would before the server slept. */
static int turn(void)
{
    int n = loop_wait(loop, 0);
    return n + loop_wait(loop, 0);
}

/* Turns the loop until nothing happens; false if it never got quiet. A quiet
 * loop has written all it will to whoever reads. */
static bool settle(struct peer *a, struct peer *b)
{
    for (int i = 0; i < TURNS_MAX; i++) {
        int ready = turn();
        size_t got = drain(a) + drain(b);
        if (ready == 0 && got == 0)
            return true;
    }
    return false;
}

/* Writes s to p: the first whole bytes at once, then pieces of piece bytes
 * (up to PIECES_MAX of them), then the rest; a loop turn after each write,
 * reading what comes back (from b too, if b reads). */
static void feed(struct peer *p, const uint8_t *s, size_t n, size_t whole, size_t piece,
                 struct peer *b)
{
    int stuck = 0;

    for (size_t off = 0; off < n && stuck < TURNS_MAX;) {
        size_t want = n - off;
        if (off < whole)
            want = whole - off;
        else if (off - whole < PIECES_MAX && piece < want)
            want = piece;
        ssize_t w = write(p->fd, s + off, want);
        if (w < 0 && errno != EAGAIN)
            break;              /* EPIPE: the server hung up */
        stuck = w > 0 ? 0 : stuck + 1;
        off += w > 0 ? (size_t)w : 0;
        turn();
        drain(p);
        drain(b);
    }
}

/* ---- What the server sent ------------------------------------------------ */

static const uint8_t *find(const uint8_t *p, size_t len, const char *what)
{
    return memmem(p, len, what, strlen(what));
}

/* Has this text been checked already? The history is replayed to every
 * newcomer, and checking its hundred Messages anew each time would cost
 * most of an input's time; a set of their hashes remembers them. */
static bool seen_before(const uint8_t *p, size_t len)
{
    static uint64_t seen[4096];
    uint64_t h = len, w;
    size_t i = 0;
    for (; len - i >= sizeof w; i += sizeof w) {     /* a word at a time: fast */
        memcpy(&w, p + i, sizeof w);
        h = (h ^ w) * 0x100000001b3u;
        h ^= h >> 29;
    }
    for (; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3u;
    h |= 1;                     /* 0 marks an empty slot */
    uint64_t *slot = &seen[h % (sizeof seen / sizeof seen[0])];
    bool hit = *slot == h;
    *slot = h;
    return hit;
}

/* One frame from the server: complete is false where the output may stop
 * short (the loop never got quiet). Returns its length, or 0 at the end. */
static size_t check_frame(const struct peer *p, const uint8_t *f, size_t left, bool complete)
{
    struct ws_header h;
    int r = ws_parse_header(f, left, false, &h);

    EXPECT(r >= 0);
    if (r == 0 || left - (size_t)r < h.len) {
        EXPECT(!complete);
        return 0;
    }
    EXPECT(!h.masked && h.fin);
    const uint8_t *payload = f + r;
    size_t len = (size_t)h.len;
    switch (h.opcode) {
    case WS_OP_TEXT:
        if (!p->echo && seen_before(payload, len))
            break;
        EXPECT(utf8_validate(UTF8_ACCEPT, payload, len) == UTF8_ACCEPT);
        if (!p->echo) {
            struct message m;
            char why[200], *scratch = malloc(len ? len : 1);
            int ok = message_read((const char *)payload, len, scratch, &m, why, sizeof why);
            if (ok != 0)
                fprintf(stderr, "not a Message (%s): %.*s\n", why, (int)len, payload);
            EXPECT(ok == 0 && m.message_type >= 0 && m.message_type <= 6);
            free(scratch);
        }
        break;
    case WS_OP_BINARY:
        EXPECT(p->echo);
        break;
    case WS_OP_CLOSE: {
        unsigned code;
        EXPECT(ws_parse_close(payload, len, &code) == 0);
        EXPECT((size_t)r + len == left);    /* nothing after a close (section 5.5.1) */
        break;
    }
    case WS_OP_PING:
    case WS_OP_PONG:
        break;
    default:
        EXPECT(!"a continuation frame from a server that never fragments");
    }
    return (size_t)r + len;
}

/* With FUZZ_CONN_DUMP set (replaying one input), shows what the server sent. */
static void dump(const char *who, const struct peer *p)
{
    if (!getenv("FUZZ_CONN_DUMP"))
        return;
    fprintf(stderr, "%s got %zu bytes:\n", who, p->len);
    for (size_t i = 0; i < p->len; i++)
        fprintf(stderr, p->out[i] >= ' ' && p->out[i] < 0x7f ? "%c" : "\\x%02x", p->out[i]);
    fprintf(stderr, "\n");
}

static void check_output(const struct peer *p, bool complete)
{
    if (p->len == 0 || p->len == KEEP_MAX)
        return;
    const uint8_t *out = p->out, *end = out + p->len;
    /* A TLS connection: OpenSSL's records (a handshake flight, an alert),
     * whose contents are its own. */
    if (cfg.tls_cert && (out[0] == 0x15 || out[0] == 0x16))
        return;
    EXPECT(p->len < 9 || memcmp(out, "HTTP/1.1 ", 9) == 0);
    const uint8_t *blank = find(out, p->len, "\r\n\r\n");
    if (!blank) {
        EXPECT(!complete);
        return;
    }
    const uint8_t *body = blank + 4;
    size_t head = (size_t)(body - out);
    int status = atoi((const char *)out + 9);
    /* Plain bytes on a TLS port: a redirect or a refusal, never a socket. */
    EXPECT(!cfg.tls_cert || status == 301 || (status >= 400 && status < 500));
    if (status != 101) {
        EXPECT(status >= 200 && status <= 599);
        const uint8_t *cl = find(out, head, "\r\nContent-Length: ");
        EXPECT(cl);
        size_t want = strtoul((const char *)cl + 18, NULL, 10), got = (size_t)(end - body);
        /* HEAD gets the length without the body. */
        EXPECT(got == want || got == 0 || (!complete && got < want));
        return;
    }
    EXPECT(find(out, head, "\r\nSec-WebSocket-Accept: "));
    for (const uint8_t *f = body; f < end;) {
        size_t n = check_frame(p, f, (size_t)(end - f), complete);
        if (n == 0)
            break;
        f += n;
    }
}

/* Does the request at the start of s ask for /echo? */
static bool asks_echo(const uint8_t *s, size_t n)
{
    struct http_request req;
    int r = http_parse_request((const char *)s, n, &req);
    return r > 0 && http_path_len(req.target, req.target_len) == 5 &&
           memcmp(req.target, "/echo", 5) == 0;
}

/* ---- One input ----------------------------------------------------------- */

static void apply_knob(uint8_t knob)
{
    cfg = base;
    if (knob & KNOB_AUTH) {
        cfg.secret = SECRET;
        cfg.api_key = "fuzz-key";
        strcpy(cfg.origins[0], ORIGIN);
        cfg.num_origins = 1;
    }
    if (knob & KNOB_TIGHT) {
        cfg.max_pending = 1024;
        cfg.max_rate = 1;
        cfg.max_burst = 3;
    }
    /* server.c reads whether the port speaks TLS from the configuration. */
    if ((knob & KNOB_TLS) && !(knob & KNOB_BOB))
        cfg.tls_cert = tls_cert_path;
    conn_set_max_pending(cfg.max_pending); /* the transport keeps its own copy */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t pieces[] = {SIZE_MAX, 1, 5, 64};
    struct peer alice = {.fd = -1}, bob = {.fd = -1};

    if (size < 1)
        return 0;
    uint8_t knob = data[0];
    apply_knob(knob);

    if (knob & KNOB_BOB) {
        open_peer(&bob);
        feed(&bob, (const uint8_t *)bob_hello, strlen(bob_hello), 0, SIZE_MAX, NULL);
        settle(&bob, &alice);
    }
    struct peer *bob_reads = knob & KNOB_BOB_STALLS ? NULL : &bob;

    const char *prefix = prefixes[knob & KNOB_PREFIX];
    size_t plen = strlen(prefix), n = plen + size - 1;
    uint8_t *stream = malloc(n ? n : 1);
    memcpy(stream, prefix, plen);
    memcpy(stream + plen, data + 1, size - 1);
    alice.echo = asks_echo(stream, n);
    open_peer(&alice);
    feed(&alice, stream, n, plen, pieces[knob >> KNOB_PIECES_SHIFT & 3], bob_reads);
    bool quiet = settle(&alice, bob_reads);
    dump("alice", &alice);
    check_output(&alice, quiet);
    if (bob.fd >= 0) {
        bool bob_quiet = settle(&bob, &alice);
        dump("bob", &bob);
        check_output(&bob, quiet && bob_quiet);
    }

    /* Hang up, and every connection must be reaped, every user gone. */
    close(alice.fd);
    if (bob.fd >= 0)
        close(bob.fd);
    for (int i = 0; i < TURNS_MAX && conn_count() > 0; i++)
        turn();
    EXPECT(conn_count() == 0);
    EXPECT(connmgr_connections() == 0 && connmgr_users() == 0);
    free(stream);
    free(alice.out);
    free(bob.out);
    return 0;
}

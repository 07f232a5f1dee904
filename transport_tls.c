/* transport_tls.c - the TLS transport: a connection's bytes through an
 * OpenSSL session on its non-blocking socket (transport.h's calls), from the
 * context tls.c keeps.
 *
 * The handshake needs no calls of its own: the first reads drive it, and
 * OpenSSL's "want read" and "want write" become EAGAIN and the transport's
 * wants, which conn.c turns into the loop's interest. Writes stay gathered:
 * conn.c hands over everything a connection has queued in one call, which
 * becomes one SSL_write of up to a record's worth (copied together only when
 * it is in several pieces). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "log.h"
#include "loop.h"
#include "stats.h"
#include "tls.h"
#include "transport.h"

/* One SSL_write at most: a whole record's plaintext (RFC 8446 §5.1).
 * OpenSSL sends a record per write(2) anyway, so a larger call would save
 * no system call, and what is kept after a blocked write stays this small. */
#define TLS_WRITE_MAX 16384

enum held {
    HELD_NONE,
    HELD_EOF,                   /* the peer's close_notify, found after data */
    HELD_ERROR,                 /* a fatal error, found after data */
};

struct tls_conn {
    SSL *ssl;
    uint8_t *pend;              /* bytes taken that OpenSSL has yet to send all of, or NULL */
    size_t pend_len;            /* their length: the blocked SSL_write's, retried as it was */
    uint8_t held;               /* enum held: what the next read returns */
    bool read_wants_write;      /* a read (the handshake) must write first */
    bool established;           /* the handshake finished */
};

/* A TLS record's first byte: content type handshake (22), which a
 * ClientHello comes in (RFC 8446 §5.1, RFC 5246 §6.2.1); no HTTP method
 * begins with it. */
#define TLS_HANDSHAKE_RECORD 0x16

/* Pieces of a gathered write copied into one (the loop is one thread). */
static uint8_t gather[TLS_WRITE_MAX];

static struct tls_conn *open_session(int fd)
{
    struct tls_conn *t = calloc(1, sizeof *t);
    if (!t || !tls_context() || !(t->ssl = SSL_new(tls_context())) || !SSL_set_fd(t->ssl, fd)) {
        if (t)
            SSL_free(t->ssl);
        free(t);
        ERR_clear_error();
        return NULL;
    }
    SSL_set_accept_state(t->ssl);
    return t;
}

int transport_tls_sniff(int fd, void **state)
{
    uint8_t first;
    ssize_t n = recv(fd, &first, 1, MSG_PEEK);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
    if (n == 0)
        return -1;
    if (first != TLS_HANDSHAKE_RECORD)
        return 1;
    return (*state = open_session(fd)) ? 2 : -1;
}

/* The handshake just finished: said at debug, with whether kTLS took over. */
static void established(int fd, struct tls_conn *t)
{
    t->established = true;
    if (!log_enabled(LOG_DEBUG))
        return;
    const unsigned char *alpn;
    unsigned alpn_len;
    SSL_get0_alpn_selected(t->ssl, &alpn, &alpn_len);
    log_conn(LOG_DEBUG, "event=tls_handshake fd=%d version=%s cipher=%s resumed=%d alpn=%.*s "
             "ktls_send=%d ktls_recv=%d", fd, SSL_get_version(t->ssl), SSL_get_cipher(t->ssl),
             SSL_session_reused(t->ssl), alpn_len ? (int)alpn_len : 1,
             alpn_len ? (const char *)alpn : "-",
             (int)BIO_get_ktls_send(SSL_get_wbio(t->ssl)),
             (int)BIO_get_ktls_recv(SSL_get_rbio(t->ssl)));
}

/* Maps the error of a failed SSL call (r, its result) onto read(2)'s and
 * writev(2)'s: -1 with EAGAIN to wait, 0 for the peer's end, -1 with
 * another errno to end the connection. */
static ssize_t failed(int fd, struct tls_conn *t, int r, bool writing)
{
    int e = SSL_get_error(t->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        if (writing && e == SSL_ERROR_WANT_READ) {
            /* Only a handshake under way makes a write read first, and
             * pusher writes after the handshake and refuses renegotiation. */
            errno = EPROTO;
            return -1;
        }
        if (!writing)
            t->read_wants_write = e == SSL_ERROR_WANT_WRITE;
        errno = EAGAIN;
        return -1;
    }
    if (e == SSL_ERROR_ZERO_RETURN) {
        ERR_clear_error();
        return 0;
    }
    if (e == SSL_ERROR_SSL) {
        unsigned long code = ERR_peek_last_error();
        const char *reason = code ? ERR_reason_error_string(code) : NULL;
        log_conn(LOG_INFO, "event=tls_error fd=%d phase=%s reason=\"%s\"", fd,
                 t->established ? "data" : "handshake", reason ? reason : "unknown");
        errno = EPROTO;
    } else if (errno == 0 || errno == EAGAIN) {
        errno = ECONNRESET;     /* SSL_ERROR_SYSCALL without a socket error */
    }
    ERR_clear_error();
    return -1;
}

/* Reads as many records as are there, up to len bytes: one call of conn.c's
 * empties the socket as a plain read(2) would. An end or an error met after
 * some data is held back for the next call. */
static ssize_t tls_read(int fd, void *state, void *buf, size_t len)
{
    struct tls_conn *t = state;
    if (t->held) {
        bool eof = t->held == HELD_EOF;
        t->held = HELD_NONE;
        errno = eof ? 0 : EPROTO;
        return eof ? 0 : -1;
    }
    size_t got = 0;
    t->read_wants_write = false;
    while (got < len) {
        size_t n;
        int r = SSL_read_ex(t->ssl, (uint8_t *)buf + got, len - got, &n);
        if (!t->established && SSL_is_init_finished(t->ssl))
            established(fd, t);
        if (r == 1) {
            got += n;
            continue;
        }
        ssize_t f = failed(fd, t, r, false);
        if (got == 0)
            return f;
        if (f == 0 || errno != EAGAIN)
            t->held = f == 0 ? HELD_EOF : HELD_ERROR;
        break;
    }
    return (ssize_t)got;
}

/* Offers p to OpenSSL. A write that blocked has part of p sealed in a
 * record the socket had no room for, and must be retried with the same
 * bytes: they are kept (pend), and counted as taken, since conn.c may drop
 * or replace what it has queued before the retry (an overflow). */
static ssize_t offer(int fd, struct tls_conn *t, const void *p, size_t len)
{
    size_t w;
    int r = SSL_write_ex(t->ssl, p, len, &w);
    if (r == 1)
        return (ssize_t)w;
    ssize_t f = failed(fd, t, r, true);
    if (f < 0 && errno == EAGAIN) {
        if (!(t->pend = malloc(len))) {
            errno = ENOMEM;
            return -1;
        }
        memcpy(t->pend, p, len);
        t->pend_len = len;
        return (ssize_t)len;
    }
    if (f == 0)
        errno = EPIPE;          /* the peer's close_notify: nothing more goes to it */
    return -1;
}

/* The kept bytes of a blocked write first; then up to TLS_WRITE_MAX of the
 * pieces, in one SSL_write. n == 0 only pushes the kept bytes on: 0 once
 * they are gone. */
static ssize_t tls_writev(int fd, void *state, const struct iovec *iov, int n)
{
    struct tls_conn *t = state;
    if (t->pend) {
        size_t w;
        int r = SSL_write_ex(t->ssl, t->pend, t->pend_len, &w);
        if (r != 1) {
            if (failed(fd, t, r, true) == 0)
                errno = EPIPE;
            return -1;
        }
        free(t->pend);
        t->pend = NULL;
    }
    if (n == 0)
        return 0;
    if (n == 1 || iov[0].iov_len >= TLS_WRITE_MAX)
        return offer(fd, t, iov[0].iov_base,
                     iov[0].iov_len < TLS_WRITE_MAX ? iov[0].iov_len : TLS_WRITE_MAX);
    size_t len = 0;
    for (int i = 0; i < n && len < TLS_WRITE_MAX; i++) {
        size_t take = iov[i].iov_len < TLS_WRITE_MAX - len ? iov[i].iov_len : TLS_WRITE_MAX - len;
        memcpy(gather + len, iov[i].iov_base, take);
        len += take;
    }
    return offer(fd, t, gather, len);
}

/* LOOP_WRITE while OpenSSL has bytes of its own to send (a handshake
 * flight, a kept record) or the next read has something to say at once. */
static int tls_wants(void *state)
{
    struct tls_conn *t = state;
    return t->pend || t->held || t->read_wants_write ? LOOP_WRITE : 0;
}

/* close_notify, then the TCP end; a peer that cannot take it now gets the
 * TCP end alone, which it reads as the end too. */
static void tls_shutdown(int fd, void *state)
{
    struct tls_conn *t = state;
    if (t->established && SSL_shutdown(t->ssl) < 0)
        ERR_clear_error();
    shutdown(fd, SHUT_WR);
}

/* A connection that ends before its handshake finished, for whatever
 * reason (a protocol error, a hang-up, the handshake timeout), is a failed
 * handshake. */
static void tls_close(int fd, void *state)
{
    struct tls_conn *t = state;
    if (!t->established)
        stats.tls_handshake_errors++;
    SSL_free(t->ssl);
    free(t->pend);
    free(t);
    close(fd);
}

const struct transport transport_tls = {
    .name = "tls",
    .read = tls_read,
    .writev = tls_writev,
    .wants = tls_wants,
    .shutdown = tls_shutdown,
    .close = tls_close,
};

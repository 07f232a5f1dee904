/* bench/loadgen_tls.c - the load generator's TLS client: one SSL_CTX for all
 * connections, each connection an SSL on its own non-blocking socket.
 *
 * The certificate is not verified: bench/run makes a self-signed one at run
 * time, and what is measured is the cost of the session, not of trust. Each
 * connection does a full handshake (no session is offered for resumption),
 * so handshakes a second and server CPU per connection are the full price. */

#include "loadgen_tls.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>

static SSL_CTX *ctx;

void lg_tls_init(void)
{
    ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        fprintf(stderr, "loadgen: SSL_CTX_new failed\n");
        exit(2);
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* Partial writes, and a buffer that may move between retries: obuf is
     * realloc'd as output is appended, and a retry may carry more bytes.
     * Buffers released while idle keep 10 000 client sessions frugal. */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
}

struct ssl_st *lg_tls_new(int fd)
{
    SSL *s = SSL_new(ctx);
    if (!s)
        return NULL;
    if (!SSL_set_fd(s, fd)) {
        SSL_free(s);
        return NULL;
    }
    SSL_set_connect_state(s);
    return s;
}

enum tls_step lg_tls_handshake(struct ssl_st *s, char *why, size_t cap)
{
    int r = SSL_connect(s);
    if (r == 1)
        return TLS_DONE;
    int e = SSL_get_error(s, r);
    if (e == SSL_ERROR_WANT_READ)
        return TLS_WANT_READ;
    if (e == SSL_ERROR_WANT_WRITE)
        return TLS_WANT_WRITE;
    unsigned long code = ERR_get_error();
    if (code)
        snprintf(why, cap, "TLS handshake: %s", ERR_reason_error_string(code));
    else
        snprintf(why, cap, "TLS handshake: error %d", e);
    ERR_clear_error();
    return TLS_FAILED;
}

/* What SSL_read or SSL_write's result r means in read(2)'s terms. */
static ssize_t result(SSL *s, int r, int *want_write)
{
    if (r > 0)
        return r;
    *want_write = 0;
    switch (SSL_get_error(s, r)) {
    case SSL_ERROR_WANT_READ:
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_WANT_WRITE:
        *want_write = 1;
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_ZERO_RETURN: /* close_notify: the end of the stream */
        return 0;
    default:
        ERR_clear_error();
        errno = EIO;
        return -1;
    }
}

ssize_t lg_tls_read(struct ssl_st *s, void *buf, size_t n, int *want_write)
{
    return result(s, SSL_read(s, buf, (int)n), want_write);
}

ssize_t lg_tls_write(struct ssl_st *s, const void *buf, size_t n, int *want_write)
{
    return result(s, SSL_write(s, buf, (int)n), want_write);
}

int lg_tls_pending(const struct ssl_st *s)
{
    return SSL_pending(s);
}

void lg_tls_free(struct ssl_st *s)
{
    SSL_free(s);
}

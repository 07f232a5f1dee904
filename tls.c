/* tls.c - the TLS port's context: the certificate and key from their files,
 * the protocol settings every connection shares, and what is said of the
 * certificate (see tls.h).
 *
 * A reload builds a whole new context and swaps it in only once it loaded:
 * OpenSSL counts references to a context, so each open connection keeps the
 * one it began with, new connections get the new one, and files that fail
 * to load leave everything as it was. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tls.h"

static struct {
    SSL_CTX *ctx;               /* what new connections start from, or NULL (off) */
    struct tls_cert_info info;  /* of ctx's certificate */
} g;

/* ALPN (RFC 7301): pusher speaks HTTP/1.1 only. A client that offers ALPN
 * without it gets the RFC's no_application_protocol alert (§3.2) rather
 * than a connection on which it would speak a protocol pusher does not. */
static int select_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    static const unsigned char ours[] = "\x08http/1.1";
    unsigned char *chosen;
    (void)ssl;
    (void)arg;
    if (SSL_select_next_proto(&chosen, outlen, ours, sizeof ours - 1, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    *out = chosen;
    return SSL_TLSEXT_ERR_OK;
}

/* Did the last call fail for a key that is not the certificate's? */
static bool key_mismatch(void)
{
    unsigned long e = ERR_peek_last_error();
    return ERR_GET_LIB(e) == ERR_LIB_X509 && (ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH ||
                                              ERR_GET_REASON(e) == X509_R_KEY_TYPE_MISMATCH);
}

/* One line for why: what failed, and OpenSSL's reason for it. */
static int fail(char *why, size_t cap, const char *what, const char *file)
{
    unsigned long e = ERR_peek_last_error();
    const char *reason = e ? ERR_reason_error_string(e) : NULL;
    snprintf(why, cap, "%s %s: %s", what, file, reason ? reason : "unknown error");
    ERR_clear_error();
    return -1;
}

static void describe(X509 *x, struct tls_cert_info *info)
{
    *info = (struct tls_cert_info){0};
    BIO *b = BIO_new(BIO_s_mem());
    if (b && X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) >= 0) {
        int n = BIO_read(b, info->subject, sizeof info->subject - 1);
        info->subject[n > 0 ? n : 0] = '\0';
    }
    BIO_free(b);
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    if (hex)
        snprintf(info->serial, sizeof info->serial, "%s", hex);
    OPENSSL_free(hex);
    BN_free(bn);
    struct tm tm;
    if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1) {
        info->not_after = (int64_t)timegm(&tm);
        strftime(info->not_after_text, sizeof info->not_after_text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
}

/* The settings every connection shares. */
static SSL_CTX *new_context(void)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx)
        return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* No renegotiation: a TLS 1.2 client could otherwise make the server
     * redo the costly half of a handshake at will, on an open connection.
     * A peer that hangs up without close_notify is an end of stream, as
     * browsers do it, not an error. kTLS where the kernel has it, so the
     * kernel encrypts (it falls back to OpenSSL's own where it does not). */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION |
                                 SSL_OP_ENABLE_KTLS);
    /* Release buffers: an idle connection holds no 16 KiB read or write
     * buffer. Moving buffer: a write retried after WANT_WRITE may come from
     * another address with the same bytes (transport_tls.c keeps them). */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* Resumption: TLS 1.2 session ids from the server's cache, and session
     * tickets (TLS 1.2 and 1.3), both on by default; a reload starts with a
     * new cache and new ticket keys, so clients do one full handshake. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"pusher", 6);
    SSL_CTX_set_alpn_select_cb(ctx, select_alpn, NULL);
    return ctx;
}

int tls_load(const char *cert, const char *key, char *why, size_t cap)
{
    static bool initialised;
    if (!initialised) {
        /* The static binary carries its own OpenSSL, whose configuration
         * file (compiled-in path) may belong to another build or be absent
         * on the box; what pusher uses is set here instead. */
        if (!OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG, NULL))
            return fail(why, cap, "cannot start OpenSSL for", cert);
        initialised = true;
    }
    SSL_CTX *ctx = new_context();
    if (!ctx)
        return fail(why, cap, "out of memory loading", cert);
    int r = 0;
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
        r = fail(why, cap, "cannot load the certificate from", cert);
    else if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
        /* The key is checked against the certificate loaded before it. */
        r = fail(why, cap, key_mismatch() ? "the certificate does not match the private key in"
                                          : "cannot load the private key from", key);
    if (r < 0) {
        SSL_CTX_free(ctx);
        return -1;
    }
    SSL_CTX_free(g.ctx);        /* open connections hold their own references */
    g.ctx = ctx;
    describe(SSL_CTX_get0_certificate(ctx), &g.info);
    return 0;
}

bool tls_on(void)
{
    return g.ctx != NULL;
}

const struct tls_cert_info *tls_cert(void)
{
    return &g.info;
}

struct ssl_ctx_st *tls_context(void)
{
    return g.ctx;
}

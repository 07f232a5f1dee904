/* tls.h - the TLS port's certificate and settings: loading the files at
 * start, rereading them on SIGHUP, and what the log and /metrics say of the
 * certificate in force. The bytes of each TLS connection are
 * transport_tls.c's; this file only makes the context they start from. */
#ifndef TLS_H
#define TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ssl_ctx_st;              /* OpenSSL's SSL_CTX */

/* What is said of a certificate: its subject (RFC 2253 form), serial (hex)
 * and notAfter. */
struct tls_cert_info {
    char subject[256];          /* "CN=chat.example.com,O=..." */
    char serial[96];            /* upper-case hex, as openssl x509 -serial prints it */
    int64_t not_after;          /* Unix time of notAfter */
    char not_after_text[32];    /* the same as 2027-01-31T12:00:00Z */
};

/* Loads a PEM certificate file (the leaf first, then its chain) and its PEM
 * private key, and makes them the ones new connections get; connections
 * already open keep theirs. 0, or -1 with one line in why saying which file
 * and what was wrong, everything as it was before (the first call: TLS
 * still off). */
int tls_load(const char *cert, const char *key, char *why, size_t cap);
/* Was a certificate ever loaded (the port speaks TLS)? */
bool tls_on(void);
/* The certificate in force; meaningful only when tls_on(). */
const struct tls_cert_info *tls_cert(void);
/* The context new sessions start from, NULL when off. */
struct ssl_ctx_st *tls_context(void);

#endif

/* bench/loadgen_tls.h - the load generator's TLS client (bench/loadgen_tls.c):
 * OpenSSL behind four calls, so loadgen.c's event loop stays about sockets
 * and frames. Every call is non-blocking and says what it waits for. */
#ifndef LOADGEN_TLS_H
#define LOADGEN_TLS_H

#include <stddef.h>
#include <sys/types.h>

struct ssl_st;

enum tls_step { TLS_DONE, TLS_WANT_READ, TLS_WANT_WRITE, TLS_FAILED };

/* Makes the one client context; dies where OpenSSL cannot. */
void lg_tls_init(void);

/* A client session on connected socket fd, NULL when out of memory. */
struct ssl_st *lg_tls_new(int fd);

/* Takes the handshake (RFC 8446 section 4) one step further. On TLS_FAILED,
 * why holds a reason. */
enum tls_step lg_tls_handshake(struct ssl_st *s, char *why, size_t cap);

/* read(2) and write(2) over the session: bytes moved, 0 at the end of the
 * stream, or -1 with errno EAGAIN (*want_write set when the socket must
 * become writable first) or EIO. */
ssize_t lg_tls_read(struct ssl_st *s, void *buf, size_t n, int *want_write);
ssize_t lg_tls_write(struct ssl_st *s, const void *buf, size_t n, int *want_write);

/* Decrypted bytes OpenSSL holds that no read has taken yet. */
int lg_tls_pending(const struct ssl_st *s);

void lg_tls_free(struct ssl_st *s);

#endif

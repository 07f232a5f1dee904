/* http.h - the HTTP/1.1 request head: an incremental parser and the few
 * helpers the server needs to read what it found (RFC 9110, RFC 9112). */
#ifndef HTTP_H
#define HTTP_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP_MAX_HEADERS 32
#define HTTP_MAX_REQUEST_LINE 4096 /* bytes before the line's CRLF */
#define HTTP_MAX_HEAD 8192         /* request line + headers + blank line */

struct http_header {
    const char *name;  /* points into the caller's buffer */
    size_t name_len;   /* a token, never 0 */
    const char *value; /* trimmed of surrounding spaces and tabs */
    size_t value_len;  /* may be 0 */
};

struct http_request {
    const char *method;   /* any RFC 9110 token; the server decides what it serves */
    size_t method_len;    /* never 0 */
    const char *target;   /* the raw origin-form target, query included */
    size_t target_len;    /* at least 1: it starts with '/' */
    int minor_version;    /* HTTP/1.0 -> 0, HTTP/1.1 -> 1 */
    struct http_header headers[HTTP_MAX_HEADERS]; /* in the order sent */
    size_t num_headers;   /* how many of headers[] are filled */
};

/* Parses the request head at the start of buf[0..len). Returns its length
 * (through the empty line) once complete, 0 when more bytes are needed, or
 * minus the status to answer: -400 malformed, -414 request line longer than
 * HTTP_MAX_REQUEST_LINE, -431 more than HTTP_MAX_HEADERS headers or a head
 * longer than HTTP_MAX_HEAD. A limit is reported as soon as the bytes pass it,
 * complete head or not. Once it returns non-zero, more bytes after buf[len]
 * never change the answer. req's fields mean something only when the result
 * is positive. */
int http_parse_request(const char *buf, size_t len, struct http_request *req);

/* The first header called name (compared case-insensitively), or NULL. */
const struct http_header *http_header_find(const struct http_request *req,
                                           const char *name);

/* How many header lines are called name (compared case-insensitively). */
size_t http_header_count(const struct http_request *req, const char *name);

/* Does the comma-separated list value[0..len) hold token, compared
 * case-insensitively? "keep-alive, Upgrade" holds "upgrade". */
bool http_has_token(const char *value, size_t len, const char *token);

/* Percent-decodes in[0..len) into out[0..cap); with plus_is_space a '+' is a
 * space (application/x-www-form-urlencoded query strings). Returns the
 * decoded length, or -1 on a bad %-escape or when out is too small. %00
 * decodes to a NUL byte: the caller judges what the bytes may hold. */
long http_percent_decode(const char *in, size_t len, char *out, size_t cap,
                         bool plus_is_space);

/* Finds parameter name in the query of target[0..len) (after '?', pairs
 * split by '&', names percent-decoded before comparing) and decodes its
 * value into out[0..cap). Returns the decoded length (a name without '='
 * has the empty value), -1 if absent, -2 if the value is malformed or
 * longer than cap. The first match wins. */
long http_query_get(const char *target, size_t len, const char *name,
                    char *out, size_t cap);

/* The length of the path: target[0..len) up to its '?', if any. */
size_t http_path_len(const char *target, size_t len);
/* Is path[0..len) exactly want? Is the request's method want? */
bool http_path_is(const char *path, size_t len, const char *want);
bool http_method_is(const struct http_request *req, const char *want);

/* Sets *out to the body length that Content-Length gives (0 when absent) and
 * returns 0, or returns -1 when a value is not all digits, duplicates
 * disagree, or the length exceeds max (RFC 9112 section 6.3). */
int http_content_length(const struct http_request *req, size_t max, size_t *out);

#endif

/* resp.h - the RESP2 codec (the Redis serialization protocol, version 2): an
 * incremental reply parser and a command encoder.
 *
 * The parser is pure, like http.c's: one function over (buf, len) that keeps
 * no state between calls, allocates nothing, and describes the reply in an
 * array of elements the caller provides, pointing into the caller's bytes. */
#ifndef RESP_H
#define RESP_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

#define RESP_MAX_BULK_DEFAULT ((size_t)512 << 20) /* Redis's proto-max-bulk-len */

enum resp_type {
    RESP_STRING,    /* '+': a simple string, such as OK or QUEUED */
    RESP_ERROR,     /* '-': an error reply; str is its message ("NOSCRIPT ...") */
    RESP_INTEGER,   /* ':': a signed 64-bit integer */
    RESP_BULK,      /* '$': a binary-safe bulk string */
    RESP_ARRAY,     /* '*': its elements follow it in elems[] */
    RESP_NIL,       /* "$-1": the null bulk string (GET of a missing key) */
    RESP_NIL_ARRAY, /* "*-1": the null array (EXEC of an aborted transaction) */
};

/* One element of a reply. An array's elements come right after it, each
 * followed by its own elements if it is an array (depth first, in wire
 * order), so a reply is elems[0 .. elems[0].next). */
struct resp_elem {
    enum resp_type type;
    const char *str;   /* STRING, ERROR, BULK: the bytes in the input; else NULL */
    size_t len;        /* str's length; for an ARRAY, how many elements it holds */
    long long integer; /* an INTEGER's value; else 0 */
    size_t next;       /* index just past this element and all it holds: the next sibling */
};

struct resp_limits {
    size_t max_bulk;  /* longest bulk string accepted (RESP_MAX_BULK_DEFAULT) */
    size_t max_line;  /* longest simple string or error message accepted */
    size_t max_depth; /* arrays nested deeper are refused: 1 takes no array in an array */
};

/* resp_parse's results besides a reply's length: "need more", or an error.
 * Every error means the stream is out of step or hostile: drop the
 * connection, since nothing after the bad byte can be trusted either. */
enum resp_result {
    RESP_NEED_MORE = 0,
    RESP_ERR_TYPE = -1,      /* a reply starts with a byte other than + - : $ * */
    RESP_ERR_CRLF = -2,      /* a CR not followed by LF, a bare LF, or a bulk string
                              * whose payload is not followed by CRLF */
    RESP_ERR_DIGIT = -3,     /* a length or integer with a byte other than a digit, no
                              * digit at all, a leading zero, or "-0" */
    RESP_ERR_NEGATIVE = -4,  /* a length below zero other than -1 */
    RESP_ERR_OVERFLOW = -5,  /* an integer outside the signed 64-bit range */
    RESP_ERR_BULK_LONG = -6, /* a bulk string longer than max_bulk */
    RESP_ERR_LINE_LONG = -7, /* a simple string or error longer than max_line */
    RESP_ERR_DEPTH = -8,     /* an array nested deeper than max_depth */
    RESP_ERR_CAPACITY = -9,  /* more elements than the caller's array holds */
};

/* Parses the one reply at the start of buf[0..len) into elems[0..cap).
 * Returns the reply's length in bytes once it is complete (the next reply,
 * if pipelined, starts there), RESP_NEED_MORE while buf holds a valid
 * beginning of one, or a negative RESP_ERR_* with *err_at set to the offset
 * of the first byte that no valid reply could hold there. Errors are found
 * in wire order and as soon as that byte arrives, so a prefix of buf gives
 * RESP_NEED_MORE or the same answer as the whole (and the same *err_at);
 * bytes after a complete reply never change it. An array is refused as soon
 * as its count says its elements cannot fit in cap, before they arrive.
 *
 * Numbers are taken only in the form Redis writes them: an optional '-' and
 * digits without a leading zero. elems[] is meaningful only after a positive
 * result, and *err_at is written only on an error. Called again with more
 * bytes it starts over; its cost is in the number of elements and the
 * length of their lines, since a bulk string's payload is skipped by its
 * length, never read. */
long resp_parse(const char *buf, size_t len, const struct resp_limits *lim,
                struct resp_elem *elems, size_t cap, size_t *err_at);

/* One short human reason for a RESP_ERR_*. */
const char *resp_strerror(int err);

/* Writes the command argv[0..argc) (argv[i] of lens[i] bytes, any bytes) as
 * Redis reads commands, an array of bulk strings, into out[0..cap). Returns
 * the command's length in bytes whether or not it fits, like snprintf, and
 * writes nothing when it does not: resp_encode_command(NULL, 0, ...) sizes
 * it. A length that would pass SIZE_MAX is returned as SIZE_MAX. */
size_t resp_encode_command(char *out, size_t cap, size_t argc, const char *const argv[],
                           const size_t lens[]);

/* Appends the same command to b. Returns false, with b->failed set and
 * b->len unchanged, when it would take b past b->max or memory runs out. */
bool resp_append_command(struct buf *b, size_t argc, const char *const argv[],
                         const size_t lens[]);

#endif

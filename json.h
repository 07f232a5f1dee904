/* json.h - a small RFC 8259 reader (members of one object, values validated
 * as they are read) and the reader and writer of the chat Message. */
#ifndef JSON_H
#define JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH 64 /* nested arrays and objects, the outer object included */

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json_value {
    const char *p;       /* the value's raw text in the input (quotes included for strings) */
    size_t len;          /* its length in bytes, never 0 */
    enum json_type type; /* told by its first byte */
};

struct json_iter {
    const char *in;      /* the input, for error offsets */
    const char *end;     /* one past its last byte */
    const char *at;      /* where the next ',' or '}' (or the first member) is looked for */
    int state;           /* private to json.c: first member, later member, ended, failed */
    const char *error;   /* after -1: a short static reason */
    size_t error_at;     /* after -1: the byte offset it applies to */
};

/* Begins reading the members of the object that is the whole of in[0..len)
 * (whitespace around it allowed). Returns 0, or -1 with it->error set to
 * "not a JSON object". */
int json_object_begin(struct json_iter *it, const char *in, size_t len);

/* The next member: 1 with *key (a JSON_STRING) and *val; 0 at the end of the
 * object, once only whitespace is found after it; -1 on a syntax error
 * (it->error, it->error_at). Each value is validated completely before it is
 * returned: strings with their escapes, numbers, literals, and arrays and
 * objects nested up to JSON_MAX_DEPTH ("nesting too deep" beyond). Duplicate
 * keys are returned as they come. After 0 or -1 it keeps returning the same. */
int json_object_next(struct json_iter *it, struct json_value *key, struct json_value *val);

/* Decodes a JSON_STRING value from json_object_next into out, which must hold
 * v->len bytes (the decoded form is never longer). Returns the decoded length,
 * or -1 for an unpaired surrogate escape (it has no UTF-8 form). Raw bytes are
 * copied as they are: the caller validates UTF-8 where it matters. */
long json_string_decode(const struct json_value *v, char *out);

/* Does key, once decoded, equal name? ("\u0074o" is "to".) */
bool json_key_is(const struct json_value *key, const char *name);

/* A JSON_NUMBER written without fraction or exponent, in int64 range:
 * 0 with *out set, else -1. */
int json_integer(const struct json_value *v, int64_t *out);

/* ---- The chat Message (PROTOCOL.md "Messages") ---------------------------- */

struct json_str {
    const char *p; /* never NULL; "" when empty */
    size_t len;    /* bytes at p, which may include NUL */
};

struct message {
    int64_t message_type;    /* absent -> 0, as the original Go program's zero value */
    int64_t media_type;      /* absent -> 0 */
    struct json_str from;    /* absent -> empty; decoded into the caller's scratch */
    struct json_str to;      /* absent -> empty */
    struct json_str content; /* absent -> empty */
    struct json_str file_id; /* absent -> empty */
    struct json_str url;     /* absent -> empty */
    int64_t create_at;       /* absent -> 0 */
    int64_t update_at;       /* absent -> 0 */
    int64_t id;              /* absent -> 0 */
};

/* Reads one Message from in[0..len). scratch must hold len bytes: the decoded
 * strings go there. Unknown keys are skipped whatever their value; a null
 * value counts as absent (as Go's encoding/json has it); of duplicate keys the
 * last wins. A known key with a value of the wrong type is an error. Returns
 * 0, or -1 with a one-line reason in why (NUL-terminated, at most whycap
 * bytes), such as "message must be a JSON object", "content must be a string",
 * "id must be an integer", "content has an unpaired \u surrogate", "nesting
 * deeper than 64" or "not valid JSON at byte 17: expected ':'"; *m is then
 * unspecified. */
int json_read_message(const char *in, size_t len, char *scratch, struct message *m,
                      char *why, size_t whycap);

/* The most bytes json_write_string can write for a string of len bytes:
 * its quotes and at most 6 ("\u00XX") for each byte. */
static inline size_t json_string_bound(size_t len)
{
    return 2 + 6 * len;
}

/* Writes s as a JSON string, quoted and escaped so that any bytes arrive
 * exactly (RFC 8259 section 7). out must hold json_string_bound(s->len)
 * bytes. Returns the length written. */
size_t json_write_string(char *out, const struct json_str *s);

/* The most bytes json_write_message can write for m. */
size_t json_message_bound(const struct message *m);

/* Writes m as one compact JSON object holding every field, in the order of
 * struct message, with strings escaped so that any bytes round-trip exactly.
 * out must hold json_message_bound(m) bytes. Returns the length written. */
size_t json_write_message(char *out, const struct message *m);

#endif

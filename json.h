/* json.h - a small RFC 8259 reader (members of one object, values validated
 * as they are read) and writer (strings and integers). */
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

/* The same for the elements of the array that is the whole of in[0..len):
 * begin answers -1 with "not a JSON array"; next gives 1 with each element
 * in *val, 0 at the end, -1 on a syntax error. */
int json_array_begin(struct json_iter *it, const char *in, size_t len);
int json_array_next(struct json_iter *it, struct json_value *val);

/* Decodes a JSON_STRING value from json_object_next into out, which must hold
 * v->len bytes (the decoded form is never longer). Returns the decoded length,
 * or -1 for an unpaired surrogate escape (it has no UTF-8 form). Raw bytes are
 * copied as they are: the caller validates UTF-8 where it matters. */
long json_string_decode(const struct json_value *v, char *out);

/* Does key, once decoded, equal name? ("\u0074o" is "to".) */
bool json_key_is(const struct json_value *key, const char *name);

/* A JSON_NUMBER whose value is a whole number in int64 range, however it
 * is written ("7", "7.0", "0.7e1": RFC 8259 tells them apart nowhere): 0
 * with *out set, else -1 ("7.5", "1e19"). */
int json_integer(const struct json_value *v, int64_t *out);
/* Any JSON_NUMBER's ceiling, the least integer at or above it ("1.5" is 2,
 * "1.7e9" 1700000000, "-0.5" 0), read exactly, without floating point: 0
 * with *out set, else -1 (not a number, or a ceiling beyond int64). */
int json_number_ceil(const struct json_value *v, int64_t *out);

/* ---- Writing ---------------------------------------------------------------- */

struct json_str {
    const char *p; /* never NULL; "" when empty */
    size_t len;    /* bytes at p, which may include NUL */
};

/* The text of a json_iter error for nesting past JSON_MAX_DEPTH, so a
 * caller can tell it from a syntax error. */
extern const char json_nesting_too_deep[];

/* Writes v in decimal (at most 20 bytes). Returns the length written. */
size_t json_write_int(char *out, int64_t v);

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

#endif

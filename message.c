/* message.c - the chat Message of PROTOCOL.md ("Messages"): its fields, its
 * JSON form (read from a client or a push, written once for every
 * recipient), and the rule a userId follows.
 *
 * The reading is json.c's member walk; what this file adds is which keys are
 * fields, what type each must be, and that null means absent. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "message.h"
#include "ws.h"

/* The fields in the order they are written; a field is a json_str or an int64_t. */
static const struct field {
    const char *name;  /* its JSON key */
    size_t offset;     /* where it sits in struct message */
    bool is_string;    /* a json_str, else an int64_t */
} fields[] = {
    {"messageType", offsetof(struct message, message_type), false},
    {"mediaType", offsetof(struct message, media_type), false},
    {"from", offsetof(struct message, from), true},
    {"to", offsetof(struct message, to), true},
    {"content", offsetof(struct message, content), true},
    {"fileId", offsetof(struct message, file_id), true},
    {"url", offsetof(struct message, url), true},
    {"createAt", offsetof(struct message, create_at), false},
    {"updateAt", offsetof(struct message, update_at), false},
    {"id", offsetof(struct message, id), false},
};
#define NFIELDS (sizeof fields / sizeof fields[0])

static int say(char *why, size_t whycap, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, whycap, fmt, ap);
    va_end(ap);
    return -1;
}

int message_read(const char *in, size_t len, char *scratch, struct message *m,
                 char *why, size_t whycap)
{
    struct json_iter it;
    struct json_value key, val;
    char *o = scratch;
    int r;

    *m = (struct message){.from = {"", 0}, .to = {"", 0}, .content = {"", 0},
                          .file_id = {"", 0}, .url = {"", 0}};
    if (json_object_begin(&it, in, len) < 0)
        return say(why, whycap, "message must be a JSON object");
    while ((r = json_object_next(&it, &key, &val)) == 1) {
        const struct field *f = fields;
        while (f < fields + NFIELDS && !json_key_is(&key, f->name))
            f++;
        if (f == fields + NFIELDS || val.type == JSON_NULL)
            continue;
        char *at = (char *)m + f->offset;
        if (!f->is_string) {
            if (json_integer(&val, (int64_t *)at) < 0)
                return say(why, whycap, "%s must be an integer", f->name);
            continue;
        }
        if (val.type != JSON_STRING)
            return say(why, whycap, "%s must be a string", f->name);
        long n = json_string_decode(&val, o);
        if (n < 0)
            return say(why, whycap, "%s has an unpaired \\u surrogate", f->name);
        *(struct json_str *)at = (struct json_str){o, (size_t)n};
        o += n;
    }
    if (r == 0)
        return 0;
    if (it.error == json_nesting_too_deep)
        return say(why, whycap, "nesting deeper than %d", JSON_MAX_DEPTH);
    return say(why, whycap, "not valid JSON at byte %zu: %s", it.error_at, it.error);
}

/* Each field costs its key, quotes, ':' and ',' (or the braces), and its
 * value: an int64_t at most 20 characters ("-9223372036854775808"), a string
 * its quotes and at most 6 bytes ("\u00XX") for each of its bytes. */
size_t message_bound(const struct message *m)
{
    size_t n = 1;

    for (const struct field *f = fields; f < fields + NFIELDS; f++) {
        const struct json_str *s = (const struct json_str *)((const char *)m + f->offset);
        n += strlen(f->name) + 4 + (f->is_string ? json_string_bound(s->len) : 20);
    }
    return n;
}

size_t message_write(char *out, const struct message *m)
{
    char *o = out;

    for (const struct field *f = fields; f < fields + NFIELDS; f++) {
        const char *at = (const char *)m + f->offset;
        size_t n = strlen(f->name);
        *o++ = f == fields ? '{' : ',';
        *o++ = '"';
        memcpy(o, f->name, n);
        o += n;
        *o++ = '"';
        *o++ = ':';
        if (f->is_string)
            o += json_write_string(o, (const struct json_str *)at);
        else
            o += json_write_int(o, *(const int64_t *)at);
    }
    *o++ = '}';
    return (size_t)(o - out);
}

/* ---- The userId --------------------------------------------------------------- */

const char *message_user_id_problem(const char *id, size_t len)
{
    if (len == 0)
        return "userId is empty";
    if (len > MESSAGE_MAX_USER_ID)
        return "userId is longer than 64 bytes";
    if (utf8_validate(UTF8_ACCEPT, (const uint8_t *)id, len) != UTF8_ACCEPT)
        return "userId is not valid UTF-8";
    for (size_t i = 0; i < len; i++) {
        uint8_t b = (uint8_t)id[i];
        bool c1 = b == 0xC2 && i + 1 < len && (uint8_t)id[i + 1] <= 0x9F;
        if (b < 0x20 || b == 0x7F || c1)
            return "userId holds a control character";
    }
    return NULL;
}

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
    size_t name_len;   /* strlen(name) */
    size_t offset;     /* where it sits in struct message */
    bool is_string;    /* a json_str, else an int64_t */
} fields[] = {
#define FIELD(key, member, string) {key, sizeof key - 1, offsetof(struct message, member), string}
    FIELD("messageType", message_type, false),
    FIELD("mediaType", media_type, false),
    FIELD("from", from, true),
    FIELD("to", to, true),
    FIELD("content", content, true),
    FIELD("fileId", file_id, true),
    FIELD("url", url, true),
    FIELD("createAt", create_at, false),
    FIELD("updateAt", update_at, false),
    FIELD("id", id, false),
    FIELD("since", since, false), /* read on a Join, never written */
#undef FIELD
};
#define NFIELDS (sizeof fields / sizeof fields[0])
#define NWRITTEN (NFIELDS - 1)     /* all but since */

/* The field key names, or NULL. Keys compare decoded ("\u0074o" is "to");
 * a key too long to decode to a field's name is none, unread. */
static const struct field *field_of(const struct json_value *key)
{
    char decoded[6 * sizeof "messageType"]; /* the longest name, every byte escaped */
    const char *name = key->p + 1;
    long len = (long)key->len - 2;
    if (memchr(name, '\\', (size_t)len)) {
        if (key->len > sizeof decoded || (len = json_string_decode(key, decoded)) < 0)
            return NULL;
        name = decoded;
    }
    for (const struct field *f = fields; f < fields + NFIELDS; f++)
        if (f->name_len == (size_t)len && memcmp(f->name, name, (size_t)len) == 0)
            return f;
    return NULL;
}

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
        const struct field *f = field_of(&key);
        if (!f || val.type == JSON_NULL)
            continue;
        char *at = (char *)m + f->offset;
        if (f->offset == offsetof(struct message, since)) {
            /* Only a Join reads it (PROTOCOL.md "Rooms"): elsewhere it is
             * ignored, whatever it holds, and the type may come later. */
            m->since_bad = json_integer(&val, &m->since) < 0;
            continue;
        }
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

    for (const struct field *f = fields; f < fields + NWRITTEN; f++) {
        const struct json_str *s = (const struct json_str *)((const char *)m + f->offset);
        n += f->name_len + 4 + (f->is_string ? json_string_bound(s->len) : 20);
    }
    return n;
}

size_t message_write(char *out, const struct message *m)
{
    char *o = out;

    for (const struct field *f = fields; f < fields + NWRITTEN; f++) {
        const char *at = (const char *)m + f->offset;
        size_t n = f->name_len;
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

/* Which rule of the name rule name[0..len) breaks: 0 for none. */
enum { NAME_OK, NAME_EMPTY, NAME_LONG, NAME_NOT_UTF8, NAME_CONTROL };

static int name_check(const char *s, size_t len)
{
    if (len == 0)
        return NAME_EMPTY;
    if (len > MESSAGE_MAX_USER_ID)
        return NAME_LONG;
    if (utf8_validate(UTF8_ACCEPT, (const uint8_t *)s, len) != UTF8_ACCEPT)
        return NAME_NOT_UTF8;
    for (size_t i = 0; i < len; i++) {
        uint8_t b = (uint8_t)s[i];
        bool c1 = b == 0xC2 && i + 1 < len && (uint8_t)s[i + 1] <= 0x9F;
        if (b < 0x20 || b == 0x7F || c1)
            return NAME_CONTROL;
    }
    return NAME_OK;
}

const char *message_user_id_problem(const char *id, size_t len)
{
    static const char *const why[] = {
        NULL, "userId is empty", "userId is longer than 64 bytes", "userId is not valid UTF-8",
        "userId holds a control character",
    };
    return why[name_check(id, len)];
}

const char *message_room_problem(const char *name, size_t len)
{
    static const char *const why[] = {
        NULL, "a room name is empty", "a room name is longer than 64 bytes",
        "a room name is not valid UTF-8", "a room name holds a control character",
    };
    return why[name_check(name, len)];
}

const char *message_next_name(const char **p, const char *end, size_t *len)
{
    if (!*p || *p > end)
        return NULL;
    const char *name = *p, *comma = memchr(name, ',', (size_t)(end - name));
    *len = (size_t)((comma ? comma : end) - name);
    *p = comma ? comma + 1 : NULL;
    return name;
}

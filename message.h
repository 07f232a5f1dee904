/* message.h - the chat Message (PROTOCOL.md "Messages"): its fields and
 * types, its JSON form, and the userId rule. */
#ifndef MESSAGE_H
#define MESSAGE_H

#include <stddef.h>
#include <stdint.h>

#include "json.h"

#define MESSAGE_MAX_USER_ID 64  /* bytes of a userId, after percent-decoding */

/* messageType */
enum message_type { MSG_SINGLE, MSG_GROUP, MSG_SYSNOTIFY, MSG_ONLINE, MSG_OFFLINE, MSG_JOIN,
                    MSG_LEAVE };

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
    int64_t since;           /* absent -> 0; a Join's history starts after it; never written */
    bool since_bad;          /* since is there but not an integer: refused on a Join alone */
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
int message_read(const char *in, size_t len, char *scratch, struct message *m,
                 char *why, size_t whycap);

/* The most bytes message_write can write for m. */
size_t message_bound(const struct message *m);

/* Writes m as one compact JSON object holding every field, in the order of
 * struct message, with strings escaped so that any bytes round-trip exactly.
 * out must hold message_bound(m) bytes. Returns the length written. */
size_t message_write(char *out, const struct message *m);

/* NULL when id[0..len) may be a userId (1 to 64 bytes of UTF-8 without a
 * control character: C0, DEL or C1), else what is wrong with it. */
const char *message_user_id_problem(const char *id, size_t len);
/* The same rule for a room's name, in its own words. */
const char *message_room_problem(const char *name, size_t len);
/* The next name of a comma-separated list (rooms=a,b) at *p, before end:
 * sets *len and returns it, moving *p past it and its comma; NULL after the
 * last. */
const char *message_next_name(const char **p, const char *end, size_t *len);

#endif

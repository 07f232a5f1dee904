/* record.h - the journal's record: its line format, the CRC-32C that guards
 * it, the encoder and the incremental reader. Pure: no I/O, no state, and the
 * reader allocates nothing. The journal file (append, sync, compaction, lock)
 * and replay into routing are built on top of this.
 *
 * ---- The format ----
 *
 * One record per line, so that `less` shows a journal and a text editor can
 * repair one (as Redis's AOF is RESP):
 *
 *     <crc> <kind> <payload>\n
 *
 * <crc> is the CRC-32C (Castagnoli, the iSCSI one) of the bytes from <kind>
 * up to, not including, the '\n', as 8 lowercase hex digits. Fields are parted
 * by one space. A number (<id>) is decimal, 0 to 2^64-1, with no sign and no
 * leading zero. A name is <length>:<bytes>, netstring-style: the length in
 * decimal (0 to 64, no leading zero), a colon, then exactly that many bytes,
 * so a room name or userId may hold spaces, colons, commas or digits and
 * still read one way. The kinds:
 *
 *     H <id> <room> <message>   a history entry of room (0: for everyone's)
 *     K <id> <user> <message>   a kept (offline) message for user
 *     F <id> <user>             user's kept message <id> is forgotten
 *                               (delivered, or passed by since=): one a
 *                               record, since a replay that did not fit may
 *                               deliver the newest and keep older ones
 *     I <id>                    the id counter: ids go on above <id>
 *
 * <id> in H and K is the message's own id (the one in its JSON), in the
 * header so that replay fills the history rings (which keep it for since=)
 * and orders and forgets kept messages without parsing any JSON; since ids
 * are the clock in microseconds, it also dates a kept message for its TTL.
 * <message> is the message's JSON exactly as sent to clients, to the end of
 * the line, so replay can share it as a frame as it stands. It must be an
 * object ('{' to '}') of valid UTF-8 with no byte below 0x20, which the
 * JSON pusher writes always is (its strings escape control characters), so
 * it never holds the line's '\n'. A room is empty or follows the room rule,
 * a user the userId rule (message.h: 1 to 64 bytes of UTF-8, no control
 * character). For example:
 *
 *     c8097f86 I 1764000000000000
 *     a158ae5c H 1764000001500001 0: {"messageType":1,...,"id":1764000001500001}
 *     788865e2 H 1764000001600001 9:tea break {"messageType":1,...,"to":"tea break",...}
 *     1f412c19 K 1764000002000001 5:carol {"messageType":0,...,"to":"carol",...}
 *     0b728cd3 F 1764000002000001 5:carol
 *
 * Every record has one spelling: the reader refuses another (upper-case hex,
 * a leading zero, two spaces), so a record read and written again is the
 * same bytes. Deleting a whole line always leaves a journal this reader
 * accepts; what it loses is that record (a deleted F delivers again, which
 * at-least-once allows). Editing one means writing its CRC again.
 *
 * ---- Reading ----
 *
 * record_read looks at one line from a record boundary, checking bytes in
 * order, so every prefix of a line answers RECORD_NEED_MORE or what the whole
 * line answers, and a byte that no valid record could hold is reported as
 * soon as it is there. Each call starts over (like http.c); a journal is read
 * whole, once, at start. */
#ifndef RECORD_H
#define RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

enum record_kind {
    RECORD_HISTORY = 'H', /* a history entry: room, message */
    RECORD_KEPT = 'K',    /* an offline message: user, message */
    RECORD_FORGET = 'F',  /* user's kept message id is gone */
    RECORD_ID = 'I',      /* the id counter's mark */
};

/* The most bytes a record adds to its message's JSON: crc, kind, a 20-digit
 * id, "64:" and a 64-byte name, four spaces and the '\n'. A journal that
 * writes messages of at most M bytes reads with max_line M + RECORD_OVERHEAD. */
#define RECORD_OVERHEAD (8 + 1 + 1 + 1 + 20 + 1 + 3 + 64 + 1 + 1)

struct record {
    enum record_kind kind; /* which of the four */
    uint64_t id;           /* H, K: the message's id; F: the one forgotten; I: the mark */
    const char *name;      /* H: the room (empty: everyone's); K, F: the userId; I: NULL */
    size_t name_len;       /* 0 to 64 (1 to 64 for a userId) */
    const char *json;      /* H, K: the message's JSON; F, I: NULL */
    size_t json_len;       /* at least 2 for H and K ("{}"), else 0 */
    size_t size;           /* read: bytes of the line, '\n' included */
};

enum record_status {
    RECORD_OK,        /* *rec is a whole record of rec->size bytes */
    RECORD_NEED_MORE, /* no '\n' yet, and nothing wrong so far but perhaps the CRC:
                       * at the end of a file, a torn last record */
    RECORD_DAMAGED,   /* *bad says where and why */
};

struct record_damage {
    size_t offset;   /* of the first bad byte from buf's start, always one that is
                      * there; for a CRC that does not match, 0 (the CRC itself);
                      * for a name its rule refuses, the first digit of its length */
    const char *why; /* one line, such as "checksum does not match" */
};

/* CRC-32C (Castagnoli, reflected polynomial 0x82F63B78, as iSCSI, RFC 3720
 * section B.4) of data[0..len); crc32c("123456789") is 0xE3069283. */
uint32_t crc32c(const void *data, size_t len);

/* Reads the record at the start of buf[0..len), whose line ('\n' included)
 * may be at most max_line bytes. Never reads buf[len] or beyond, nor past
 * max_line bytes. On RECORD_OK, *rec's name and json point into buf; a line
 * of max_line bytes or more without a '\n' is RECORD_DAMAGED, never
 * RECORD_NEED_MORE, so a reader never waits on one for ever (and with
 * max_line 0 everything is damaged at 0). *rec means something only on
 * RECORD_OK, *bad only on RECORD_DAMAGED. */
enum record_status record_read(const char *buf, size_t len, size_t max_line,
                               struct record *rec, struct record_damage *bad);

/* The bytes of rec's line ('\n' included), or 0 when rec cannot be written:
 * an unknown kind, a name its rule refuses (userId or room), a message that
 * is not '{' .. '}' of valid UTF-8 without control bytes; what record_read
 * would refuse. rec->size is not read. For a journal's live size too. */
size_t record_size(const struct record *rec);

/* Appends rec's line to b. Returns false when rec cannot be written
 * (record_size is 0: b is left as it was) or b refused the bytes (b->failed
 * is then set, as buf.h has it). */
bool record_append(struct buf *b, const struct record *rec);

/* ---- A whole journal ---- */

enum record_tail {
    RECORD_CLEAN,   /* whole records to the end */
    RECORD_TORN,    /* the last record is cut short (NEED_MORE at the end): cut it off */
    RECORD_BROKEN,  /* a record is damaged: damage says where; end is where it starts */
};

struct record_scan {
    size_t records;              /* whole records before end */
    size_t end;                  /* bytes of those records: what a repair keeps */
    enum record_tail tail;       /* what comes after end */
    struct record_damage damage; /* RECORD_BROKEN: offset from buf's start, and why */
};

/* Reads buf[0..len), a whole journal, record by record up to the first that
 * is not whole, calling each(rec, arg) for every whole one in order (each may
 * be NULL). Start-up replays in this one pass and then decides from *scan:
 * clean, cut a torn tail, or refuse (unless repairing, which keeps what each
 * has seen already). */
void record_scan(const char *buf, size_t len, size_t max_line,
                 void (*each)(const struct record *rec, void *arg), void *arg,
                 struct record_scan *scan);

#endif

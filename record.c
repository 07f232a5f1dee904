/* record.c - owns the journal's record line (record.h has the format): the
 * CRC-32C, the checks a record's fields must pass, the encoder, the
 * incremental reader and the scan of a whole journal. No I/O, no state; the
 * reader allocates nothing and points into the caller's buffer. */
#include "record.h"

#include <string.h>

#include "message.h"
#include "ws.h"

/* ---- CRC-32C ------------------------------------------------------------- */

/* crc_table[i] is byte i shifted through the reflected Castagnoli polynomial
 * 0x82F63B78 eight times, so the CRC takes a byte a step. Written out rather
 * than built at start so that the codec keeps no state to set up. */
static const uint32_t crc_table[256] = {
    0x00000000, 0xf26b8303, 0xe13b70f7, 0x1350f3f4, 0xc79a971f, 0x35f1141c,
    0x26a1e7e8, 0xd4ca64eb, 0x8ad958cf, 0x78b2dbcc, 0x6be22838, 0x9989ab3b,
    0x4d43cfd0, 0xbf284cd3, 0xac78bf27, 0x5e133c24, 0x105ec76f, 0xe235446c,
    0xf165b798, 0x030e349b, 0xd7c45070, 0x25afd373, 0x36ff2087, 0xc494a384,
    0x9a879fa0, 0x68ec1ca3, 0x7bbcef57, 0x89d76c54, 0x5d1d08bf, 0xaf768bbc,
    0xbc267848, 0x4e4dfb4b, 0x20bd8ede, 0xd2d60ddd, 0xc186fe29, 0x33ed7d2a,
    0xe72719c1, 0x154c9ac2, 0x061c6936, 0xf477ea35, 0xaa64d611, 0x580f5512,
    0x4b5fa6e6, 0xb93425e5, 0x6dfe410e, 0x9f95c20d, 0x8cc531f9, 0x7eaeb2fa,
    0x30e349b1, 0xc288cab2, 0xd1d83946, 0x23b3ba45, 0xf779deae, 0x05125dad,
    0x1642ae59, 0xe4292d5a, 0xba3a117e, 0x4851927d, 0x5b016189, 0xa96ae28a,
    0x7da08661, 0x8fcb0562, 0x9c9bf696, 0x6ef07595, 0x417b1dbc, 0xb3109ebf,
    0xa0406d4b, 0x522bee48, 0x86e18aa3, 0x748a09a0, 0x67dafa54, 0x95b17957,
    0xcba24573, 0x39c9c670, 0x2a993584, 0xd8f2b687, 0x0c38d26c, 0xfe53516f,
    0xed03a29b, 0x1f682198, 0x5125dad3, 0xa34e59d0, 0xb01eaa24, 0x42752927,
    0x96bf4dcc, 0x64d4cecf, 0x77843d3b, 0x85efbe38, 0xdbfc821c, 0x2997011f,
    0x3ac7f2eb, 0xc8ac71e8, 0x1c661503, 0xee0d9600, 0xfd5d65f4, 0x0f36e6f7,
    0x61c69362, 0x93ad1061, 0x80fde395, 0x72966096, 0xa65c047d, 0x5437877e,
    0x4767748a, 0xb50cf789, 0xeb1fcbad, 0x197448ae, 0x0a24bb5a, 0xf84f3859,
    0x2c855cb2, 0xdeeedfb1, 0xcdbe2c45, 0x3fd5af46, 0x7198540d, 0x83f3d70e,
    0x90a324fa, 0x62c8a7f9, 0xb602c312, 0x44694011, 0x5739b3e5, 0xa55230e6,
    0xfb410cc2, 0x092a8fc1, 0x1a7a7c35, 0xe811ff36, 0x3cdb9bdd, 0xceb018de,
    0xdde0eb2a, 0x2f8b6829, 0x82f63b78, 0x709db87b, 0x63cd4b8f, 0x91a6c88c,
    0x456cac67, 0xb7072f64, 0xa457dc90, 0x563c5f93, 0x082f63b7, 0xfa44e0b4,
    0xe9141340, 0x1b7f9043, 0xcfb5f4a8, 0x3dde77ab, 0x2e8e845f, 0xdce5075c,
    0x92a8fc17, 0x60c37f14, 0x73938ce0, 0x81f80fe3, 0x55326b08, 0xa759e80b,
    0xb4091bff, 0x466298fc, 0x1871a4d8, 0xea1a27db, 0xf94ad42f, 0x0b21572c,
    0xdfeb33c7, 0x2d80b0c4, 0x3ed04330, 0xccbbc033, 0xa24bb5a6, 0x502036a5,
    0x4370c551, 0xb11b4652, 0x65d122b9, 0x97baa1ba, 0x84ea524e, 0x7681d14d,
    0x2892ed69, 0xdaf96e6a, 0xc9a99d9e, 0x3bc21e9d, 0xef087a76, 0x1d63f975,
    0x0e330a81, 0xfc588982, 0xb21572c9, 0x407ef1ca, 0x532e023e, 0xa145813d,
    0x758fe5d6, 0x87e466d5, 0x94b49521, 0x66df1622, 0x38cc2a06, 0xcaa7a905,
    0xd9f75af1, 0x2b9cd9f2, 0xff56bd19, 0x0d3d3e1a, 0x1e6dcdee, 0xec064eed,
    0xc38d26c4, 0x31e6a5c7, 0x22b65633, 0xd0ddd530, 0x0417b1db, 0xf67c32d8,
    0xe52cc12c, 0x1747422f, 0x49547e0b, 0xbb3ffd08, 0xa86f0efc, 0x5a048dff,
    0x8ecee914, 0x7ca56a17, 0x6ff599e3, 0x9d9e1ae0, 0xd3d3e1ab, 0x21b862a8,
    0x32e8915c, 0xc083125f, 0x144976b4, 0xe622f5b7, 0xf5720643, 0x07198540,
    0x590ab964, 0xab613a67, 0xb831c993, 0x4a5a4a90, 0x9e902e7b, 0x6cfbad78,
    0x7fab5e8c, 0x8dc0dd8f, 0xe330a81a, 0x115b2b19, 0x020bd8ed, 0xf0605bee,
    0x24aa3f05, 0xd6c1bc06, 0xc5914ff2, 0x37faccf1, 0x69e9f0d5, 0x9b8273d6,
    0x88d28022, 0x7ab90321, 0xae7367ca, 0x5c18e4c9, 0x4f48173d, 0xbd23943e,
    0xf36e6f75, 0x0105ec76, 0x12551f82, 0xe03e9c81, 0x34f4f86a, 0xc69f7b69,
    0xd5cf889d, 0x27a40b9e, 0x79b737ba, 0x8bdcb4b9, 0x988c474d, 0x6ae7c44e,
    0xbe2da0a5, 0x4c4623a6, 0x5f16d052, 0xad7d5351,
};

uint32_t crc32c(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint32_t crc = 0xFFFFFFFFu;

    for (size_t i = 0; i < len; i++)
        crc = crc_table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return crc ^ 0xFFFFFFFFu;
}

/* ---- What a record's fields may hold ---------------------------------------- */

enum {
    CRC_DIGITS = 8,             /* the CRC in hex */
    KIND_AT = CRC_DIGITS + 1,   /* where the kind, and the bytes the CRC covers, start */
};

static bool has_name(enum record_kind kind)
{
    return kind == RECORD_HISTORY || kind == RECORD_KEPT || kind == RECORD_FORGET;
}

static bool has_json(enum record_kind kind)
{
    return kind == RECORD_HISTORY || kind == RECORD_KEPT;
}

static bool kind_known(int c)
{
    return c == RECORD_HISTORY || c == RECORD_KEPT || c == RECORD_FORGET || c == RECORD_ID;
}

/* NULL when name[0..len) may stand in a record of this kind: a userId for K
 * and F, a room or nothing (everyone's) for H. (The reader refuses a length
 * above 64 at its digits already; the encoder learns it here.) */
static const char *name_problem(enum record_kind kind, const char *name, size_t len)
{
    if (kind == RECORD_HISTORY)
        return len == 0 ? NULL : message_room_problem(name, len);
    return message_user_id_problem(name, len);
}

/* The offset of the first byte of s[0..n) that no message may hold there (a
 * first byte other than '{', a control byte, a byte that breaks UTF-8), with
 * why; n when there is none. It looks only at s[0..n), so the reader can
 * apply it to the part of a message that has arrived: the verdict on a byte
 * never changes with what follows it. */
static size_t json_problem(const char *s, size_t n, const char **why)
{
    const uint8_t *u = (const uint8_t *)s;
    size_t ctl = 0;

    if (n > 0 && s[0] != '{') {
        *why = "message is not a JSON object";
        return 0;
    }
    while (ctl < n && u[ctl] >= 0x20)
        ctl++;
    if (utf8_validate(UTF8_ACCEPT, u, ctl) == UTF8_REJECT) {
        /* Rare, so find the very byte one at a time: the validator answers
         * UTF8_REJECT at the first byte that shows the text invalid. */
        uint32_t state = UTF8_ACCEPT;
        size_t i = 0;
        while ((state = utf8_validate(state, u + i, 1)) != UTF8_REJECT)
            i++;
        *why = "message is not valid UTF-8";
        return i;
    }
    *why = "message holds a control character";
    return ctl;
}

/* A whole message: '{' to '}' with nothing json_problem refuses. A last byte
 * '}' with no UTF-8 error before it also means no character is left open. */
static bool json_whole(const char *s, size_t n)
{
    const char *why;
    return n >= 2 && s[n - 1] == '}' && json_problem(s, n, &why) == n;
}

/* ---- The encoder ------------------------------------------------------------ */

static size_t decimal_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

static char *put_decimal(char *o, uint64_t v)
{
    size_t n = decimal_len(v);
    for (size_t i = n; i > 0; i--) {
        o[i - 1] = (char)('0' + v % 10);
        v /= 10;
    }
    return o + n;
}

size_t record_size(const struct record *rec)
{
    if (!kind_known(rec->kind))
        return 0;
    size_t n = KIND_AT + 1 + 1 + decimal_len(rec->id) + 1; /* "crc K id\n" */
    if (has_name(rec->kind)) {
        if (name_problem(rec->kind, rec->name, rec->name_len))
            return 0;
        n += 1 + decimal_len(rec->name_len) + 1 + rec->name_len;
    }
    if (has_json(rec->kind)) {
        if (!json_whole(rec->json, rec->json_len))
            return 0;
        n += 1 + rec->json_len;
    }
    return n;
}

/* Writes rec's line, which record_size found writable, to out; returns its
 * length. The CRC goes in last, over what was written after it. */
static size_t put_record(char *out, const struct record *rec)
{
    static const char hex[] = "0123456789abcdef";
    char *o = out + KIND_AT;

    *o++ = (char)rec->kind;
    *o++ = ' ';
    o = put_decimal(o, rec->id);
    if (has_name(rec->kind)) {
        *o++ = ' ';
        o = put_decimal(o, rec->name_len);
        *o++ = ':';
        if (rec->name_len)
            memcpy(o, rec->name, rec->name_len);
        o += rec->name_len;
    }
    if (has_json(rec->kind)) {
        *o++ = ' ';
        memcpy(o, rec->json, rec->json_len);
        o += rec->json_len;
    }
    uint32_t crc = crc32c(out + KIND_AT, (size_t)(o - (out + KIND_AT)));
    for (int i = CRC_DIGITS - 1; i >= 0; i--, crc >>= 4)
        out[i] = hex[crc & 0xF];
    out[CRC_DIGITS] = ' ';
    *o++ = '\n';
    return (size_t)(o - out);
}

bool record_append(struct buf *b, const struct record *rec)
{
    size_t n = record_size(rec);
    if (n == 0)
        return false;
    char *at = buf_reserve(b, n);
    if (!at)
        return false;
    b->len += put_record(at, rec);
    return true;
}

/* ---- The reader ------------------------------------------------------------- */

/* What the reader may look at: buf[0..end), which a '\n' at buf[end] closes
 * when whole. */
struct line {
    const char *buf; /* the record's first byte */
    size_t end;      /* bytes before the '\n', or all there are (up to max_line) */
    bool whole;      /* buf[end] is the line's '\n' */
};

/* Each step of the reader checks the bytes of one field: they are right
 * (STEP_OK), they run out before the field can be judged (STEP_MORE, only
 * when the line is not whole), or one is wrong (STEP_BAD, *bad filled). */
enum step { STEP_OK, STEP_MORE, STEP_BAD };

static enum step fail(struct record_damage *bad, size_t offset, const char *why)
{
    *bad = (struct record_damage){.offset = offset, .why = why};
    return STEP_BAD;
}

/* The field needs a byte at end: wait for it, or, on a whole line, the '\n'
 * came too soon. */
static enum step ran_out(const struct line *l, struct record_damage *bad)
{
    return l->whole ? fail(bad, l->end, "line ends early") : STEP_MORE;
}

static enum step expect(const struct line *l, size_t *at, char c, const char *why,
                        struct record_damage *bad)
{
    if (*at == l->end)
        return ran_out(l, bad);
    if (l->buf[*at] != c)
        return fail(bad, *at, why);
    (*at)++;
    return STEP_OK;
}

/* A decimal number at most max, in its one spelling. It waits while its
 * digits run to the end of what is there, since another digit may follow. */
static enum step number(const struct line *l, size_t *at, uint64_t max, const char *too_big,
                        uint64_t *out, struct record_damage *bad)
{
    size_t start = *at;
    uint64_t v = 0;

    for (; *at < l->end && l->buf[*at] >= '0' && l->buf[*at] <= '9'; (*at)++) {
        unsigned d = (unsigned)(l->buf[*at] - '0');
        if (*at > start && v == 0)
            return fail(bad, *at, "number has a leading zero");
        if (v > (max - d) / 10)
            return fail(bad, *at, too_big);
        v = v * 10 + d;
    }
    if (*at == start && *at < l->end)
        return fail(bad, *at, "expected a decimal number");
    if (*at == l->end && (*at == start || !l->whole))
        return ran_out(l, bad);
    *out = v;
    return STEP_OK;
}

/* " <length>:<bytes>", the name checked by its kind's rule once it is all
 * there. A problem is reported at the length's first digit, a byte that is
 * there even when the name is empty. */
static enum step name(const struct line *l, size_t *at, struct record *rec,
                      struct record_damage *bad)
{
    uint64_t n;
    enum step s;

    if ((s = expect(l, at, ' ', "expected a space before the name", bad)) != STEP_OK)
        return s;
    size_t field = *at;
    if ((s = number(l, at, MESSAGE_MAX_USER_ID, "name is longer than 64 bytes", &n, bad)) !=
            STEP_OK ||
        (s = expect(l, at, ':', "expected ':' after the name's length", bad)) != STEP_OK)
        return s;
    if (l->end - *at < n)
        return ran_out(l, bad);
    rec->name = l->buf + *at;
    rec->name_len = (size_t)n;
    const char *why = name_problem(rec->kind, rec->name, rec->name_len);
    if (why)
        return fail(bad, field, why);
    *at += rec->name_len;
    return STEP_OK;
}

/* " <message>" to the end of the line. */
static enum step json(const struct line *l, size_t *at, struct record *rec,
                      struct record_damage *bad)
{
    enum step s = expect(l, at, ' ', "expected a space before the message", bad);
    if (s != STEP_OK)
        return s;
    const char *why;
    size_t n = l->end - *at, wrong = json_problem(l->buf + *at, n, &why);
    if (wrong < n)
        return fail(bad, *at + wrong, why);
    if (n == 0 || !l->whole)
        return ran_out(l, bad);
    if (n < 2 || l->buf[l->end - 1] != '}')
        return fail(bad, l->end, "message does not end with '}'");
    rec->json = l->buf + *at;
    rec->json_len = n;
    *at = l->end;
    return STEP_OK;
}

/* Every field of the line in order, up to its '\n' (the CRC is checked
 * after, over a line known whole). */
static enum step fields(const struct line *l, struct record *rec, struct record_damage *bad)
{
    size_t at = 0;
    enum step s;

    for (; at < CRC_DIGITS; at++) {
        if (at == l->end)
            return ran_out(l, bad);
        char c = l->buf[at];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return fail(bad, at, "checksum is not 8 lowercase hex digits");
    }
    if ((s = expect(l, &at, ' ', "expected a space after the checksum", bad)) != STEP_OK)
        return s;
    if (at == l->end)
        return ran_out(l, bad);
    if (!kind_known(l->buf[at]))
        return fail(bad, at, "unknown record kind");
    *rec = (struct record){.kind = (enum record_kind)l->buf[at++]};
    if ((s = expect(l, &at, ' ', "expected a space after the kind", bad)) != STEP_OK ||
        (s = number(l, &at, UINT64_MAX, "id is larger than 2^64-1", &rec->id, bad)) != STEP_OK)
        return s;
    if (has_name(rec->kind) && (s = name(l, &at, rec, bad)) != STEP_OK)
        return s;
    if (has_json(rec->kind) && (s = json(l, &at, rec, bad)) != STEP_OK)
        return s;
    if (at < l->end)
        return fail(bad, at, "expected the end of the line");
    return l->whole ? STEP_OK : STEP_MORE;
}

static uint32_t hex_value(const char *s)
{
    uint32_t v = 0;
    for (int i = 0; i < CRC_DIGITS; i++)
        v = v << 4 | (uint32_t)(s[i] <= '9' ? s[i] - '0' : s[i] - 'a' + 10);
    return v;
}

enum record_status record_read(const char *buf, size_t len, size_t max_line,
                               struct record *rec, struct record_damage *bad)
{
    size_t look = len < max_line ? len : max_line;
    const char *nl = look ? memchr(buf, '\n', look) : NULL;
    struct line l = {.buf = buf, .end = nl ? (size_t)(nl - buf) : look, .whole = nl != NULL};

    switch (fields(&l, rec, bad)) {
    case STEP_BAD:
        return RECORD_DAMAGED;
    case STEP_MORE:
        if (look < max_line)
            return RECORD_NEED_MORE;
        /* max_line bytes and no '\n' among them: the '\n' was due by the last. */
        fail(bad, max_line ? max_line - 1 : 0, "line is longer than the longest record");
        return RECORD_DAMAGED;
    case STEP_OK:
        break;
    }
    if (crc32c(buf + KIND_AT, l.end - KIND_AT) != hex_value(buf)) {
        fail(bad, 0, "checksum does not match");
        return RECORD_DAMAGED;
    }
    rec->size = l.end + 1;
    return RECORD_OK;
}

/* ---- A whole journal -------------------------------------------------------- */

void record_scan(const char *buf, size_t len, size_t max_line,
                 void (*each)(const struct record *rec, void *arg), void *arg,
                 struct record_scan *scan)
{
    *scan = (struct record_scan){.tail = RECORD_CLEAN};
    while (scan->end < len) {
        struct record rec;
        struct record_damage bad;
        switch (record_read(buf + scan->end, len - scan->end, max_line, &rec, &bad)) {
        case RECORD_OK:
            if (each)
                each(&rec, arg);
            scan->records++;
            scan->end += rec.size;
            break;
        case RECORD_NEED_MORE:
            scan->tail = RECORD_TORN;
            return;
        case RECORD_DAMAGED:
            scan->tail = RECORD_BROKEN;
            scan->damage = (struct record_damage){.offset = scan->end + bad.offset, .why = bad.why};
            return;
        }
    }
}

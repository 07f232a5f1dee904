/* fuzz_record.c - libFuzzer harness for record.c: the journal's record
 * reader, the scan of a whole journal, the encoder and the CRC-32C. The
 * first input byte is a knob; the rest is a journal, or (bit 3) the fields of
 * one record to encode.
 *
 * knob bits 0-1: max_line: no limit, 64, 13 (the shortest record), or half
 *                the input;
 *      bit 2:    seal: write each line's CRC again before reading, so that
 *                mutated lines pass it and the field rules are what is tried;
 *      bit 3:    encode instead: byte 1 picks the kind, bytes 2-9 the id,
 *                byte 10 the name's length, then the name, then the message.
 *
 * Properties, beyond memory safety (no read past the input, no leak):
 * - a record read is a whole line inside the input and max_line, with fields
 *   inside it, and written again gives the very same bytes;
 * - NEED_MORE means no '\n' yet and fewer than max_line bytes; DAMAGED names
 *   a byte of the input within max_line, with a one-line reason;
 * - a prefix answers NEED_MORE or what the whole does;
 * - the scan agrees with reading record by record, and what it keeps (the
 *   bytes before end) is a clean journal of the same records;
 * - the encoder refuses exactly what the reader refuses: a line built here
 *   from the fields, with a right CRC, reads back iff record_size accepts;
 * - crc32c agrees with a bit-at-a-time reference. */
#include "fuzz/fuzz.h"
#include "record.h"

enum {
    KNOB_MAX = 3,     /* bits 0-1 */
    KNOB_SEAL = 4,    /* bit 2 */
    KNOB_ENCODE = 8,  /* bit 3 */
};

static uint32_t ref_crc(const uint8_t *p, size_t len)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = crc & 1 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
    }
    return ~crc;
}

/* Writes the CRC of each line of at least 10 bytes over its first 8. */
static void seal_lines(uint8_t *d, size_t len)
{
    for (size_t at = 0; at < len;) {
        uint8_t *nl = memchr(d + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - d) : len;
        if (end - at >= 10) {
            char hex[9];
            snprintf(hex, sizeof hex, "%08x", ref_crc(d + at + 9, end - at - 9));
            memcpy(d + at, hex, 8);
        }
        at = end + 1;
    }
}

static bool inside(const char *p, size_t n, const char *buf, size_t len)
{
    return p >= buf && (size_t)(p - buf) <= len && n <= len - (size_t)(p - buf);
}

/* A record read from buf: where it lies, what it holds, and that it is
 * written back byte for byte. */
static void check_record(const char *buf, size_t len, size_t max_line, const struct record *rec)
{
    EXPECT(rec->size >= 13 && rec->size <= len && rec->size <= max_line);
    EXPECT(buf[rec->size - 1] == '\n' && memchr(buf, '\n', rec->size) == buf + rec->size - 1);
    bool named = rec->kind != RECORD_ID, json = named && rec->kind != RECORD_FORGET;
    EXPECT(rec->kind == RECORD_HISTORY || rec->kind == RECORD_KEPT ||
           rec->kind == RECORD_FORGET || rec->kind == RECORD_ID);
    EXPECT(named ? inside(rec->name, rec->name_len, buf, rec->size) && rec->name_len <= 64
                 : !rec->name && !rec->name_len);
    EXPECT(json ? inside(rec->json, rec->json_len, buf, rec->size) && rec->json_len >= 2
                : !rec->json && !rec->json_len);

    struct buf b = buf_make(rec->size);
    EXPECT(record_size(rec) == rec->size);
    EXPECT(record_append(&b, rec) && b.len == rec->size && memcmp(b.data, buf, b.len) == 0);
    buf_free(&b);
}

static void check_damage(size_t len, size_t max_line, const struct record_damage *bad)
{
    EXPECT(bad->offset < len && bad->offset < max_line);
    EXPECT(bad->why && bad->why[0] && !strchr(bad->why, '\n'));
}

static enum record_status read_checked(const char *buf, size_t len, size_t max_line,
                                       struct record *rec, struct record_damage *bad)
{
    enum record_status st = record_read(buf, len, max_line, rec, bad);
    if (st == RECORD_OK)
        check_record(buf, len, max_line, rec);
    else if (st == RECORD_DAMAGED)
        check_damage(len, max_line, bad);
    else
        EXPECT(st == RECORD_NEED_MORE && !memchr(buf, '\n', len) && len < max_line);
    return st;
}

/* buf[0..cut), in a block of its own: NEED_MORE, or the whole's verdict. */
static void check_prefix(const char *buf, size_t cut, size_t max_line, enum record_status whole,
                         const struct record *wrec, const struct record_damage *wbad)
{
    char *copy = (char *)fuzz_copy(buf, cut);
    struct record rec;
    struct record_damage bad;
    enum record_status st = read_checked(copy, cut, max_line, &rec, &bad);

    EXPECT(st == RECORD_NEED_MORE || st == whole);
    if (st == RECORD_OK)
        EXPECT(rec.size == wrec->size);
    if (st == RECORD_DAMAGED)
        EXPECT(bad.offset == wbad->offset && bad.why == wbad->why);
    free(copy);
}

/* ---- A whole journal ------------------------------------------------------- */

struct walk {
    const char *buf;  /* the journal */
    size_t len;       /* its length */
    size_t max_line;  /* as given to the scan */
    size_t at;        /* where the next record should start */
    size_t count;     /* records seen */
};

/* Each record the scan hands over is the one read at the next boundary. */
static void each(const struct record *rec, void *arg)
{
    struct walk *w = arg;
    check_record(w->buf + w->at, w->len - w->at, w->max_line, rec);
    w->at += rec->size;
    w->count++;
}

static void check_scan(const char *buf, size_t len, size_t max_line)
{
    struct walk w = {.buf = buf, .len = len, .max_line = max_line};
    struct record_scan scan, again;
    struct record rec;
    struct record_damage bad;

    record_scan(buf, len, max_line, each, &w, &scan);
    EXPECT(scan.records == w.count && scan.end == w.at && scan.end <= len);
    switch (scan.tail) {
    case RECORD_CLEAN:
        EXPECT(scan.end == len);
        break;
    case RECORD_TORN:
        EXPECT(scan.end < len);
        EXPECT(record_read(buf + scan.end, len - scan.end, max_line, &rec, &bad) ==
               RECORD_NEED_MORE);
        break;
    case RECORD_BROKEN:
        EXPECT(scan.damage.offset >= scan.end && scan.damage.offset < len);
        EXPECT(record_read(buf + scan.end, len - scan.end, max_line, &rec, &bad) ==
               RECORD_DAMAGED);
        EXPECT(bad.offset == scan.damage.offset - scan.end && bad.why == scan.damage.why);
        break;
    }
    /* What a repair keeps is a clean journal of the same records. */
    char *kept = (char *)fuzz_copy(buf, scan.end);
    record_scan(kept, scan.end, max_line, NULL, NULL, &again);
    EXPECT(again.tail == RECORD_CLEAN && again.records == scan.records && again.end == scan.end);
    free(kept);
}

/* ---- The encoder against the reader ----------------------------------------- */

static void check_encode(const uint8_t *d, size_t size)
{
    static const enum record_kind kinds[] = {RECORD_HISTORY, RECORD_KEPT, RECORD_FORGET,
                                             RECORD_ID};
    if (size < 11)
        return;
    struct record in = {.kind = kinds[d[0] & 3]};
    for (int i = 0; i < 8; i++)
        in.id = in.id << 8 | d[1 + i];
    size_t name_len = d[9] % 70, rest = size - 10;
    if (name_len > rest)
        name_len = rest;
    bool named = in.kind != RECORD_ID, has_json = named && in.kind != RECORD_FORGET;
    if (named) {
        in.name = (const char *)d + 10;
        in.name_len = name_len;
    }
    if (has_json) {
        in.json = (const char *)d + 10 + name_len;
        in.json_len = rest - name_len;
    }

    /* The line spelled out here, with the reference CRC. A '\n' inside would
     * make it two lines, which says nothing about these fields. */
    size_t cap = 64 + name_len + in.json_len;
    char *line = malloc(cap), *body = line + 9;
    int n = snprintf(body, cap - 9, "%c %llu", (char)in.kind, (unsigned long long)in.id);
    if (named)
        n += snprintf(body + n, cap - 9 - (size_t)n, " %zu:", in.name_len);
    if (named && in.name_len)
        memcpy(body + n, in.name, in.name_len);
    n += (int)(named ? in.name_len : 0);
    if (has_json) {
        body[n++] = ' ';
        if (in.json_len)
            memcpy(body + n, in.json, in.json_len);
        n += (int)in.json_len;
    }
    snprintf(line, 9, "%08x", ref_crc((const uint8_t *)body, (size_t)n));
    line[8] = ' ';
    body[n] = '\n';
    size_t len = 9 + (size_t)n + 1;
    bool one_line = memchr(line, '\n', len) == line + len - 1;

    struct record out;
    struct record_damage bad;
    size_t want = record_size(&in);
    enum record_status st = record_read(line, len, SIZE_MAX, &out, &bad);
    if (one_line)
        EXPECT((st == RECORD_OK) == (want > 0));
    if (want > 0) {
        EXPECT(one_line && want == len);
        struct buf b = buf_make(SIZE_MAX);
        EXPECT(record_append(&b, &in) && b.len == len && memcmp(b.data, line, len) == 0);
        buf_free(&b);
        EXPECT(out.kind == in.kind && out.id == in.id && out.name_len == in.name_len &&
               out.json_len == in.json_len);
    }
    free(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t knob = data[0];
    size_t len = size - 1;
    if (knob & KNOB_ENCODE) {
        check_encode(data + 1, len);
        return 0;
    }

    uint8_t *d = fuzz_copy(data + 1, len);
    if (knob & KNOB_SEAL)
        seal_lines(d, len);
    const char *buf = (const char *)d;
    static const size_t fixed[] = {SIZE_MAX, 64, 13};
    size_t max_line = (knob & KNOB_MAX) < 3 ? fixed[knob & KNOB_MAX] : len / 2 + 1;

    EXPECT(crc32c(d, len) == ref_crc(d, len));

    struct record rec = {0};
    struct record_damage bad = {0};
    enum record_status st = read_checked(buf, len, max_line, &rec, &bad);
    check_prefix(buf, len / 2, max_line, st, &rec, &bad);
    if (len)
        check_prefix(buf, len - 1, max_line, st, &rec, &bad);
    check_scan(buf, len, max_line);
    free(d);
    return 0;
}

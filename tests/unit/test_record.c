/* test_record.c - the journal's record line (record.c): the CRC-32C against
 * its check values and a bit-at-a-time reference, round trips of every kind,
 * what the encoder refuses, every damage the reader names and where, every
 * prefix of a record and of a journal, every byte of a journal changed to
 * every other value, lines past the limit, and the scan's three verdicts. */
#include "check.h"
#include "record.h"

#include <stdbool.h>
#include <stdint.h>

#define BIG (1u << 20) /* a max_line that no record here comes near */

/* ---- Helpers -------------------------------------------------------------- */

/* CRC-32C one bit at a time, straight from the polynomial, to check the table. */
static uint32_t ref_crc(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint32_t crc = 0xFFFFFFFFu;

    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = crc & 1 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
    }
    return ~crc;
}

/* "<crc> body\n" for any body, with the CRC from the reference: how tests
 * make lines that pass the CRC and break some other rule. */
static size_t seal(char *out, const char *body)
{
    size_t n = strlen(body);
    sprintf(out, "%08x ", ref_crc(body, n));
    memcpy(out + 9, body, n);
    out[9 + n] = '\n';
    return 10 + n;
}

static bool same(const char *p, size_t n, const char *want, size_t want_n)
{
    return n == want_n && (n == 0 || memcmp(p, want, n) == 0);
}

/* Reads s[0..n) from the end of a heap block, so ASan sees any read past it;
 * the copy lives until the next call, for the pointers in rec. */
static enum record_status read_tail(const char *s, size_t n, size_t max_line,
                                    struct record *rec, struct record_damage *bad)
{
    static char *copy;
    free(copy);
    copy = check_tail_copy(s, n);
    enum record_status st = record_read(copy, n, max_line, rec, bad);
    if (st == RECORD_OK)
        CHECK(rec->size <= n && (!rec->name || (rec->name >= copy && rec->name < copy + n)) &&
              (!rec->json || (rec->json > copy && rec->json + rec->json_len < copy + n)));
    return st;
}

/* Every proper prefix of s[0..n) is NEED_MORE or answers as the whole does
 * (the same damage, at the same byte); counts the prefixes that answered
 * early. */
static size_t prefixes_agree(const char *s, size_t n, size_t max_line, bool *ok)
{
    struct record whole_rec, rec;
    struct record_damage whole_bad = {0}, bad;
    enum record_status whole = read_tail(s, n, max_line, &whole_rec, &whole_bad);
    size_t early = 0;

    *ok = true;
    for (size_t cut = 0; cut < n; cut++) {
        enum record_status st = read_tail(s, cut, max_line, &rec, &bad);
        if (st == RECORD_NEED_MORE)
            continue;
        early++;
        if (st != whole || st != RECORD_DAMAGED || bad.offset != whole_bad.offset ||
            bad.why != whole_bad.why)
            *ok = false;
    }
    return early;
}

/* The damage that reading s[0..n) reports, or why NULL when there is none. */
static struct record_damage damage_of(const char *s, size_t n, size_t max_line)
{
    struct record rec;
    struct record_damage bad = {.why = NULL};
    if (read_tail(s, n, max_line, &rec, &bad) != RECORD_DAMAGED)
        bad.why = NULL;
    return bad;
}

/* ---- CRC-32C -------------------------------------------------------------- */

static void test_crc(void)
{
    uint8_t b[32];

    CHECK(crc32c("123456789", 9) == 0xE3069283u);
    CHECK(crc32c("", 0) == 0);
    /* RFC 3720 section B.4's examples. */
    memset(b, 0, sizeof b);
    CHECK(crc32c(b, sizeof b) == 0x8A9136AAu);
    memset(b, 0xFF, sizeof b);
    CHECK(crc32c(b, sizeof b) == 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        b[i] = (uint8_t)i;
    CHECK(crc32c(b, sizeof b) == 0x46DD794Eu);
    for (int i = 0; i < 32; i++)
        b[i] = (uint8_t)(31 - i);
    CHECK(crc32c(b, sizeof b) == 0x113FDB5Cu);

    /* The table against the polynomial, on every length up to 300 of
     * pseudo-random bytes. */
    uint8_t r[300];
    uint32_t x = 1;
    for (size_t i = 0; i < sizeof r; i++)
        r[i] = (uint8_t)((x = x * 1103515245u + 12345u) >> 16);
    int wrong = 0;
    for (size_t n = 0; n <= sizeof r; n++)
        wrong += crc32c(r, n) != ref_crc(r, n);
    CHECK(wrong == 0);
}

/* ---- Round trips ---------------------------------------------------------- */

static const char *const names[] = {
    "alice", "tea break", "a,b,c", "12:34", ":", "0:", " lead", "trail ", "\xc3\xa9",
    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "\xf0\x9f\x98\x80 smile", "~!@#$%^&*()\"\\{}",
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",            /* 64 */
    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
    "\xc3\xa9\xc3\xa9",                                                              /* 64 */
};

static const char *const messages[] = {
    "{}",
    "{\"messageType\":1,\"mediaType\":0,\"from\":\"bob\",\"to\":\"\",\"content\":\"hello, "
    "everyone\",\"fileId\":\"\",\"url\":\"\",\"createAt\":1764000001500,\"updateAt\":"
    "1764000001500,\"id\":1764000001500001}",
    "{\"content\":\"a\\nb \\\"q\\\" \\\\ \\u0001 \\t \xc3\xa9 \xf0\x9f\x98\x80 \\u2028 \x7f\"}",
    "{\"content\":\"H 1 0: {} \\n 01234567 K\"}",
};

static const uint64_t ids[] = {0, 1, 9, 10, 1764000000000001u, UINT64_MAX};

/* Writes rec, checks its size and that it reads back whole, field for field,
 * only at its last byte; returns the line's length (in line). */
static size_t round_trip(const struct record *rec, char *line)
{
    struct buf b = buf_make(BIG);
    struct record got;
    struct record_damage bad;
    bool prefixes_ok;

    CHECK(record_append(&b, rec));
    CHECK(b.len == record_size(rec) && b.len > 0 && !b.failed);
    CHECK(memchr(b.data, '\n', b.len) == b.data + b.len - 1);
    size_t n = b.len;
    memcpy(line, b.data, n);
    buf_free(&b);

    CHECK(read_tail(line, n, BIG, &got, &bad) == RECORD_OK);
    CHECK(got.size == n && got.kind == rec->kind && got.id == rec->id);
    bool named = rec->kind != RECORD_ID, json = named && rec->kind != RECORD_FORGET;
    CHECK(named ? same(got.name, got.name_len, rec->name, rec->name_len) : !got.name);
    CHECK(json ? same(got.json, got.json_len, rec->json, rec->json_len) : !got.json);
    CHECK(prefixes_agree(line, n, BIG, &prefixes_ok) == 0 && prefixes_ok);
    /* A line of exactly max_line bytes fits; one byte less does not. */
    CHECK(read_tail(line, n, n, &got, &bad) == RECORD_OK);
    CHECK(read_tail(line, n, n - 1, &got, &bad) == RECORD_DAMAGED && bad.offset == n - 2);
    /* What follows the line is not read into it. */
    memcpy(line + n, "garbage", 8);
    CHECK(read_tail(line, n + 7, BIG, &got, &bad) == RECORD_OK && got.size == n);
    return n;
}

static void test_round_trips(void)
{
    char line[1024], want[1024];
    size_t n = 0;

    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        struct record rec = {.kind = RECORD_ID, .id = ids[i]};
        round_trip(&rec, line);
    }
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t len = strlen(names[i]);
        for (size_t m = 0; m < sizeof messages / sizeof messages[0]; m++) {
            struct record h = {.kind = RECORD_HISTORY, .id = ids[m], .name = names[i],
                               .name_len = len, .json = messages[m],
                               .json_len = strlen(messages[m])};
            round_trip(&h, line);
            h.kind = RECORD_KEPT;
            round_trip(&h, line);
        }
        struct record f = {.kind = RECORD_FORGET, .id = ids[i % 6], .name = names[i],
                           .name_len = len};
        round_trip(&f, line);
    }
    struct record everyone = {.kind = RECORD_HISTORY, .id = 7, .json = "{}", .json_len = 2};
    round_trip(&everyone, line);

    /* The bytes themselves, against the format as record.h spells it. */
    struct record examples[] = {
        {.kind = RECORD_ID, .id = 1764000000000000u},
        {.kind = RECORD_HISTORY, .id = 42, .json = "{\"id\":42}", .json_len = 9},
        {.kind = RECORD_HISTORY, .id = 43, .name = "tea break", .name_len = 9,
         .json = "{\"to\":\"tea break\"}", .json_len = 18},
        {.kind = RECORD_KEPT, .id = 44, .name = "carol", .name_len = 5, .json = "{}",
         .json_len = 2},
        {.kind = RECORD_FORGET, .id = 44, .name = "carol", .name_len = 5},
    };
    const char *bodies[] = {"I 1764000000000000", "H 42 0: {\"id\":42}",
                            "H 43 9:tea break {\"to\":\"tea break\"}", "K 44 5:carol {}",
                            "F 44 5:carol"};
    for (size_t i = 0; i < 5; i++) {
        n = round_trip(&examples[i], line);
        CHECK(same(line, n, want, seal(want, bodies[i])));
    }

    /* The lines record.h shows read as they stand. */
    const char *lines[] = {
        "c8097f86 I 1764000000000000\n",
        "a158ae5c H 1764000001500001 0: {\"messageType\":1,...,\"id\":1764000001500001}\n",
        "788865e2 H 1764000001600001 9:tea break {\"messageType\":1,...,\"to\":\"tea break\",...}\n",
        "1f412c19 K 1764000002000001 5:carol {\"messageType\":0,...,\"to\":\"carol\",...}\n",
        "0b728cd3 F 1764000002000001 5:carol\n",
    };
    struct record rec;
    struct record_damage bad;
    for (size_t i = 0; i < 5; i++)
        CHECK(read_tail(lines[i], strlen(lines[i]), BIG, &rec, &bad) == RECORD_OK &&
              (int)rec.kind == bodies[i][0]);
}

/* ---- What the encoder refuses -------------------------------------------- */

static void refused(struct record rec)
{
    struct buf b = buf_make(BIG);
    CHECK(record_size(&rec) == 0);
    CHECK(!record_append(&b, &rec) && b.len == 0 && !b.failed);
    buf_free(&b);
}

static void test_refused(void)
{
    const char *long65 = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
    struct record ok = {.kind = RECORD_KEPT, .id = 1, .name = "bob", .name_len = 3,
                        .json = "{\"a\":1}", .json_len = 7};
    struct record r;

    CHECK(record_size(&ok) == strlen("01234567 K 1 3:bob {\"a\":1}\n"));
    r = ok, r.kind = 'X', refused(r);
    r = ok, r.name = long65, r.name_len = 65, refused(r);
    r = ok, r.kind = RECORD_HISTORY, r.name = long65, r.name_len = 65, refused(r);
    r = ok, r.name_len = 0, refused(r);
    r = ok, r.kind = RECORD_FORGET, r.name_len = 0, refused(r);
    r = ok, r.name = "a\nb", refused(r);
    r = ok, r.kind = RECORD_HISTORY, r.name = "a\x7f" "b", refused(r);
    r = ok, r.name = "\xc3\x28", r.name_len = 2, refused(r);
    r = ok, r.name = "\xc2\x85", r.name_len = 2, refused(r); /* C1 NEL */
    r = ok, r.json = "{\"a\":\n}", refused(r);
    r = ok, r.json = "{\"a\":\t}", refused(r);
    r = ok, r.json = "{\"\x1f\":1}", refused(r);
    r = ok, r.json = "[\"a\",1]", refused(r);
    r = ok, r.json = "{\"a\":1 ", refused(r);
    r = ok, r.json = "{", r.json_len = 1, refused(r);
    r = ok, r.json = NULL, r.json_len = 0, refused(r);
    r = ok, r.json = "{\"\xff\":1}", refused(r);
    r = ok, r.json = "{\"\xe2\x82}", r.json_len = 5, refused(r); /* a character left open */
    /* F and I carry no message, and take none. */
    r = ok, r.kind = RECORD_FORGET, r.json = NULL;
    CHECK(record_size(&r) == strlen("01234567 F 1 3:bob\n"));

    struct buf tiny = buf_make(10);
    CHECK(!record_append(&tiny, &ok) && tiny.failed);
    buf_free(&tiny);
}

/* ---- Damage, named and placed --------------------------------------------- */

struct bad_case {
    const char *body;  /* sealed with a right CRC, unless raw */
    bool raw;          /* the line as it stands */
    const char *at;    /* the bad byte: where this first occurs (after the CRC)... */
    int off;           /* ...plus this many bytes */
    const char *why;   /* the reason, word for word */
};

static const struct bad_case bad_cases[] = {
    {"E3069283 I 5\n", true, "E", 0, "checksum is not 8 lowercase hex digits"},
    {"0123456 I 5\n", true, " ", 0, "checksum is not 8 lowercase hex digits"},
    {"012345678I 5\n", true, "8", 0, "expected a space after the checksum"},
    {"\n", true, "\n", 0, "line ends early"},
    {"0123abcd\n", true, "\n", 0, "line ends early"},
    {"X 5", false, "X", 0, "unknown record kind"},
    {"i 5", false, "i", 0, "unknown record kind"},
    {"I", false, "\n", 0, "line ends early"},
    {"I ", false, "\n", 0, "line ends early"},
    {"I-5", false, "-", 0, "expected a space after the kind"},
    {"I  5", false, "  5", 1, "expected a decimal number"},
    {"I +5", false, "+", 0, "expected a decimal number"},
    {"I 05", false, "5", 0, "number has a leading zero"},
    {"I 00", false, "00", 1, "number has a leading zero"},
    {"I 18446744073709551616", false, "6\n", 0, "id is larger than 2^64-1"},
    {"I 99999999999999999999", false, "99\n", 1, "id is larger than 2^64-1"},
    {"I 5 ", false, " \n", 0, "expected the end of the line"},
    {"I 5\r", false, "\r", 0, "expected the end of the line"},
    {"K 5", false, "\n", 0, "line ends early"},
    {"K 5 ", false, "\n", 0, "line ends early"},
    {"K 5  3:bob {}", false, "  3", 1, "expected a decimal number"},
    {"K 5 3 bob {}", false, " bob", 0, "expected ':' after the name's length"},
    {"K 5 03:bob {}", false, "3:", 0, "number has a leading zero"},
    {"K 5 65:x {}", false, "5:", 0, "name is longer than 64 bytes"},
    {"K 5 100:x {}", false, "0:", 0, "name is longer than 64 bytes"},
    {"K 5 0: {}", false, "0:", 0, "userId is empty"},
    {"F 5 0:", false, "0:", 0, "userId is empty"},
    {"K 5 3:a\x01" "c {}", false, "3:", 0, "userId holds a control character"},
    {"K 5 2:\xc3\x28 {}", false, "2:", 0, "userId is not valid UTF-8"},
    {"H 5 2:\xc2\x85 {}", false, "2:", 0, "a room name holds a control character"},
    {"K 5 9:bob {}", false, "\n", 0, "line ends early"},
    {"K 5 5:abc {}", false, "}\n", 0, "expected a space before the message"},
    {"H 5 0:{}", false, "{}", 0, "expected a space before the message"},
    {"H 5 0:", false, "\n", 0, "line ends early"},
    {"H 5 0: ", false, "\n", 0, "line ends early"},
    {"H 5 0:  {}", false, " {}", 0, "message is not a JSON object"},
    {"H 5 0: []", false, "[", 0, "message is not a JSON object"},
    {"H 5 0: {", false, "\n", 0, "message does not end with '}'"},
    {"H 5 0: {\"a\":1", false, "\n", 0, "message does not end with '}'"},
    {"H 5 0: {} ", false, "\n", 0, "message does not end with '}'"},
    {"H 5 0: {\"a\":\"\x01\"}", false, "\x01", 0, "message holds a control character"},
    {"H 5 0: {\"a\":\t1}", false, "\t", 0, "message holds a control character"},
    {"H 5 0: {\"a\":\"\x1f\"}", false, "\x1f", 0, "message holds a control character"},
    {"H 5 0: {\"a\":\"\xc3\"}", false, "\xc3", 1, "message is not valid UTF-8"},
    {"H 5 0: {\"\xed\xa0\x80\"}", false, "\xed", 1, "message is not valid UTF-8"},
    {"H 5 0: {\"\xe2\x82\x01\"}", false, "\x01", 0, "message holds a control character"},
    {"F 5 5:alice {}", false, " {}", 0, "expected the end of the line"},
    {"F 5 5:alice ", false, " \n", 0, "expected the end of the line"},
};

static void test_damage(void)
{
    char line[256];

    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const struct bad_case *c = &bad_cases[i];
        size_t n = c->raw ? strlen(c->body) : seal(line, c->body);
        if (c->raw)
            memcpy(line, c->body, n + 1);
        line[n] = '\0';
        const char *at = strstr(line + (c->raw ? 0 : 9), c->at);
        struct record_damage bad = damage_of(line, n, BIG);
        bool prefixes_ok;
        prefixes_agree(line, n, BIG, &prefixes_ok);
        bool ok = at && bad.why && strcmp(bad.why, c->why) == 0 &&
                  bad.offset == (size_t)(at - line) + (size_t)c->off && prefixes_ok;
        CHECK(ok);
        if (!ok)
            fprintf(stderr, "  case %zu %s: got %s at %zu\n", i, c->body,
                    bad.why ? bad.why : "(none)", bad.offset);
    }

    /* The largest id there is reads; a right line with a wrong CRC does not. */
    struct record rec;
    struct record_damage bad;
    size_t n = seal(line, "I 18446744073709551615");
    CHECK(read_tail(line, n, BIG, &rec, &bad) == RECORD_OK && rec.id == UINT64_MAX);
    line[0] = line[0] == '0' ? '1' : '0';
    bad = damage_of(line, n, BIG);
    CHECK(bad.why && strcmp(bad.why, "checksum does not match") == 0 && bad.offset == 0);
    /* An empty userId is known before the '\n', and placed at a byte that is
     * there: its length's digit (the fuzzer found it placed past the input). */
    n = seal(line, "F 5 0:");
    bad = damage_of(line, n - 1, BIG);
    CHECK(bad.why && bad.offset == n - 3);
    /* A byte a valid record could not hold is known at once, without the '\n'. */
    n = seal(line, "H 5 0: {\"a\":\"\x01 and much more to come\"}");
    CHECK(damage_of(line, (size_t)(strchr(line, '\x01') - line) + 1, BIG).why != NULL);
    CHECK(damage_of(line, (size_t)(strchr(line, '\x01') - line), BIG).why == NULL);
}

/* ---- A journal: every prefix, every byte changed --------------------------- */

/* A journal of every kind of record, and where each record starts. */
static char journal[4096];
static size_t journal_len, starts[32], nrecords;
static uint64_t journal_ids[32];

static void build_journal(void)
{
    struct buf b = buf_make(sizeof journal);
    struct record recs[] = {
        {.kind = RECORD_ID, .id = 1764000000000000u},
        {.kind = RECORD_HISTORY, .id = 1764000001500001u, .json = messages[1],
         .json_len = strlen(messages[1])},
        {.kind = RECORD_HISTORY, .id = 1764000001600001u, .name = "tea break", .name_len = 9,
         .json = messages[2], .json_len = strlen(messages[2])},
        {.kind = RECORD_KEPT, .id = 1764000002000001u, .name = names[10],
         .name_len = strlen(names[10]), .json = messages[3], .json_len = strlen(messages[3])},
        {.kind = RECORD_FORGET, .id = 1764000002000001u, .name = names[10],
         .name_len = strlen(names[10])},
        {.kind = RECORD_KEPT, .id = 1764000003000001u, .name = names[13],
         .name_len = strlen(names[13]), .json = "{}", .json_len = 2},
        {.kind = RECORD_ID, .id = 1764000009000000u},
        {.kind = RECORD_FORGET, .id = 3, .name = "12:34", .name_len = 5},
    };
    nrecords = sizeof recs / sizeof recs[0];
    for (size_t i = 0; i < nrecords; i++) {
        starts[i] = b.len;
        journal_ids[i] = recs[i].id;
        CHECK(record_append(&b, &recs[i]));
    }
    starts[nrecords] = b.len;
    journal_len = b.len;
    memcpy(journal, b.data, b.len);
    buf_free(&b);
}

struct seen {
    size_t count;    /* records each was called for */
    uint64_t ids[32]; /* their ids, in order */
};

static void note(const struct record *rec, void *arg)
{
    struct seen *s = arg;
    s->ids[s->count++ % 32] = rec->id;
}

static void test_journal_prefixes(void)
{
    int wrong = 0;

    for (size_t cut = 0; cut <= journal_len; cut++) {
        char *copy = check_tail_copy(journal, cut);
        struct record_scan scan;
        struct seen seen = {0};
        record_scan(copy, cut, BIG, note, &seen, &scan);
        size_t whole = 0;
        while (whole < nrecords && starts[whole + 1] <= cut)
            whole++;
        bool at_boundary = starts[whole] == cut;
        wrong += scan.records != whole || seen.count != whole || scan.end != starts[whole] ||
                 scan.tail != (at_boundary ? RECORD_CLEAN : RECORD_TORN);
        for (size_t i = 0; i < seen.count; i++)
            wrong += seen.ids[i] != journal_ids[i];
        free(copy);
    }
    CHECK(wrong == 0);
}

/* Which record holds byte pos. */
static size_t record_of(size_t pos)
{
    size_t i = 0;
    while (starts[i + 1] <= pos)
        i++;
    return i;
}

/* A changed journal is refused at the record that was changed, with every
 * record before it kept. (The journal ends with an F, after whose name no
 * byte but '\n' may come, so even its last '\n' changed is damage, not a
 * torn tail; after a message, some bytes could be the message going on.) */
static bool refused_at(const char *copy, size_t k)
{
    struct record_scan scan;
    record_scan(copy, journal_len, BIG, NULL, NULL, &scan);
    return scan.records == k && scan.end == starts[k] && scan.tail == RECORD_BROKEN &&
           scan.damage.offset >= starts[k] && scan.damage.offset < journal_len &&
           scan.damage.why;
}

static void test_journal_flips(void)
{
    char *copy = check_tail_copy(journal, journal_len);
    int wrong = 0;

    /* Every byte, to every other value: a change of up to 8 bits in one
     * place is a burst the CRC always catches. */
    for (size_t pos = 0; pos < journal_len; pos++) {
        for (int x = 1; x < 256; x++) {
            copy[pos] = (char)(journal[pos] ^ x);
            wrong += !refused_at(copy, record_of(pos));
        }
        copy[pos] = journal[pos];
        if (wrong) {
            fprintf(stderr, "  first wrong verdict at byte %zu\n", pos);
            break;
        }
    }
    CHECK(wrong == 0);

    /* Two or three bits flipped anywhere in one record (its '\n' aside). */
    uint32_t seed = 7;
    for (int trial = 0; trial < 20000; trial++) {
        size_t k = (seed = seed * 1103515245u + 12345u) >> 8 & 0xFFFF;
        k %= nrecords;
        int flips = 2 + (int)((seed >> 4) & 1);
        for (int f = 0; f < flips; f++) {
            seed = seed * 1103515245u + 12345u;
            size_t pos = starts[k] + (seed >> 8) % (starts[k + 1] - starts[k] - 1);
            copy[pos] ^= (char)(1u << (seed >> 28 & 7));
        }
        if (memcmp(copy, journal, journal_len) != 0)
            wrong += !refused_at(copy, k);
        memcpy(copy, journal, journal_len);
    }
    CHECK(wrong == 0);
    free(copy);
}

/* ---- Long lines and the scan's verdicts ------------------------------------ */

static void test_long_lines(void)
{
    enum { MAX = 200 };
    char line[MAX + 64], body[MAX + 64];
    struct record rec;
    struct record_damage bad;

    /* A line that would fit, cut before its '\n': waits just below max_line,
     * and is refused at max_line bytes, where its '\n' was due at the latest. */
    strcpy(body, "H 5 0: {\"content\":\"");
    memset(body + strlen(body), 'a', MAX);
    seal(line, body);
    CHECK(read_tail(line, MAX - 1, MAX, &rec, &bad) == RECORD_NEED_MORE);
    CHECK(read_tail(line, MAX, MAX, &rec, &bad) == RECORD_DAMAGED && bad.offset == MAX - 1 &&
          strcmp(bad.why, "line is longer than the longest record") == 0);
    CHECK(read_tail(line, MAX + 20, MAX, &rec, &bad) == RECORD_DAMAGED && bad.offset == MAX - 1);
    /* A bad byte comes first, whatever the length. */
    line[12] = 'x';
    CHECK(read_tail(line, MAX + 20, MAX, &rec, &bad) == RECORD_DAMAGED && bad.offset == 12);
    /* In a journal, a long line at the end is damage, not a torn tail. */
    struct record_scan scan;
    size_t n = seal(line, "I 1");
    const char *open = "01234567 H 1 0: {\"a\":\"";
    memcpy(line + n, open, strlen(open));
    memset(line + n + strlen(open), 'b', MAX);
    record_scan(line, n + MAX, MAX, NULL, NULL, &scan);
    CHECK(scan.tail == RECORD_BROKEN && scan.records == 1 && scan.end == n &&
          scan.damage.offset == n + MAX - 1);
    record_scan(line, n + MAX - 1, MAX, NULL, NULL, &scan);
    CHECK(scan.tail == RECORD_TORN && scan.records == 1 && scan.end == n);
    /* A limit below any record refuses everything, without reading past it. */
    CHECK(read_tail(line, n, 0, &rec, &bad) == RECORD_DAMAGED && bad.offset == 0);
    CHECK(read_tail(line, n, 1, &rec, &bad) == RECORD_DAMAGED && bad.offset == 0);
}

static void test_scan(void)
{
    struct record_scan scan;
    char file[4096];

    record_scan("", 0, BIG, NULL, NULL, &scan);
    CHECK(scan.tail == RECORD_CLEAN && scan.records == 0 && scan.end == 0);

    /* A torn tail: three whole records, then most of a fourth. */
    memcpy(file, journal, journal_len);
    record_scan(file, starts[3] + 5, BIG, NULL, NULL, &scan);
    CHECK(scan.tail == RECORD_TORN && scan.records == 3 && scan.end == starts[3]);

    /* Early damage beats a torn tail: it is reported where it is. */
    file[starts[1] + 20] ^= 0x01;
    record_scan(file, starts[3] + 5, BIG, NULL, NULL, &scan);
    CHECK(scan.tail == RECORD_BROKEN && scan.records == 1 && scan.end == starts[1] &&
          scan.damage.offset == starts[1] && strcmp(scan.damage.why, "checksum does not match") == 0);

    /* A whole journal reads clean, and each sees every record in order. */
    struct seen seen = {0};
    record_scan(journal, journal_len, BIG, note, &seen, &scan);
    CHECK(scan.tail == RECORD_CLEAN && scan.records == nrecords && scan.end == journal_len &&
          seen.count == nrecords && seen.ids[0] == 1764000000000000u && seen.ids[7] == 3);

    /* Damage at the first byte: nothing kept. */
    memcpy(file, journal, journal_len);
    file[0] = 'g';
    record_scan(file, journal_len, BIG, NULL, NULL, &scan);
    CHECK(scan.tail == RECORD_BROKEN && scan.records == 0 && scan.end == 0 &&
          scan.damage.offset == 0);
}

int main(void)
{
    test_crc();
    test_round_trips();
    test_refused();
    test_damage();
    build_journal();
    test_journal_prefixes();
    test_journal_flips();
    test_long_lines();
    test_scan();
    return check_summary("record");
}

/* test_json.c - the JSON reader (RFC 8259) and the Message reader and writer. */
#include "json.h"
#include "message.h"

#include "check.h"

#include <stdint.h>

/* ---- Helpers ----------------------------------------------------------------- */

/* Walks every member of in[0..len), copied to the end of a heap block so that
 * ASan sees any over-read. Returns the number of members, or -1 (with the
 * reason and offset in *err and *at where they are not NULL). */
static long walk(const char *text, size_t len, const char **err, size_t *at)
{
    char *in = check_tail_copy(text, len);
    struct json_iter it;
    struct json_value key, val;
    long n = 0;
    int r;

    if (json_object_begin(&it, in, len) < 0) {
        r = -1;
    } else {
        while ((r = json_object_next(&it, &key, &val)) == 1)
            n++;
        /* After the end, it keeps its answer. */
        CHECK(json_object_next(&it, &key, &val) == r);
    }
    if (err)
        *err = r < 0 ? it.error : NULL;
    if (at)
        *at = r < 0 ? it.error_at : 0;
    free(in);
    return r < 0 ? -1 : n;
}

static long walk_s(const char *text)
{
    return walk(text, strlen(text), NULL, NULL);
}

/* Is text invalid with exactly this reason at this byte? */
static bool fails_with(const char *text, const char *why, size_t at)
{
    const char *err;
    size_t err_at;

    if (walk(text, strlen(text), &err, &err_at) != -1)
        return false;
    if (strcmp(err, why) != 0 || err_at != at) {
        fprintf(stderr, "  %s: got \"%s\" at %zu\n", text, err, err_at);
        return false;
    }
    return true;
}

/* The value of the first member of text, whose raw text is copied to raw. */
static int first_value(const char *text, struct json_value *val, char *raw)
{
    struct json_iter it;
    struct json_value key;

    if (json_object_begin(&it, text, strlen(text)) < 0 ||
        json_object_next(&it, &key, val) != 1)
        return -1;
    memcpy(raw, val->p, val->len);
    raw[val->len] = '\0';
    return 0;
}

/* Decodes the JSON string literal lit (quotes included), placed at the end of
 * a heap block, into an output of exactly its length. */
static long decode(const char *lit, char *out)
{
    size_t len = strlen(lit);
    char *in = check_tail_copy(lit, len);
    char *o = malloc(len);
    struct json_value v = {in, len, JSON_STRING};
    long n = json_string_decode(&v, o);

    if (n > 0)
        memcpy(out, o, (size_t)n);
    free(o);
    free(in);
    return n;
}

static bool key_is(const char *lit, const char *name)
{
    struct json_value k = {lit, strlen(lit), JSON_STRING};
    return json_key_is(&k, name);
}

static int integer(const char *text, int64_t *out)
{
    struct json_value v = {text, strlen(text), JSON_NUMBER};
    return json_integer(&v, out);
}

/* The input and scratch of the last read_message, kept until the next so
 * that the message's strings stay readable. */
static char *last_in, *last_scratch;
static char why[128];

static int read_message(const char *text, size_t len, struct message *m)
{
    free(last_in);
    free(last_scratch);
    last_in = check_tail_copy(text, len);
    last_scratch = malloc(len ? len : 1); /* exactly len: ASan catches more */
    strcpy(why, "(unset)");
    return message_read(last_in, len, last_scratch, m, why, sizeof why);
}

static int read_s(const char *text, struct message *m)
{
    return read_message(text, strlen(text), m);
}

static bool str_is(struct json_str s, const char *want)
{
    return s.p && s.len == strlen(want) && memcmp(s.p, want, s.len) == 0;
}

static bool why_is(const char *want)
{
    if (strcmp(why, want) == 0)
        return true;
    fprintf(stderr, "  why: got \"%s\", want \"%s\"\n", why, want);
    return false;
}

/* Writes m into a heap block of exactly message_bound(m) bytes (so ASan
 * catches a bound too small) and returns it NUL-terminated in a new block. */
static char *write_message(const struct message *m, size_t *len)
{
    size_t bound = message_bound(m);
    char *out = malloc(bound);
    char *text;

    *len = message_write(out, m);
    CHECK(*len <= bound);
    text = malloc(*len + 1);
    memcpy(text, out, *len);
    text[*len] = '\0';
    free(out);
    return text;
}

/* ---- The iterator -------------------------------------------------------------- */

static void test_valid_objects(void)
{
    static const char *const ok[] = {
        "{}", " {} ", "\t\r\n {\t\r\n }\t\r\n ", "{\"\":0}", "{\"a\":1}",
        "{ \"a\" : 1 , \"b\" : 2 }", "{\"a\":\"\"}", "{\"a\":[]}", "{\"a\":{}}",
        "{\"a\":[ ]}", "{\"a\":{ }}", "{\"a\":[1,\"x\",true,false,null,[],{},-0.5e+1]}",
        "{\"a\":{\"b\":{\"c\":[{\"d\":null}]}}}", "{\"a\":true,\"a\":false}",
        "{\"\\u00e9\":\"\\ud83d\\ude00\"}", "{\"a\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}",
        "{\"a\":\"\\ud800\"}", /* a lone surrogate is grammatical (section 8.2) */
        "{\"a\":\"\xc3\xa9\xf0\x9f\x98\x80\"}", "{\"a\":\"\x7f\"}",
        "{\"a\":[[[[\"]]]]\"]]]]}", "{\"{\":\"}\",\"[\":\"]\"}",
    };
    static const long members[] = {0, 0, 0, 1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1, 1, 1, 2};

    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        long n = walk_s(ok[i]);
        if (n != members[i])
            fprintf(stderr, "  %s: %ld members\n", ok[i], n);
        CHECK(n == members[i]);
    }
}

static void test_values_and_keys(void)
{
    const char *text = " { \"s\" : \"x\\ty\" , \"n\":-1.5e+3,\"t\":true,\"f\":false,\"z\":null,"
                       "\"a\":[1, [2,{}] ,\"]\"],\"o\":{\"k\":{\"q\":[]}} } ";
    static const struct { const char *key, *raw; enum json_type type; } want[] = {
        {"\"s\"", "\"x\\ty\"", JSON_STRING}, {"\"n\"", "-1.5e+3", JSON_NUMBER},
        {"\"t\"", "true", JSON_BOOL},        {"\"f\"", "false", JSON_BOOL},
        {"\"z\"", "null", JSON_NULL},        {"\"a\"", "[1, [2,{}] ,\"]\"]", JSON_ARRAY},
        {"\"o\"", "{\"k\":{\"q\":[]}}", JSON_OBJECT},
    };
    char *in = check_tail_copy(text, strlen(text));
    struct json_iter it;
    struct json_value key, val;

    CHECK(json_object_begin(&it, in, strlen(text)) == 0);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        CHECK(json_object_next(&it, &key, &val) == 1);
        CHECK(key.type == JSON_STRING);
        CHECK(key.len == strlen(want[i].key) && memcmp(key.p, want[i].key, key.len) == 0);
        CHECK(val.type == want[i].type);
        CHECK(val.len == strlen(want[i].raw) && memcmp(val.p, want[i].raw, val.len) == 0);
    }
    CHECK(json_object_next(&it, &key, &val) == 0);
    free(in);
}

static void test_invalid_objects(void)
{
    static const struct { const char *text, *why; size_t at; } bad[] = {
        {"", "not a JSON object", 0},
        {"   ", "not a JSON object", 3},
        {"[]", "not a JSON object", 0},
        {" \"{}\"", "not a JSON object", 1},
        {"nul", "not a JSON object", 0},
        {"\xef\xbb\xbf{}", "not a JSON object", 0}, /* no BOM (section 8.1) */
        {"{", "unexpected end of input", 1},
        {"{ ", "unexpected end of input", 2},
        {"{,}", "expected a string key", 1},
        {"{\"a\":1,}", "expected a string key", 7},
        {"{a:1}", "expected a string key", 1},
        {"{'a':1}", "expected a string key", 1},
        {"{1:1}", "expected a string key", 1},
        {"{\"a\" 1}", "expected ':'", 5},
        {"{\"a\"=1}", "expected ':'", 4},
        {"{\"a\":}", "expected a value", 5},
        {"{\"a\":'x'}", "expected a value", 5},
        {"{\"a\":1 \"b\":2}", "expected ',' or '}'", 7},
        {"{\"a\":1;\"b\":2}", "expected ',' or '}'", 6},
        {"{\"a\":1}x", "data after the object", 7},
        {"{\"a\":1} {}", "data after the object", 8},
        {"{\"a\":1}}", "data after the object", 7},
        {"{\"a\":[1,]}", "expected a value", 8},
        {"{\"a\":[,1]}", "expected a value", 6},
        {"{\"a\":[1 2]}", "expected ',' or ']'", 8},
        {"{\"a\":[1}", "expected ',' or ']'", 7},
        {"{\"a\":{\"b\"}}", "expected ':'", 9},
        {"{\"a\":{\"b\":1]}", "expected ',' or '}'", 11},
        {"{\"a\":{\"b\":1,}}", "expected a string key", 12},
        {"{\"a\":tru}", "expected a value", 5},
        {"{\"a\":True}", "expected a value", 5},
        {"{\"a\":nul}", "expected a value", 5},
        {"{\"a\":truex}", "expected ',' or '}'", 9},
        {"{\"a\":nullnull}", "expected ',' or '}'", 9},
        {"{\"a\":\"\\x\"}", "bad escape", 6},
        {"{\"a\":\"\\U0041\"}", "bad escape", 6},
        {"{\"a\":\"\\u12G4\"}", "bad \\u escape", 10},
        {"{\"a\":\"\\u12\"}", "bad \\u escape", 10},
        {"{\"a\":\"x\x01\"}", "control character in string", 7},
        {"{\"a\":\"tab\there\"}", "control character in string", 9},
        {"{\"a\":\"new\nline\"}", "control character in string", 9},
        {"{\"a\x1f\":1}", "control character in string", 3},
        {"{\"a\":\"x}", "unexpected end of input", 8},
        {"{\"a\":\"x\\\"}", "unexpected end of input", 10},
    };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(fails_with(bad[i].text, bad[i].why, bad[i].at));
    /* A NUL byte is a control character, in a string or out of one. */
    CHECK(walk("{\"a\":\"\0\"}", 9, NULL, NULL) == -1);
    CHECK(walk("{\"a\":1}\0", 8, NULL, NULL) == -1);
    CHECK(walk("{\"a\":1\0}", 8, NULL, NULL) == -1);
    CHECK(walk("{\"a\":\"\\\0\"}", 10, NULL, NULL) == -1);
}

/* Section 6. Each case is the value of a member; a bad number fails the object. */
static void test_numbers(void)
{
    static const char *const ok[] = {
        "0", "-0", "1", "-1", "10", "1234567890", "0.0", "-0.0", "1.5", "0.5",
        "1.5e-3", "1e10", "1E10", "1e+10", "1E-10", "-0e0", "-0.0e-0", "1.25E+02",
        "123456789012345678901234567890", "1e999", "9.99999999999999999999",
    };
    static const char *const bad[] = {
        "01", "-01", "00", "1.", "-1.", ".5", "-.5", "+1", "NaN", "-NaN", "Infinity",
        "-Infinity", "-", "1e", "1E", "1e+", "1e-", "-a", "0x10", "1.e5", "1.5e",
        "1e1.5", "--1", "1-", "0.5.5", "1 2", "- 1", "\xd9\xa1", "1ee2", "1.5E+-2",
    };
    char text[128], raw[128];
    struct json_value v;

    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        snprintf(text, sizeof text, "{\"n\":%s}", ok[i]);
        CHECK(walk_s(text) == 1);
        CHECK(first_value(text, &v, raw) == 0 && v.type == JSON_NUMBER && strcmp(raw, ok[i]) == 0);
        snprintf(text, sizeof text, "{\"n\":[%s,%s]}", ok[i], ok[i]);
        CHECK(walk_s(text) == 1);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, "{\"n\":%s}", bad[i]);
        if (walk_s(text) != -1)
            fprintf(stderr, "  number %s accepted\n", bad[i]);
        CHECK(walk_s(text) == -1);
        snprintf(text, sizeof text, "{\"n\":[%s]}", bad[i]);
        CHECK(walk_s(text) == -1);
    }
    CHECK(fails_with("{\"n\":1.}", "bad number", 7));
    CHECK(fails_with("{\"n\":-}", "bad number", 6));
    CHECK(fails_with("{\"n\":1e}", "bad number", 7));
    CHECK(fails_with("{\"n\":1.5", "unexpected end of input", 8));
}

/* "{\"a\":" then n nested arrays, empty, then the closing brackets and brace. */
static size_t nested_arrays(char *out, size_t cap, int n, const char *tail)
{
    size_t len = (size_t)snprintf(out, cap, "{\"a\":");
    for (int i = 0; i < n; i++)
        out[len++] = '[';
    for (int i = 0; i < n; i++)
        out[len++] = ']';
    len += (size_t)snprintf(out + len, cap - len, "%s}", tail);
    return len;
}

/* Nesting: the outer object counts, so a member can hold JSON_MAX_DEPTH - 1
 * more levels. */
static void test_depth(void)
{
    char text[600];

    for (int levels = JSON_MAX_DEPTH - 2; levels <= JSON_MAX_DEPTH + 2; levels++) {
        /* {"a": and levels-1 more containers, arrays and objects in turn */
        size_t n = (size_t)snprintf(text, sizeof text, "{\"a\":"), too_deep = 0;
        for (int i = 1; i < levels; i++) {
            if (i == JSON_MAX_DEPTH)
                too_deep = n;
            n += (size_t)snprintf(text + n, sizeof text - n, i % 2 ? "[" : "{\"b\":");
        }
        n += (size_t)snprintf(text + n, sizeof text - n, "0");
        for (int i = levels - 1; i >= 1; i--)
            n += (size_t)snprintf(text + n, sizeof text - n, i % 2 ? "]" : "}");
        n += (size_t)snprintf(text + n, sizeof text - n, "}");
        CHECK(n < sizeof text);
        if (levels <= JSON_MAX_DEPTH)
            CHECK(walk(text, n, NULL, NULL) == 1);
        else
            CHECK(fails_with(text, "nesting too deep", too_deep));
    }
    /* Empty containers count as well: JSON_MAX_DEPTH levels ok, one more not,
     * failing at the bracket that opens one level too many. */
    size_t n = nested_arrays(text, sizeof text, JSON_MAX_DEPTH - 1, "");
    CHECK(walk(text, n, NULL, NULL) == 1);
    nested_arrays(text, sizeof text, JSON_MAX_DEPTH, "");
    CHECK(fails_with(text, "nesting too deep", 5 + JSON_MAX_DEPTH - 1));
    /* Deep siblings are fine: depth is not a count. */
    char sibling[300];
    size_t sn = nested_arrays(sibling, sizeof sibling, JSON_MAX_DEPTH - 1, "");
    n = nested_arrays(text, sizeof text, JSON_MAX_DEPTH - 1, ",\"b\":");
    memcpy(text + n - 1, sibling + 5, sn - 5); /* the second member's value and the brace */
    CHECK(walk(text, n - 1 + sn - 5, NULL, NULL) == 2);

    /* A megabyte of '[' fails at once, without recursion. */
    size_t big = 1 << 20;
    char *deep = malloc(big);
    memcpy(deep, "{\"a\":", 5);
    memset(deep + 5, '[', big - 5);
    const char *err;
    size_t at;
    CHECK(walk(deep, big, &err, &at) == -1 && strcmp(err, "nesting too deep") == 0 &&
          at == 5 + JSON_MAX_DEPTH - 1);
    free(deep);
}

/* Every proper prefix of a valid document fails cleanly, never reading past
 * its end; with trailing whitespace, the prefixes holding the object succeed. */
static const char *const documents[] = {
    "{}",
    "{\"messageType\":1,\"mediaType\":0,\"from\":\"alice\",\"to\":\"\",\"content\":\"hi\","
    "\"fileId\":\"\",\"url\":\"\",\"createAt\":1764000000000,\"updateAt\":1764000000123}",
    " { \"content\" : \"a\\\"b\\\\c\\u00e9\\ud83d\\ude00\\n\" , \"x\" : [ -1.5e-3 , true , false ,"
    " null , { \"y\" : [ ] } , \"}]\" ] , \"id\" : 9223372036854775807 } \n",
    "{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"x\"]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
    "{\"\\u0074o\":\"bob\",\"content\":\"\xf0\x9f\x98\x80\",\"n\":-0,\"z\":0.5E+10}",
};

static void test_prefixes(void)
{
    for (size_t d = 0; d < sizeof documents / sizeof documents[0]; d++) {
        const char *doc = documents[d];
        size_t len = strlen(doc), end = len;
        long members = walk(doc, len, NULL, NULL);
        CHECK(members >= 0);
        while (end > 0 && strchr(" \t\r\n", doc[end - 1]))
            end--;
        for (size_t n = 0; n < len; n++) {
            long got = walk(doc, n, NULL, NULL);
            CHECK(got == (n >= end ? members : -1));
        }
    }
}

/* ---- Strings, keys, integers -------------------------------------------------- */

static void test_decode(void)
{
    char out[64];

    CHECK(decode("\"\"", out) == 0);
    CHECK(decode("\"abc\"", out) == 3 && memcmp(out, "abc", 3) == 0);
    CHECK(decode("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", out) == 8 &&
          memcmp(out, "\"\\/\b\f\n\r\t", 8) == 0);
    CHECK(decode("\"\\u0041\\u00e9\\u20AC\"", out) == 6 &&
          memcmp(out, "A\xc3\xa9\xe2\x82\xac", 6) == 0);
    CHECK(decode("\"\\u0000\"", out) == 1 && out[0] == '\0');
    CHECK(decode("\"a\\u0000b\"", out) == 3 && memcmp(out, "a\0b", 3) == 0);
    CHECK(decode("\"\\u007f\\u0080\\u07FF\\u0800\\uFFFF\"", out) == 11 &&
          memcmp(out, "\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf", 11) == 0);
    /* U+1F600 as a surrogate pair becomes 4 UTF-8 bytes. */
    CHECK(decode("\"\\ud83d\\ude00\"", out) == 4 && memcmp(out, "\xf0\x9f\x98\x80", 4) == 0);
    CHECK(decode("\"\\uD83D\\uDE00!\"", out) == 5 && memcmp(out, "\xf0\x9f\x98\x80!", 5) == 0);
    CHECK(decode("\"\\ud800\\udc00\\udbff\\udfff\"", out) == 8 &&
          memcmp(out, "\xf0\x90\x80\x80\xf4\x8f\xbf\xbf", 8) == 0);
    /* Raw bytes go through as they are. */
    CHECK(decode("\"\xc3\xa9\xff\x7f\"", out) == 4 && memcmp(out, "\xc3\xa9\xff\x7f", 4) == 0);
    /* Unpaired surrogates have no UTF-8 form. */
    CHECK(decode("\"\\ud83d\"", out) == -1);
    CHECK(decode("\"\\ude00\"", out) == -1);
    CHECK(decode("\"\\ud83dx\"", out) == -1);
    CHECK(decode("\"\\ud83d\\u0041\"", out) == -1);
    CHECK(decode("\"\\ud83d\\ud83d\"", out) == -1);
    CHECK(decode("\"\\ud83d\\ue000\"", out) == -1);
    CHECK(decode("\"\\ude00\\ud83d\"", out) == -1);
    CHECK(decode("\"\\ud83d\\n\"", out) == -1);
    CHECK(decode("\"x\\ud83d\\ude0\"", out) == -1);
}

static void test_key_is(void)
{
    CHECK(key_is("\"to\"", "to"));
    CHECK(key_is("\"\\u0074o\"", "to"));
    CHECK(key_is("\"\\u0074\\u006F\"", "to"));
    CHECK(key_is("\"\"", ""));
    CHECK(key_is("\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80"));
    CHECK(key_is("\"a\\/b\"", "a/b"));
    CHECK(!key_is("\"t\"", "to"));
    CHECK(!key_is("\"too\"", "to"));
    CHECK(!key_is("\"To\"", "to"));
    CHECK(!key_is("\"to\\u0000\"", "to"));
    CHECK(!key_is("\"\"", "to"));
    CHECK(!key_is("\"to\"", ""));
    CHECK(!key_is("\"\\ud83d\"", "\xed\xa0\xbd"));
}

static void test_integer(void)
{
    int64_t v = 7;
    struct json_value s = {"\"1\"", 3, JSON_STRING};

    CHECK(integer("0", &v) == 0 && v == 0);
    CHECK(integer("-0", &v) == 0 && v == 0);
    CHECK(integer("42", &v) == 0 && v == 42);
    CHECK(integer("-42", &v) == 0 && v == -42);
    CHECK(integer("1764000000000", &v) == 0 && v == 1764000000000);
    CHECK(integer("9223372036854775807", &v) == 0 && v == INT64_MAX);
    CHECK(integer("-9223372036854775808", &v) == 0 && v == INT64_MIN);
    v = 7;
    CHECK(integer("9223372036854775808", &v) == -1 && v == 7);
    CHECK(integer("-9223372036854775809", &v) == -1);
    CHECK(integer("18446744073709551616", &v) == -1);
    CHECK(integer("99999999999999999999", &v) == -1);
    /* A whole number however it is written; nothing else. */
    CHECK(integer("1.0", &v) == 0 && v == 1);
    CHECK(integer("1e3", &v) == 0 && v == 1000);
    CHECK(integer("1E3", &v) == 0 && v == 1000);
    CHECK(integer("0.7e1", &v) == 0 && v == 7);
    CHECK(integer("-20e-1", &v) == 0 && v == -2);
    CHECK(integer("1.5", &v) == -1);
    CHECK(integer("15e-1", &v) == -1);
    CHECK(integer("1e19", &v) == -1);
    CHECK(integer("0.0000000000000000000001", &v) == -1);
    CHECK(integer("-", &v) == -1);
    v = 7;
    CHECK(json_integer(&s, &v) == -1 && v == 7);

    /* Any number's ceiling, exactly. */
    static const struct { const char *text; int rc; int64_t want; } ceils[] = {
        {"0", 0, 0}, {"-0", 0, 0}, {"7", 0, 7}, {"1.0", 0, 1}, {"1.5", 0, 2}, {"-1.5", 0, -1},
        {"-0.5", 0, 0}, {"0.0001", 0, 1}, {"1e3", 0, 1000}, {"1E+3", 0, 1000}, {"1.7e9", 0, 1700000000},
        {"1764000000.25", 0, 1764000001}, {"12e-1", 0, 2}, {"-12e-1", 0, -1}, {"5e-100000", 0, 1},
        {"0e99999", 0, 0}, {"9223372036854775807", 0, INT64_MAX}, {"-9223372036854775808", 0, INT64_MIN},
        {"9223372036854775806.5", 0, INT64_MAX}, {"1764000000.000000000000000000001", 0, 1764000001},
        {"9223372036854775808", -1, 0}, {"9.3e18", -1, 0}, {"1e19", -1, 0}, {"1e99999", -1, 0},
        {"-9223372036854775809", -1, 0}, {"99999999999999999999", -1, 0},
        {"18446744073709551615.5", -1, 0}, {"9223372036854775807.5", -1, 0},
    };
    for (size_t i = 0; i < sizeof ceils / sizeof ceils[0]; i++) {
        struct json_value n = {ceils[i].text, strlen(ceils[i].text), JSON_NUMBER};
        int64_t got = 7;
        int rc = json_number_ceil(&n, &got);
        CHECK(rc == ceils[i].rc);
        if (rc == 0 && got != ceils[i].want)
            fprintf(stderr, "json_number_ceil(%s) = %lld\n", ceils[i].text, (long long)got);
        CHECK(rc != 0 || got == ceils[i].want);
    }
    CHECK(json_number_ceil(&s, &v) == -1);
}

/* ---- The Message reader --------------------------------------------------------- */

static void test_read_message(void)
{
    struct message m;

    CHECK(read_s("{\"messageType\":1,\"mediaType\":2,\"from\":\"alice\",\"to\":\"bob\","
                 "\"content\":\"hi\",\"fileId\":\"f1\",\"url\":\"http://x/y\","
                 "\"createAt\":1764000000000,\"updateAt\":1764000000123,\"id\":42}", &m) == 0);
    CHECK(m.message_type == 1 && m.media_type == 2);
    CHECK(str_is(m.from, "alice") && str_is(m.to, "bob") && str_is(m.content, "hi"));
    CHECK(str_is(m.file_id, "f1") && str_is(m.url, "http://x/y"));
    CHECK(m.create_at == 1764000000000 && m.update_at == 1764000000123 && m.id == 42);

    /* Any key order, any whitespace. */
    CHECK(read_s("\n{ \"id\" : 3 ,\r\n\t\"url\":\"u\", \"content\" : \"c\" , \"to\":\"t\","
                 "\"mediaType\":1,\"messageType\":0 }\n", &m) == 0);
    CHECK(m.id == 3 && str_is(m.url, "u") && str_is(m.content, "c") && str_is(m.to, "t"));
    CHECK(m.media_type == 1 && m.message_type == 0 && str_is(m.from, ""));

    /* Absent and null fields are zero and empty (never NULL pointers). */
    CHECK(read_s("{}", &m) == 0);
    CHECK(m.message_type == 0 && m.media_type == 0 && m.create_at == 0 && m.update_at == 0 && m.id == 0);
    CHECK(str_is(m.from, "") && str_is(m.to, "") && str_is(m.content, "") &&
          str_is(m.file_id, "") && str_is(m.url, ""));
    CHECK(read_s("{\"messageType\":null,\"content\":null,\"id\":null}", &m) == 0);
    CHECK(m.message_type == 0 && str_is(m.content, "") && m.id == 0);

    /* Unknown keys are skipped, whatever they hold. */
    CHECK(read_s("{\"x\":{\"content\":\"no\",\"y\":[\"}\",{\"z\":\"\\\"{[\"}],\"w\":[[[]]]},"
                 "\"content\":\"yes\",\"v\":[1,\"]\",{\"id\":5}],\"u\":\"}{\\\"\",\"t\":true,"
                 "\"n\":-1.5e3,\"nil\":null,\"Content\":\"case\",\"idx\":1}", &m) == 0);
    CHECK(str_is(m.content, "yes") && m.id == 0);

    /* Keys match once decoded. */
    CHECK(read_s("{\"\\u0074o\":\"bob\",\"c\\u006fntent\":\"x\"}", &m) == 0);
    CHECK(str_is(m.to, "bob") && str_is(m.content, "x"));

    /* Duplicate keys: the last wins, and null leaves what came before. */
    CHECK(read_s("{\"content\":\"a\",\"id\":1,\"content\":\"bb\",\"id\":2}", &m) == 0);
    CHECK(str_is(m.content, "bb") && m.id == 2);
    CHECK(read_s("{\"content\":\"a\",\"content\":null}", &m) == 0);
    CHECK(str_is(m.content, "a"));

    /* Escapes decoded; U+1F600 from a surrogate pair; NUL kept. */
    CHECK(read_s("{\"content\":\"\\ud83d\\ude00 \\u0000\\\"\\\\\"}", &m) == 0);
    CHECK(m.content.len == 8 && memcmp(m.content.p, "\xf0\x9f\x98\x80 \0\"\\", 8) == 0);

    /* A whole number, however it is written. */
    CHECK(read_s("{\"messageType\":1.0,\"mediaType\":0.2e1,\"createAt\":17e11}", &m) == 0);
    CHECK(m.message_type == 1 && m.media_type == 2 && m.create_at == 1700000000000);

    /* int64 limits. */
    CHECK(read_s("{\"createAt\":9223372036854775807,\"updateAt\":-9223372036854775808}", &m) == 0);
    CHECK(m.create_at == INT64_MAX && m.update_at == INT64_MIN);
    CHECK(read_s("{\"createAt\":9223372036854775808}", &m) == -1);
    CHECK(why_is("createAt must be an integer"));
    CHECK(read_s("{\"id\":-9223372036854775809}", &m) == -1);
    CHECK(why_is("id must be an integer"));
}

static void test_read_message_errors(void)
{
    static const char *const ints[] = {"messageType", "mediaType", "createAt", "updateAt", "id"};
    static const char *const strs[] = {"from", "to", "content", "fileId", "url"};
    static const char *const not_int[] = {"\"1\"", "1.5", "15e-1", "1e19", "true", "false", "[]", "[1]", "{}"};
    static const char *const not_str[] = {"1", "0", "true", "false", "[]", "[\"x\"]", "{}", "{\"a\":\"b\"}"};
    struct message m;
    char text[128], want[64];

    for (size_t f = 0; f < 5; f++) {
        for (size_t v = 0; v < sizeof not_int / sizeof not_int[0]; v++) {
            snprintf(text, sizeof text, "{\"content\":\"x\",\"%s\":%s}", ints[f], not_int[v]);
            snprintf(want, sizeof want, "%s must be an integer", ints[f]);
            CHECK(read_s(text, &m) == -1 && why_is(want));
        }
        for (size_t v = 0; v < sizeof not_str / sizeof not_str[0]; v++) {
            snprintf(text, sizeof text, "{\"id\":1,\"%s\":%s}", strs[f], not_str[v]);
            snprintf(want, sizeof want, "%s must be a string", strs[f]);
            CHECK(read_s(text, &m) == -1 && why_is(want));
        }
        snprintf(text, sizeof text, "{\"%s\":\"a\\ud83d\"}", strs[f]);
        snprintf(want, sizeof want, "%s has an unpaired \\u surrogate", strs[f]);
        CHECK(read_s(text, &m) == -1 && why_is(want));
    }
    CHECK(read_s("[1,2]", &m) == -1 && why_is("message must be a JSON object"));
    CHECK(read_s("\"hi\"", &m) == -1 && why_is("message must be a JSON object"));
    CHECK(read_s("", &m) == -1 && why_is("message must be a JSON object"));
    CHECK(read_s("{\"content\" \"x\"}", &m) == -1 &&
          why_is("not valid JSON at byte 11: expected ':'"));
    CHECK(read_s("{\"content\":\"x\"", &m) == -1 &&
          why_is("not valid JSON at byte 14: unexpected end of input"));
    CHECK(read_s("{\"content\":\"x\",}", &m) == -1 &&
          why_is("not valid JSON at byte 15: expected a string key"));
    char deep_text[300], deep_why[40];
    nested_arrays(deep_text, sizeof deep_text, JSON_MAX_DEPTH, "");
    snprintf(deep_why, sizeof deep_why, "nesting deeper than %d", JSON_MAX_DEPTH);
    CHECK(read_s(deep_text, &m) == -1 && why_is(deep_why));
    /* An unknown key's lone surrogate does not matter. */
    CHECK(read_s("{\"x\":\"\\ud83d\",\"content\":\"ok\"}", &m) == 0 && str_is(m.content, "ok"));

    /* why is cut to whycap, NUL included. */
    char small[8];
    CHECK(message_read("[]", 2, why, &m, small, sizeof small) == -1);
    CHECK(strcmp(small, "message") == 0);
}

static void test_read_message_prefixes(void)
{
    struct message m;

    for (size_t d = 0; d < sizeof documents / sizeof documents[0]; d++) {
        const char *doc = documents[d];
        size_t len = strlen(doc), end = len;
        CHECK(read_message(doc, len, &m) == 0);
        while (end > 0 && strchr(" \t\r\n", doc[end - 1]))
            end--;
        for (size_t n = 0; n < end; n++) {
            CHECK(read_message(doc, n, &m) == -1);
            CHECK(strncmp(why, "not valid JSON at byte ", 23) == 0 ||
                  strcmp(why, "message must be a JSON object") == 0);
        }
    }
}

/* ---- The Message writer ---------------------------------------------------------- */

static void test_write_exact(void)
{
    static const char content[] = "hi \"you\"\\\n\x01\x7f\xc3\xa9/";
    struct message m = {
        .message_type = 1, .media_type = 0, .from = {"alice", 5}, .to = {"", 0},
        .content = {content, sizeof content - 1}, .file_id = {"", 0},
        .url = {"", 0}, .create_at = 1764000000000, .update_at = 1764000000123, .id = 42,
    };
    const char *want = "{\"messageType\":1,\"mediaType\":0,\"from\":\"alice\",\"to\":\"\","
                       "\"content\":\"hi \\\"you\\\"\\\\\\n\\u0001\\u007f\xc3\xa9/\","
                       "\"fileId\":\"\",\"url\":\"\",\"createAt\":1764000000000,"
                       "\"updateAt\":1764000000123,\"id\":42}";
    size_t len;
    char *text = write_message(&m, &len);

    CHECK(len == strlen(want) && strcmp(text, want) == 0);
    if (strcmp(text, want) != 0)
        fprintf(stderr, "  wrote %s\n", text);
    free(text);

    /* Negative numbers and the int64 limits. */
    m = (struct message){.message_type = -1, .media_type = INT64_MIN, .create_at = INT64_MAX,
                         .from = {"", 0}, .to = {"", 0}, .content = {"", 0},
                         .file_id = {"", 0}, .url = {"", 0}};
    text = write_message(&m, &len);
    CHECK(strcmp(text, "{\"messageType\":-1,\"mediaType\":-9223372036854775808,\"from\":\"\","
                       "\"to\":\"\",\"content\":\"\",\"fileId\":\"\",\"url\":\"\","
                       "\"createAt\":9223372036854775807,\"updateAt\":0,\"id\":0}") == 0);
    free(text);
}

/* The bound is exact for the longest output: every byte escaped as \u00XX
 * and every number as long as an int64 gets. */
static void test_write_bound(void)
{
    char ones[100];
    struct json_str s = {ones, sizeof ones};
    struct message m = {INT64_MIN, INT64_MIN, s, s, s, s, s, INT64_MIN, INT64_MIN, INT64_MIN, 0, false};
    size_t len;

    memset(ones, 1, sizeof ones);
    free(write_message(&m, &len));
    CHECK(len == message_bound(&m));
}

static void test_round_trip(void)
{
    char content[256 + 64];
    size_t n = 0, len;
    struct message in = {0}, out;

    for (int c = 0; c < 0x20; c++)
        content[n++] = (char)c;
    memcpy(content + n, "\x7f\"\\/'{}[]:,\\u0041\\\"", 19);
    n += 19;
    memcpy(content + n, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9); /* é € U+1F600 */
    n += 9;
    for (int c = 0x80; c <= 0xff; c++) /* not UTF-8, yet still byte-exact */
        content[n++] = (char)c;
    in.message_type = 1;
    in.from = (struct json_str){"\"al\\ice\"\n", 9};
    in.to = (struct json_str){"\xe5\x8c\x97", 3};
    in.content = (struct json_str){content, n};
    in.file_id = (struct json_str){"", 0};
    in.url = (struct json_str){"\t", 1};
    in.create_at = -5;
    in.id = INT64_MAX;

    char *text = write_message(&in, &len);
    CHECK(memchr(text, '\n', len) == NULL);
    CHECK(strstr(text, "\\u0000\\u0001") && strstr(text, "\\b\\t\\n\\u000b\\f\\r\\u000e"));
    CHECK(strstr(text, "\\u001f\\u007f\\\"\\\\/"));
    CHECK(read_message(text, len, &out) == 0);
    CHECK(out.message_type == 1 && out.media_type == 0);
    CHECK(out.from.len == in.from.len && memcmp(out.from.p, in.from.p, in.from.len) == 0);
    CHECK(out.to.len == 3 && memcmp(out.to.p, "\xe5\x8c\x97", 3) == 0);
    CHECK(out.content.len == n && memcmp(out.content.p, content, n) == 0);
    CHECK(out.file_id.len == 0 && str_is(out.url, "\t"));
    CHECK(out.create_at == -5 && out.update_at == 0 && out.id == INT64_MAX);
    free(text);

    /* Each single byte alone. */
    for (int c = 0; c < 256; c++) {
        char b = (char)c;
        in.content = (struct json_str){&b, 1};
        text = write_message(&in, &len);
        CHECK(read_message(text, len, &out) == 0 && out.content.len == 1 && out.content.p[0] == b);
        free(text);
    }
}

/* json_write_int, two digits at a time: every length and both signs. */
static void test_write_int(void)
{
    static const struct { int64_t v; const char *text; } cases[] = {
        {0, "0"}, {7, "7"}, {10, "10"}, {99, "99"}, {100, "100"}, {-1, "-1"}, {-10, "-10"},
        {1764000000000001, "1764000000000001"}, {12345678901, "12345678901"},
        {INT64_MAX, "9223372036854775807"}, {INT64_MIN, "-9223372036854775808"},
    };
    char out[24];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = json_write_int(out, cases[i].v);
        CHECK(n == strlen(cases[i].text) && memcmp(out, cases[i].text, n) == 0);
    }
    for (int64_t v = -1000; v <= 1000; v++) {
        char want[24];
        size_t n = json_write_int(out, v);
        CHECK(n == (size_t)snprintf(want, sizeof want, "%lld", (long long)v) && memcmp(out, want, n) == 0);
    }
}

int main(void)
{
    test_write_int();
    test_valid_objects();
    test_values_and_keys();
    test_invalid_objects();
    test_numbers();
    test_depth();
    test_prefixes();
    test_decode();
    test_key_is();
    test_integer();
    test_read_message();
    test_read_message_errors();
    test_read_message_prefixes();
    test_write_exact();
    test_write_bound();
    test_round_trip();
    free(last_in);
    free(last_scratch);
    return check_summary("json");
}

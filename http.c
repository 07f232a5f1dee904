/* http.c - owns the reading of an HTTP/1.1 request head (RFC 9112): the
 * incremental parser, and the helpers that answer the server's questions
 * about what it found (headers, list tokens, query parameters, body length).
 *
 * Like picohttpparser, the parser is one pure function over (buf, len): it
 * keeps no state between calls, allocates nothing, and points into the
 * caller's buffer. Called again with more bytes, it starts over; a head is
 * at most 8 KiB, so that costs little and keeps the code straight. */
#include "http.h"

#include <string.h>

/* ---- Characters ---------------------------------------------------------- */

/* tchar, RFC 9110 section 5.6.2: what methods and header names are made of. */
static bool is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static unsigned char to_lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* ASCII case-insensitive comparison of a[0..n) and b[0..n); header names
 * and list tokens are case-insensitive (RFC 9110 sections 5.1, 7.8). */
static bool same_icase(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (to_lower((unsigned char)a[i]) != to_lower((unsigned char)b[i]))
            return false;
    return true;
}

/* Narrows [*from, *to) to drop leading and trailing spaces and tabs. */
static void trim_ows(const char **from, const char **to)
{
    while (*from < *to && is_ows(**from))
        (*from)++;
    while (*to > *from && is_ows((*to)[-1]))
        (*to)--;
}

/* ---- The request head ---------------------------------------------------- */

/* Finds the LF that ends the line starting at p, looking no further than
 * limit. Returns where the line's content ends (before its CRLF, or before a
 * bare LF, which RFC 9112 section 2.2 lets a recipient accept) and sets *next
 * to the following line; NULL when there is no LF before limit. */
static const char *line_end(const char *p, const char *limit, const char **next)
{
    const char *lf = memchr(p, '\n', (size_t)(limit - p));

    if (!lf)
        return NULL;
    *next = lf + 1;
    return lf > p && lf[-1] == '\r' ? lf - 1 : lf;
}

/* request-line = method SP request-target SP HTTP-version (RFC 9112
 * section 3), with exactly one SP between parts. The target must be in
 * origin-form (section 3.2.1), the only form a server that is no proxy gets
 * for GET and POST; we take any visible ASCII in it and leave the meaning of
 * its characters to whoever reads the path and query. */
static int parse_request_line(const char *p, const char *end, struct http_request *req)
{
    req->method = p;
    while (p < end && is_tchar((unsigned char)*p))
        p++;
    req->method_len = (size_t)(p - req->method);
    if (req->method_len == 0 || p == end || *p++ != ' ')
        return -1;

    req->target = p;
    while (p < end && (unsigned char)*p > ' ' && (unsigned char)*p < 0x7f)
        p++;
    req->target_len = (size_t)(p - req->target);
    if (req->target_len == 0 || req->target[0] != '/' || p == end || *p++ != ' ')
        return -1;

    /* Other versions, HTTP/2's preface included, are refused here rather
     * than with 505: this server speaks nothing but HTTP/1.x. */
    if (end - p != 8 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1'))
        return -1;
    req->minor_version = p[7] - '0';
    return 0;
}

/* field-line = field-name ":" OWS field-value OWS (RFC 9112 section 5).
 * A line that starts with whitespace is obs-fold (section 5.2) or junk after
 * the start line (section 2.2); either way its name is empty and we answer
 * 400, as both sections allow. Whitespace before the colon must be refused
 * (section 5.1). Field values may hold HTAB, SP, VCHAR and obs-text, never
 * another control character (RFC 9110 section 5.5), so a bare CR is refused
 * too (RFC 9112 section 2.2). */
static int parse_header(const char *p, const char *end, struct http_header *h)
{
    h->name = p;
    while (p < end && is_tchar((unsigned char)*p))
        p++;
    h->name_len = (size_t)(p - h->name);
    if (h->name_len == 0 || p == end || *p++ != ':')
        return -1;

    trim_ows(&p, &end);
    h->value = p;
    h->value_len = (size_t)(end - p);
    for (; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if ((c < ' ' && c != '\t') || c == 0x7f)
            return -1;
    }
    return 0;
}

/* Could p[0..end) still grow into a request line? A TLS ClientHello on a
 * plain port, or binary noise, is refused at its first byte rather than
 * after the handshake timeout, since no line end need ever come. The checks
 * are those of parse_request_line, on a prefix. */
static bool line_can_start(const char *p, const char *end)
{
    static const char version[] = "HTTP/1.";
    const char *method = p;
    while (p < end && is_tchar((unsigned char)*p))
        p++;
    if (p == end)
        return true;
    if (p == method || *p++ != ' ' || (p < end && *p != '/'))
        return false;
    while (p < end && (unsigned char)*p > ' ' && (unsigned char)*p < 0x7f)
        p++;
    if (p == end)
        return true;
    if (*p++ != ' ')
        return false;
    for (size_t i = 0; p < end && i < sizeof version - 1; i++)
        if (*p++ != version[i])
            return false;
    if (p < end && *p != '0' && *p != '1')
        return false;
    return p == end || ++p == end; /* the caller leaves out a last CR */
}

int http_parse_request(const char *buf, size_t len, struct http_request *req)
{
    /* Nothing past these windows can belong to an acceptable head, so no
     * search looks beyond them, and running out of one means a limit. */
    const size_t line_window = HTTP_MAX_REQUEST_LINE + 2; /* and CRLF */
    const char *head_end = buf + (len < HTTP_MAX_HEAD ? len : HTTP_MAX_HEAD);
    const char *line_limit = buf + (len < line_window ? len : line_window);
    const char *next;
    const char *eol = line_end(buf, line_limit, &next);

    if (!eol) {
        /* A trailing CR may yet be followed by its LF. */
        size_t seen = (size_t)(line_limit - buf);
        if (seen > 0 && line_limit[-1] == '\r')
            seen--;
        if (!line_can_start(buf, buf + seen))
            return -400;
        return seen > HTTP_MAX_REQUEST_LINE ? -414 : 0;
    }
    if (!line_can_start(buf, eol))
        return -400;
    if ((size_t)(eol - buf) > HTTP_MAX_REQUEST_LINE)
        return -414;
    req->num_headers = 0;
    if (parse_request_line(buf, eol, req) != 0)
        return -400;

    for (const char *line = next;; line = next) {
        eol = line_end(line, head_end, &next);
        if (!eol)
            return len > HTTP_MAX_HEAD ? -431 : 0;
        if (eol == line)
            return (int)(next - buf);
        if (req->num_headers == HTTP_MAX_HEADERS)
            return -431;
        if (parse_header(line, eol, &req->headers[req->num_headers++]) != 0)
            return -400;
    }
}

/* ---- Headers ------------------------------------------------------------- */

static bool header_is(const struct http_header *h, const char *name)
{
    return h->name_len == strlen(name) && same_icase(h->name, name, h->name_len);
}

const struct http_header *http_header_find(const struct http_request *req,
                                           const char *name)
{
    for (size_t i = 0; i < req->num_headers; i++)
        if (header_is(&req->headers[i], name))
            return &req->headers[i];
    return NULL;
}

size_t http_header_count(const struct http_request *req, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < req->num_headers; i++)
        n += header_is(&req->headers[i], name);
    return n;
}

/* #rule lists (RFC 9110 section 5.6.1): elements split by commas, OWS
 * around them, empty elements ignored by recipients. */
bool http_has_token(const char *value, size_t len, const char *token)
{
    const size_t token_len = strlen(token);
    const char *p = value, *end = value + len;

    for (;;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *from = p, *to = comma ? comma : end;
        trim_ows(&from, &to);
        if ((size_t)(to - from) == token_len && same_icase(from, token, token_len))
            return true;
        if (!comma)
            return false;
        p = comma + 1;
    }
}

/* Content-Length = 1*DIGIT (RFC 9110 section 8.6). A list such as "5, 5" is
 * refused rather than collapsed, and so are duplicate fields that disagree
 * (RFC 9112 section 6.3, point 5): either could smuggle a second request. */
static int parse_length(const char *p, size_t len, size_t max, size_t *out)
{
    size_t n = 0;

    if (len == 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        size_t digit = (size_t)(p[i] - '0');
        if (digit > max || n > (max - digit) / 10)
            return -1;
        n = n * 10 + digit;
    }
    *out = n;
    return 0;
}

int http_content_length(const struct http_request *req, size_t max, size_t *out)
{
    size_t length = 0;
    bool seen = false;

    for (size_t i = 0; i < req->num_headers; i++) {
        const struct http_header *h = &req->headers[i];
        size_t n;
        if (!header_is(h, "Content-Length"))
            continue;
        if (parse_length(h->value, h->value_len, max, &n) != 0 || (seen && n != length))
            return -1;
        length = n;
        seen = true;
    }
    *out = length;
    return 0;
}

/* ---- The target: path, percent-decoding, query --------------------------- */

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = to_lower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decodes one character at *p (p < end): a %XX escape (RFC 3986 section
 * 2.1), a '+' standing for a space where plus_is_space, or itself. Advances
 * *p past it and returns the byte, or -1 for a bad escape. */
static int decode_char(const char **p, const char *end, bool plus_is_space)
{
    unsigned char c = (unsigned char)*(*p)++;

    if (c == '+' && plus_is_space)
        return ' ';
    if (c != '%')
        return c;
    if (end - *p < 2)
        return -1;
    int hi = hex_value((unsigned char)(*p)[0]);
    int lo = hex_value((unsigned char)(*p)[1]);
    if (hi < 0 || lo < 0)
        return -1;
    *p += 2;
    return hi << 4 | lo;
}

long http_percent_decode(const char *in, size_t len, char *out, size_t cap,
                         bool plus_is_space)
{
    const char *end = in + len;
    size_t n = 0;

    while (in < end) {
        int c = decode_char(&in, end, plus_is_space);
        if (c < 0 || n == cap)
            return -1;
        out[n++] = (char)c;
    }
    return (long)n;
}

/* Does the form-encoded in[0..len) decode to exactly name? A bad escape
 * matches nothing. */
static bool decodes_to(const char *in, size_t len, const char *name)
{
    const char *end = in + len;

    while (in < end) {
        int c = decode_char(&in, end, true);
        if (c < 0 || *name == '\0' || (unsigned char)*name++ != c)
            return false;
    }
    return *name == '\0';
}

size_t http_path_len(const char *target, size_t len)
{
    const char *q = memchr(target, '?', len);

    return q ? (size_t)(q - target) : len;
}

bool http_path_is(const char *path, size_t len, const char *want)
{
    return strlen(want) == len && memcmp(path, want, len) == 0;
}

bool http_method_is(const struct http_request *req, const char *want)
{
    return strlen(want) == req->method_len && memcmp(req->method, want, req->method_len) == 0;
}

/* The query is application/x-www-form-urlencoded, as browsers build it
 * (the WHATWG URL standard): name=value pairs split by '&', where empty
 * pairs ("a=1&&b=2") are skipped. */
long http_query_get(const char *target, size_t len, const char *name,
                    char *out, size_t cap)
{
    const char *p = target + http_path_len(target, len), *end = target + len;

    while (p < end) {
        p++; /* past the '?' or '&' */
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        if (p < stop && decodes_to(p, (size_t)((eq ? eq : stop) - p), name)) {
            const char *value = eq ? eq + 1 : stop;
            long n = http_percent_decode(value, (size_t)(stop - value), out, cap, true);
            return n < 0 ? -2 : n;
        }
        p = stop;
    }
    return -1;
}

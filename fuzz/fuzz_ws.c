/* fuzz_ws.c - libFuzzer harness for ws.c's frame codec: the header parser
 * (with and without the client mask rule), masking, close payloads and the
 * handshake keys. The first input byte is a knob (where to split the masking,
 * at which payload offset it starts); the rest is the data.
 *
 * Properties, beyond memory safety:
 * - every prefix of a header answers "need more" or what the whole answers;
 * - an error names a rule the bytes really break (RFC 6455 section 5.2), and
 *   an accepted header breaks none: written back by ws_write_header it gives
 *   the same bytes (the length is minimal), and require_mask only adds
 *   WS_ERR_UNMASKED;
 * - masking in two pieces, from any offset, equals masking in one go and a
 *   byte-by-byte reference (section 5.3), and masking twice restores;
 * - ws_parse_close and ws_key_valid agree with references (sections 5.5.1,
 *   7.4, 4.2.1), and ws_accept_key with SHA-1 and base64 done another way. */
#include <openssl/evp.h>

#include "fuzz/fuzz.h"
#include "ws.h"

/* ---- Frame headers ------------------------------------------------------- */

static bool opcode_known(unsigned op)
{
    return op == 0 || op == 1 || op == 2 || op == 8 || op == 9 || op == 10;
}

/* The big-endian number in the extended length field, whether or not the
 * field is all there (the parser only looks once it is). */
static uint64_t length_field(const uint8_t *d, size_t ext)
{
    uint64_t v = 0;
    for (size_t i = 0; i < ext; i++)
        v = v << 8 | d[2 + i];
    return v;
}

/* A parser error must be a rule that these bytes break (section 5.2). */
static void check_error(const uint8_t *d, size_t size, bool require_mask, int r)
{
    unsigned op = d[0] & 0x0F, len7 = size > 1 ? d[1] & 0x7F : 0;
    size_t ext = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;

    switch (r) {
    case WS_ERR_RSV: EXPECT(d[0] & 0x70); break;
    case WS_ERR_OPCODE: EXPECT(!opcode_known(op)); break;
    case WS_ERR_CONTROL_FRAGMENTED: EXPECT(op >= 8 && !(d[0] & 0x80)); break;
    case WS_ERR_CONTROL_TOO_LONG: EXPECT(size > 1 && op >= 8 && len7 > 125); break;
    case WS_ERR_UNMASKED: EXPECT(require_mask && size > 1 && !(d[1] & 0x80)); break;
    case WS_ERR_LENGTH_TOP_BIT: EXPECT(ext == 8 && size >= 10 && d[2] & 0x80); break;
    case WS_ERR_LENGTH_NOT_MINIMAL:
        EXPECT(ext && size >= 2 + ext &&
               length_field(d, ext) < (ext == 2 ? 126 : 0x10000));
        break;
    default: EXPECT(!"an error ws.h does not name");
    }
    EXPECT(strcmp(ws_strerror(r), "unknown frame error") != 0);
}

/* An accepted header is what ws_write_header writes for its fields, with the
 * mask bit and key added: so RSV is clear and the length is minimal. */
static void check_accepted(const uint8_t *d, size_t size, int r, const struct ws_header *h)
{
    uint8_t out[WS_MAX_SERVER_HEADER];
    size_t n = ws_write_header(out, h->fin, h->opcode, h->len);

    EXPECT((size_t)r <= size && (size_t)r == n + (h->masked ? 4 : 0));
    EXPECT(out[0] == d[0] && out[1] == (d[1] & 0x7F) && memcmp(out + 2, d + 2, n - 2) == 0);
    EXPECT(h->masked == !!(d[1] & 0x80) && h->len >> 63 == 0);
    EXPECT(opcode_known(h->opcode) && (h->opcode < 8 || (h->fin && h->len <= WS_MAX_CONTROL)));
    static const uint8_t zero[4];
    EXPECT(memcmp(h->mask, h->masked ? d + n : zero, 4) == 0);
}

/* Field by field: the struct's padding holds whatever the stack held. */
static bool same_header(const struct ws_header *a, const struct ws_header *b)
{
    return a->len == b->len && memcmp(a->mask, b->mask, 4) == 0 && a->opcode == b->opcode &&
           a->fin == b->fin && a->masked == b->masked;
}

static void check_header(const uint8_t *d, size_t size)
{
    struct ws_header h, hm;
    int r = ws_parse_header(d, size, false, &h);
    int rm = ws_parse_header(d, size, true, &hm);

    EXPECT(r <= WS_MAX_HEADER && r >= WS_ERR_LENGTH_NOT_MINIMAL && r != 1);
    if (r < 0)
        check_error(d, size, false, r);
    if (rm < 0)
        check_error(d, size, true, rm);
    if (r > 0)
        check_accepted(d, size, r, &h);
    /* The mask rule is one more check, and the only one require_mask adds. */
    if (r > 0 && h.masked)
        EXPECT(rm == r && same_header(&h, &hm));
    if (r > 0 && !h.masked)
        EXPECT(rm == WS_ERR_UNMASKED);
    if (r < 0)
        EXPECT(rm < 0);
    if (r == WS_NEED_MORE)
        EXPECT(rm <= 0);

    for (size_t k = 0; k < size && k <= WS_MAX_HEADER; k++) {
        uint8_t *part = fuzz_copy(d, k);
        int rk = ws_parse_header(part, k, false, &hm);
        int rmk = ws_parse_header(part, k, true, &hm);
        EXPECT(rk == WS_NEED_MORE || rk == r);
        EXPECT(rmk == WS_NEED_MORE || rmk == rm);
        free(part);
    }
}

/* ---- Masking (section 5.3) ----------------------------------------------- */

static void check_mask(const uint8_t *d, size_t size, uint8_t knob)
{
    static const uint8_t fixed[4] = {0x37, 0xfa, 0x21, 0x3d};
    const uint8_t *key = size >= 4 ? d : fixed;
    /* Offsets near 2^64 too: a frame's position wraps modulo 4 all the same. */
    uint64_t pos = (knob & 0x80) ? UINT64_MAX - (knob & 0x0F) : knob & 0x0F;
    size_t split = size * (knob & 0x7F) / 0x7F;
    uint8_t *whole = fuzz_copy(d, size), *pieces = fuzz_copy(d, size);

    ws_mask(whole, size, key, pos);
    ws_mask(pieces, split, key, pos);
    ws_mask(pieces + split, size - split, key, pos + split);
    for (size_t i = 0; i < size; i++)
        EXPECT(whole[i] == (d[i] ^ key[(pos % 4 + i % 4) % 4]));
    EXPECT(memcmp(whole, pieces, size) == 0);
    ws_mask(whole, size, key, pos);
    EXPECT(memcmp(whole, d, size) == 0);
    free(whole);
    free(pieces);
}

/* ---- Close payloads (sections 5.5.1, 7.4) --------------------------------- */

static void check_close(const uint8_t *d, size_t size)
{
    unsigned code = 77777;
    int bad = ws_parse_close(d, size, &code);

    if (size == 0) {
        EXPECT(bad == 0 && code == WS_CLOSE_NO_STATUS);
        return;
    }
    unsigned status = size > 1 ? (unsigned)d[0] << 8 | d[1] : 0;
    /* Section 7.4.1 and the IANA registry: what may be sent on the wire. */
    bool sendable = (status >= 1000 && status <= 1003) || (status >= 1007 && status <= 1014) ||
                    (status >= 3000 && status <= 4999);
    EXPECT(ws_close_code_valid(status) == sendable);
    if (size == 1 || !sendable)
        EXPECT(bad == WS_CLOSE_PROTOCOL_ERROR && code == 77777);
    else if (utf8_validate(UTF8_ACCEPT, d + 2, size - 2) != UTF8_ACCEPT)
        EXPECT(bad == WS_CLOSE_INVALID_PAYLOAD && code == 77777);
    else
        EXPECT(bad == 0 && code == status);
}

/* ---- Handshake keys (section 4.2) ---------------------------------------- */

static void check_key(const uint8_t *d, size_t size)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    const char *key = (const char *)d;
    bool valid = size == 24 && key[22] == '=' && key[23] == '=';

    for (size_t i = 0; valid && i < 22; i++)
        valid = key[i] != '\0' && strchr(b64, key[i]);
    EXPECT(ws_key_valid(key, size) == valid);

    char accept[WS_ACCEPT_SIZE + 8];
    memset(accept, 'x', sizeof accept);
    ws_accept_key(key, size, accept);

    uint8_t *text = malloc(size + sizeof guid);
    unsigned char digest[EVP_MAX_MD_SIZE], want[WS_ACCEPT_SIZE];
    unsigned dlen = 0;
    memcpy(text, d, size);
    memcpy(text + size, guid, sizeof guid - 1);
    EXPECT(EVP_Digest(text, size + sizeof guid - 1, digest, &dlen, EVP_sha1(), NULL) == 1);
    EXPECT(dlen == 20);
    for (size_t i = 0, n = 0; i < 21; i += 3) {   /* 20 bytes and a zero pad */
        uint32_t v = (uint32_t)digest[i] << 16 | (uint32_t)digest[i + 1] << 8 |
                     (i + 2 < 20 ? digest[i + 2] : 0);
        for (int k = 0; k < 4; k++)
            want[n++] = (uint8_t)b64[v >> (18 - 6 * k) & 63];
    }
    want[27] = '=';
    EXPECT(memcmp(accept, want, 28) == 0 && accept[28] == '\0' && accept[29] == 'x');
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t knob = data[0];
    const uint8_t *d = data + 1;
    size--;
    check_header(d, size);
    check_mask(d, size, knob);
    check_close(d, size);
    check_key(d, size);
    return 0;
}

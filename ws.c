/* ws.c - the RFC 6455 codec: frame header parser and writer, masking, close
 * payloads, the incremental UTF-8 validator and the handshake's accept key.
 * Pure functions only; the connection layer feeds them bytes as they arrive. */
#include "ws.h"

#include <string.h>

/* OpenSSL 3 marks SHA1_Init & co. deprecated in favour of EVP_Digest*, but the
 * EVP route drags the provider machinery and dlopen() into our static link,
 * which makes the linker warn. The low-level calls link cleanly. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/evp.h>
#include <openssl/sha.h>

/* ---- Frame headers (§5.2) ---- */

enum {
    B0_FIN = 0x80,    /* first byte: final fragment */
    B0_RSV = 0x70,    /* first byte: RSV1-3, for extensions */
    B0_OPCODE = 0x0F, /* first byte: opcode */
    B1_MASK = 0x80,   /* second byte: a masking key follows the length */
    B1_LEN = 0x7F,    /* second byte: 7-bit length, or one of the two below */
    LEN_16 = 126,     /* a 16-bit length follows */
    LEN_64 = 127,     /* a 64-bit length follows */
};

static bool opcode_known(unsigned op)
{
    return op <= WS_OP_BINARY || (op >= WS_OP_CLOSE && op <= WS_OP_PONG);
}

/* Checks each byte as soon as it is there, in wire order, so that every prefix
 * of a bad header already gives its error or WS_NEED_MORE. */
int ws_parse_header(const uint8_t *buf, size_t len, bool require_mask, struct ws_header *h)
{
    if (len < 1)
        return WS_NEED_MORE;
    unsigned op = buf[0] & B0_OPCODE;
    bool fin = buf[0] & B0_FIN;
    bool control = op >= WS_OP_CLOSE;
    if (buf[0] & B0_RSV)
        return WS_ERR_RSV;
    if (!opcode_known(op))
        return WS_ERR_OPCODE;
    if (control && !fin)
        return WS_ERR_CONTROL_FRAGMENTED;

    if (len < 2)
        return WS_NEED_MORE;
    bool masked = buf[1] & B1_MASK;
    unsigned len7 = buf[1] & B1_LEN;
    if (require_mask && !masked)
        return WS_ERR_UNMASKED;
    if (control && len7 > WS_MAX_CONTROL)
        return WS_ERR_CONTROL_TOO_LONG;

    size_t ext = len7 == LEN_16 ? 2 : len7 == LEN_64 ? 8 : 0;
    if (len < 2 + ext)
        return WS_NEED_MORE;
    uint64_t plen = ext ? 0 : len7;
    for (size_t i = 0; i < ext; i++) /* network byte order */
        plen = plen << 8 | buf[2 + i];
    if (plen >> 63)
        return WS_ERR_LENGTH_TOP_BIT;
    if ((ext == 2 && plen < LEN_16) || (ext == 8 && plen <= 0xFFFF))
        return WS_ERR_LENGTH_NOT_MINIMAL;

    size_t total = 2 + ext + (masked ? 4 : 0);
    if (len < total)
        return WS_NEED_MORE;
    h->len = plen;
    h->opcode = (uint8_t)op;
    h->fin = fin;
    h->masked = masked;
    memset(h->mask, 0, sizeof h->mask);
    if (masked)
        memcpy(h->mask, buf + 2 + ext, sizeof h->mask);
    return (int)total;
}

const char *ws_strerror(int err)
{
    switch (err) {
    case WS_ERR_RSV: return "reserved bits set";
    case WS_ERR_OPCODE: return "reserved opcode";
    case WS_ERR_CONTROL_FRAGMENTED: return "fragmented control frame";
    case WS_ERR_CONTROL_TOO_LONG: return "control frame over 125 bytes";
    case WS_ERR_UNMASKED: return "client frame not masked";
    case WS_ERR_LENGTH_TOP_BIT: return "64-bit length with the top bit set";
    case WS_ERR_LENGTH_NOT_MINIMAL: return "length not in its shortest form";
    }
    return "unknown frame error";
}

/* The payload's byte i is XORed with mask[i % 4] (§5.3). Eight bytes of the key,
 * rotated to start at pos, cover a whole 64-bit word, and since 8 is a multiple
 * of 4 the same word fits every aligned chunk of 8 that follows. */
void ws_mask(uint8_t *data, size_t len, const uint8_t mask[4], uint64_t pos)
{
    uint8_t key[8];
    for (size_t i = 0; i < sizeof key; i++)
        key[i] = mask[(pos + i) % 4];
    uint64_t k, w;
    memcpy(&k, key, sizeof k);

    size_t i = 0;
    for (; len - i >= sizeof w; i += sizeof w) {
        memcpy(&w, data + i, sizeof w);
        w ^= k;
        memcpy(data + i, &w, sizeof w);
    }
    for (; i < len; i++)
        data[i] ^= key[i % 4];
}

size_t ws_write_header(uint8_t out[WS_MAX_SERVER_HEADER], bool fin, enum ws_opcode op,
                       uint64_t len)
{
    out[0] = (uint8_t)((fin ? B0_FIN : 0) | op);
    if (len < LEN_16) {
        out[1] = (uint8_t)len;
        return 2;
    }
    size_t ext = len <= 0xFFFF ? 2 : 8;
    out[1] = ext == 2 ? LEN_16 : LEN_64;
    for (size_t i = 0; i < ext; i++)
        out[1 + ext - i] = (uint8_t)(len >> (8 * i)); /* network byte order */
    return 2 + ext;
}

/* ---- Close frames (§5.5.1, §7.4) ---- */

bool ws_close_code_valid(unsigned code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

int ws_parse_close(const uint8_t *payload, size_t len, unsigned *code)
{
    if (len == 0) {
        *code = WS_CLOSE_NO_STATUS;
        return 0;
    }
    if (len == 1)
        return WS_CLOSE_PROTOCOL_ERROR;
    unsigned status = (unsigned)payload[0] << 8 | payload[1];
    if (!ws_close_code_valid(status))
        return WS_CLOSE_PROTOCOL_ERROR;
    if (utf8_validate(UTF8_ACCEPT, payload + 2, len - 2) != UTF8_ACCEPT)
        return WS_CLOSE_INVALID_PAYLOAD;
    *code = status;
    return 0;
}

/* ---- UTF-8 (RFC 3629 §4) ----
 *
 * A deterministic automaton over byte classes. Well-formed UTF-8 is
 *   00-7F | C2-DF 80-BF | E0 A0-BF 80-BF | E1-EC 80-BF 80-BF | ED 80-9F 80-BF
 *   | EE-EF 80-BF 80-BF | F0 90-BF 80-BF 80-BF | F1-F3 80-BF 80-BF 80-BF
 *   | F4 80-8F 80-BF 80-BF
 * The four leads E0, ED, F0 and F4 narrow the range of the next byte: that is
 * where overlong forms, surrogates and code points above U+10FFFF are cut off,
 * at their second byte. C0, C1 and F5-FF never occur at all. */

enum { /* the states; the first two are the public ones */
    S_OK = UTF8_ACCEPT, /* between characters */
    S_NO = UTF8_REJECT, /* invalid, for good */
    S_1,                /* 1 more continuation byte 80-BF to come */
    S_2,                /* 2 more */
    S_3,                /* 3 more */
    S_E0,               /* after E0: A0-BF, as 80-9F would be overlong */
    S_ED,               /* after ED: 80-9F, as A0-BF would be a surrogate */
    S_F0,               /* after F0: 90-BF, as 80-8F would be overlong */
    S_F4,               /* after F4: 80-8F, as 90-BF would be above U+10FFFF */
    S_COUNT
};

enum { /* the byte classes, named after the first byte of their range */
    C_00, /* 00-7F: ASCII */
    C_80, /* 80-8F: continuation */
    C_90, /* 90-9F: continuation */
    C_A0, /* A0-BF: continuation */
    C_C0, /* C0, C1, F5-FF: never valid */
    C_C2, /* C2-DF: lead of 2 */
    C_E0, /* E0: lead of 3 */
    C_E1, /* E1-EC, EE, EF: lead of 3 */
    C_ED, /* ED: lead of 3 */
    C_F0, /* F0: lead of 4 */
    C_F1, /* F1-F3: lead of 4 */
    C_F4, /* F4: lead of 4 */
    C_COUNT
};

static const uint8_t utf8_class[128] = { /* bytes 80-FF; below that is C_00 */
    C_80, C_80, C_80, C_80, C_80, C_80, C_80, C_80, C_80, C_80, C_80, C_80, C_80, C_80, C_80, C_80,
    C_90, C_90, C_90, C_90, C_90, C_90, C_90, C_90, C_90, C_90, C_90, C_90, C_90, C_90, C_90, C_90,
    C_A0, C_A0, C_A0, C_A0, C_A0, C_A0, C_A0, C_A0, C_A0, C_A0, C_A0, C_A0, C_A0, C_A0, C_A0, C_A0,
    C_A0, C_A0, C_A0, C_A0, C_A0, C_A0, C_A0, C_A0, C_A0, C_A0, C_A0, C_A0, C_A0, C_A0, C_A0, C_A0,
    C_C0, C_C0, C_C2, C_C2, C_C2, C_C2, C_C2, C_C2, C_C2, C_C2, C_C2, C_C2, C_C2, C_C2, C_C2, C_C2,
    C_C2, C_C2, C_C2, C_C2, C_C2, C_C2, C_C2, C_C2, C_C2, C_C2, C_C2, C_C2, C_C2, C_C2, C_C2, C_C2,
    C_E0, C_E1, C_E1, C_E1, C_E1, C_E1, C_E1, C_E1, C_E1, C_E1, C_E1, C_E1, C_E1, C_ED, C_E1, C_E1,
    C_F0, C_F1, C_F1, C_F1, C_F4, C_C0, C_C0, C_C0, C_C0, C_C0, C_C0, C_C0, C_C0, C_C0, C_C0, C_C0,
};

/* The next state, by state and byte class. S_NO is never left (utf8_validate
 * stops there at once, but the table stays a complete automaton). */
static const uint8_t utf8_next[S_COUNT][C_COUNT] = {
    /*         C_00  C_80  C_90  C_A0  C_C0  C_C2  C_E0  C_E1  C_ED  C_F0  C_F1  C_F4 */
    [S_OK] = { S_OK, S_NO, S_NO, S_NO, S_NO, S_1,  S_E0, S_2,  S_ED, S_F0, S_3,  S_F4 },
    [S_NO] = { S_NO, S_NO, S_NO, S_NO, S_NO, S_NO, S_NO, S_NO, S_NO, S_NO, S_NO, S_NO },
    [S_1] =  { S_NO, S_OK, S_OK, S_OK, S_NO, S_NO, S_NO, S_NO, S_NO, S_NO, S_NO, S_NO },
    [S_2] =  { S_NO, S_1,  S_1,  S_1,  S_NO, S_NO, S_NO, S_NO, S_NO, S_NO, S_NO, S_NO },
    [S_3] =  { S_NO, S_2,  S_2,  S_2,  S_NO, S_NO, S_NO, S_NO, S_NO, S_NO, S_NO, S_NO },
    [S_E0] = { S_NO, S_NO, S_NO, S_1,  S_NO, S_NO, S_NO, S_NO, S_NO, S_NO, S_NO, S_NO },
    [S_ED] = { S_NO, S_1,  S_1,  S_NO, S_NO, S_NO, S_NO, S_NO, S_NO, S_NO, S_NO, S_NO },
    [S_F0] = { S_NO, S_NO, S_2,  S_2,  S_NO, S_NO, S_NO, S_NO, S_NO, S_NO, S_NO, S_NO },
    [S_F4] = { S_NO, S_2,  S_NO, S_NO, S_NO, S_NO, S_NO, S_NO, S_NO, S_NO, S_NO, S_NO },
};

/* Length of the run of ASCII at the start of s: eight bytes at a time while
 * no byte of the word has its high bit set, then byte by byte. */
static size_t ascii_run(const uint8_t *s, size_t len)
{
    size_t i = 0;
    uint64_t w;
    for (; len - i >= sizeof w; i += sizeof w) {
        memcpy(&w, s + i, sizeof w);
        if (w & 0x8080808080808080u)
            break;
    }
    while (i < len && s[i] < 0x80)
        i++;
    return i;
}

/* Text is mostly ASCII, so between characters the automaton is bypassed for
 * whole runs of it; it steps only through the bytes of multibyte characters. */
uint32_t utf8_validate(uint32_t state, const uint8_t *s, size_t len)
{
    for (size_t i = 0; i < len && state != S_NO; i++) {
        if (state == S_OK) {
            i += ascii_run(s + i, len - i);
            if (i == len)
                break;
        }
        state = utf8_next[state][s[i] < 0x80 ? C_00 : utf8_class[s[i] - 0x80]];
    }
    return state;
}

/* ---- Handshake (§4.2) ---- */

enum { KEY_LEN = 24 }; /* base64 of 16 bytes: 22 characters, then "==" */

static bool base64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/';
}

bool ws_key_valid(const char *key, size_t len)
{
    if (len != KEY_LEN || key[KEY_LEN - 2] != '=' || key[KEY_LEN - 1] != '=')
        return false;
    for (size_t i = 0; i < KEY_LEN - 2; i++)
        if (!base64_char(key[i]))
            return false;
    return true;
}

/* Fixed by §1.3: a server that knows it proves it speaks WebSocket. */
static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

void ws_accept_key(const char *key, size_t len, char out[WS_ACCEPT_SIZE])
{
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA_CTX ctx;
    SHA1_Init(&ctx);
    SHA1_Update(&ctx, key, len);
    SHA1_Update(&ctx, ws_guid, sizeof ws_guid - 1);
    SHA1_Final(digest, &ctx);
    EVP_EncodeBlock((unsigned char *)out, digest, sizeof digest); /* writes the NUL too */
}

/* ws.h - the RFC 6455 codec: frame headers in and out, masking, close payloads,
 * incremental UTF-8 validation and the handshake's accept key.
 *
 * Everything here is pure: no I/O, no allocation, no global mutable state. It is
 * built to run on partial data, because bytes arrive from read() in arbitrary
 * pieces: ws_parse_header says "need more" on a partial header, and ws_mask and
 * utf8_validate carry their position or state from one piece to the next. */
#ifndef WS_H
#define WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WS_MAX_HEADER 14        /* longest client frame header: 2 + 8 length + 4 mask */
#define WS_MAX_SERVER_HEADER 10 /* server frames are never masked (§5.1) */
#define WS_MAX_CONTROL 125      /* largest control frame payload (§5.5) */

enum ws_opcode { /* §5.2; everything else is reserved */
    WS_OP_CONT = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8, /* 0x8 and up are control frames (§5.5) */
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xA,
};

/* The status codes pusher sends or receives (§7.4.1). */
enum ws_close_code {
    WS_CLOSE_NORMAL = 1000,
    WS_CLOSE_GOING_AWAY = 1001,
    WS_CLOSE_PROTOCOL_ERROR = 1002,
    WS_CLOSE_UNSUPPORTED_DATA = 1003,
    WS_CLOSE_NO_STATUS = 1005, /* only reported locally, never sent (§7.4.1) */
    WS_CLOSE_ABNORMAL = 1006,  /* ended without a close frame: reported locally, never sent */
    WS_CLOSE_INVALID_PAYLOAD = 1007,
    WS_CLOSE_POLICY_VIOLATION = 1008,
    WS_CLOSE_MESSAGE_TOO_BIG = 1009,
    WS_CLOSE_INTERNAL_ERROR = 1011,
};

/* ws_parse_header's results: a header length (> 0), "need more", or an
 * error. Every error means: fail the connection with close 1002 (§7.1.7). */
enum ws_parse_result {
    WS_NEED_MORE = 0,
    WS_ERR_RSV = -1,                /* RSV1-3 set, but no extension was negotiated (§5.2) */
    WS_ERR_OPCODE = -2,             /* reserved opcode 0x3-0x7 or 0xB-0xF (§5.2) */
    WS_ERR_CONTROL_FRAGMENTED = -3, /* control frame without FIN (§5.5) */
    WS_ERR_CONTROL_TOO_LONG = -4,   /* control frame payload over 125 bytes (§5.5) */
    WS_ERR_UNMASKED = -5,           /* client frame without a mask (§5.1) */
    WS_ERR_LENGTH_TOP_BIT = -6,     /* 64-bit length with its top bit set (§5.2) */
    WS_ERR_LENGTH_NOT_MINIMAL = -7, /* length in a longer form than needed (§5.2) */
};

struct ws_header {
    uint64_t len;    /* payload length in bytes, below 2^63 */
    uint8_t mask[4]; /* masking key; all zero when !masked */
    uint8_t opcode;  /* one of enum ws_opcode */
    bool fin;        /* last frame of its message */
    bool masked;     /* a masking key was present */
};

/* Parses one frame header at the start of buf. Returns the header's length
 * (2..WS_MAX_HEADER) when it is complete, WS_NEED_MORE when buf holds only a
 * part of it, or a negative WS_ERR_*. Errors are reported as soon as the bytes
 * that show them have arrived, so a prefix of buf gives either WS_NEED_MORE or
 * the same result as the whole. With require_mask (a server reading client
 * frames), an unmasked frame is an error. *h is written only on success. */
int ws_parse_header(const uint8_t *buf, size_t len, bool require_mask, struct ws_header *h);

/* One short human reason for a WS_ERR_*. */
const char *ws_strerror(int err);

/* XORs data with the masking key in place (§5.3). pos is the offset of data[0]
 * within the frame's payload, so a payload can be unmasked in pieces as it
 * arrives; masking twice restores the data. */
void ws_mask(uint8_t *data, size_t len, const uint8_t mask[4], uint64_t pos);

/* Writes the header of an unmasked server frame carrying len bytes (len below
 * 2^63; at most WS_MAX_CONTROL for a control opcode). Returns 2, 4 or 10. */
size_t ws_write_header(uint8_t out[WS_MAX_SERVER_HEADER], bool fin, enum ws_opcode op,
                       uint64_t len);

/* May this status code appear in a close frame on the wire (§7.4, IANA
 * registry)? 1000-1003, 1007-1014 and 3000-4999 may; 1005 and 1006 are
 * local-only, 1004 and 1015 reserved, the rest unassigned. */
bool ws_close_code_valid(unsigned code);

/* Reads a received close frame's payload: an optional 2-byte status code then
 * a UTF-8 reason (§5.5.1). Returns 0 and sets *code (WS_CLOSE_NO_STATUS for an
 * empty payload, which must be answered with an empty close), or returns the
 * close code to fail the connection with: WS_CLOSE_PROTOCOL_ERROR for a 1-byte
 * payload or a code that may not be sent, WS_CLOSE_INVALID_PAYLOAD for a reason
 * that is not UTF-8 (§8.1). *code is written only on success. */
int ws_parse_close(const uint8_t *payload, size_t len, unsigned *code);

/* Incremental UTF-8 validation (RFC 3629). Start with UTF8_ACCEPT and feed
 * each piece with the state the last call returned. UTF8_ACCEPT: the text so
 * far ends on a character boundary. UTF8_REJECT: the text can no longer be
 * valid, whatever follows; it is returned at the first byte that shows this
 * (an overlong form, a surrogate, a code point above U+10FFFF, a stray or
 * missing continuation byte), and is sticky. Any other value: inside a
 * character, so a message ending there is invalid (§8.1). Pass only
 * UTF8_ACCEPT or a value this function returned. */
#define UTF8_ACCEPT 0
#define UTF8_REJECT 1
uint32_t utf8_validate(uint32_t state, const uint8_t *s, size_t len);

/* Is this Sec-WebSocket-Key (whitespace already trimmed) the base64 of 16
 * bytes, i.e. 22 base64 characters and "==" (§4.2.1)? */
bool ws_key_valid(const char *key, size_t len);

/* Computes Sec-WebSocket-Accept: base64(SHA-1(key + GUID)) (§4.2.2, step 5.4),
 * 28 characters and a NUL. */
#define WS_ACCEPT_SIZE 29 /* base64 of a 20-byte SHA-1 digest, and a NUL */
void ws_accept_key(const char *key, size_t len, char out[WS_ACCEPT_SIZE]);

#endif

/* frame.c - shared output frames (frame.h): built once, referenced by every
 * queue they are in, freed by the last owner. */
#include <stdlib.h>
#include <string.h>

#include "frame.h"

struct frame *frame_alloc(size_t cap)
{
    struct frame *f = malloc(sizeof *f + WS_MAX_SERVER_HEADER + cap);
    if (!f)
        return NULL;
    f->refs = 1;
    f->len = 0;
    f->off = WS_MAX_SERVER_HEADER;
    f->keep = false;
    f->lost = false;
    return f;
}

void frame_seal(struct frame *f, enum ws_opcode op, size_t len)
{
    uint8_t hdr[WS_MAX_SERVER_HEADER];
    size_t n = ws_write_header(hdr, true, op, len);
    f->off = (uint16_t)(WS_MAX_SERVER_HEADER - n);
    memcpy(f->buf + f->off, hdr, n);
    f->len = (uint32_t)(n + len);
}

void frame_seal_raw(struct frame *f, size_t len)
{
    f->off = WS_MAX_SERVER_HEADER;
    f->len = (uint32_t)len;
    f->keep = true;
}

struct frame *frame_make(enum ws_opcode op, const void *payload, size_t len)
{
    struct frame *f = frame_alloc(len);
    if (!f)
        return NULL;
    if (len)
        memcpy(frame_payload(f), payload, len);
    frame_seal(f, op, len);
    return f;
}

void frame_unref(struct frame *f)
{
    if (f && --f->refs == 0)
        free(f);
}

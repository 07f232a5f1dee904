/* frame.h - shared output: a block of bytes encoded once and sent to every
 * recipient by reference, a WebSocket frame (its header written in front
 * of the payload, RFC 6455 §5.2) or the raw bytes of an HTTP answer.
 *
 * A broadcast to N connections is N references to one frame, not N copies;
 * the transport writes frame_data() and never looks inside. */
#ifndef FRAME_H
#define FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ws.h"

struct frame {
    uint32_t refs;              /* owners: queues, history, the builder */
    uint32_t len;               /* bytes to send, from frame_data() */
    uint16_t off;               /* where the bytes start in buf */
    bool keep;                  /* sent even where unsent output is dropped (an HTTP answer) */
    bool lost;                  /* never sent: the journal could not keep it (--fsync always) */
    uint8_t buf[];              /* WS_MAX_SERVER_HEADER of room, then payload */
};

/* A frame with room for a payload of up to cap bytes at frame_payload(). */
struct frame *frame_alloc(size_t cap);
static inline uint8_t *frame_payload(struct frame *f) { return f->buf + WS_MAX_SERVER_HEADER; }
static inline const uint8_t *frame_data(const struct frame *f) { return f->buf + f->off; }
/* Puts the WebSocket header right before a payload of len bytes (§5.2). */
void frame_seal(struct frame *f, enum ws_opcode op, size_t len);
/* Marks the payload as raw bytes to send as they are: an HTTP answer, which
 * must go out whole before any frame that follows it. */
void frame_seal_raw(struct frame *f, size_t len);
struct frame *frame_make(enum ws_opcode op, const void *payload, size_t len);
void frame_unref(struct frame *f);

#endif

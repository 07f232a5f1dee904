/* history.c - a ring of the last HISTORY_LEN frames of a chat. The frames
 * are shared with the queues they were sent to, so a history costs a
 * pointer and an id a message. */
#include "history.h"

/* Over every history there is: what a journal rewrite would write. */
static size_t all_bytes, all_entries;

void history_totals(size_t *bytes, size_t *entries)
{
    *bytes = all_bytes;
    *entries = all_entries;
}

const struct history_entry *history_at(const struct history *h, uint32_t i)
{
    return &h->e[(h->start + i) % HISTORY_LEN];
}

void history_add(struct history *h, struct frame *f, uint64_t id)
{
    uint32_t slot = (h->start + h->len) % HISTORY_LEN;
    if (h->len == HISTORY_LEN) {
        all_bytes -= h->e[slot].frame->len;
        frame_unref(h->e[slot].frame);
        h->start = (h->start + 1) % HISTORY_LEN;
    } else {
        h->len++;
        all_entries++;
    }
    all_bytes += f->len;
    f->refs++;
    h->e[slot] = (struct history_entry){.frame = f, .id = id};
}

void history_clear(struct history *h)
{
    for (uint32_t i = 0; i < h->len; i++) {
        all_bytes -= history_at(h, i)->frame->len;
        frame_unref(history_at(h, i)->frame);
    }
    all_entries -= h->len;
    h->start = h->len = 0;
}

/* A replay is limited to the newest messages that fit in the budget (half
 * of --max-pending), so a history of large messages cannot push a newcomer
 * over its own output cap before it has read a byte. */
size_t history_since(const struct history *h, uint64_t since, size_t budget, uint32_t *first)
{
    uint32_t i = h->len;
    size_t bytes = 0;
    while (i > 0) {
        const struct history_entry *e = history_at(h, i - 1);
        if (e->id <= since || bytes + e->frame->len > budget)
            break;
        bytes += e->frame->len;
        i--;
    }
    *first = i;
    return bytes;
}

/* connmgr_answer.c - what a client is told of its message when that comes
 * later than routing: with --redis once the routing script has answered,
 * and under --fsync always once the loop turn's journal is on disk (a
 * queued: that says "kept" must not come before it is). The sender is named
 * by id and serial, so an answer for a connection that has gone meanwhile
 * (its id perhaps reused) goes nowhere. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connmgr_int.h"
#include "journal.h"

struct cluster_sender connmgr_sender_of(const struct conn *c)
{
    const struct member *m = c ? connmgr_member(c) : NULL;
    return m ? (struct cluster_sender){(uint32_t)conn_id(c), m->serial}
             : (struct cluster_sender){0, 0};
}

struct conn *connmgr_sender_conn(struct cluster_sender s)
{
    const struct member *m = connmgr_member_by_id(s.conn);
    if (s.serial == 0 || !m || m->serial != s.serial)
        return NULL;
    return conn_by_id((int)s.conn);
}

static void pending_fill(struct pending *p, struct conn *from, const struct message *m)
{
    *p = (struct pending){.from = connmgr_sender_of(from), .create_at = m->create_at};
    snprintf(p->to, sizeof p->to, "%s", connmgr_quoted_to(m));
}

struct pending *connmgr_pending(struct conn *from, const struct message *m)
{
    struct pending *p = malloc(sizeof *p);
    if (p)
        pending_fill(p, from, m);
    return p;
}

/* The sender's answer, where it is still connected. */
static void tell(const struct pending *p, bool kept, const char *failure)
{
    struct conn *c = connmgr_sender_conn(p->from);
    if (c && failure && strcmp(failure, "not online") == 0)
        connmgr_reply_error(c, "error: user \"%s\" is not online", p->to);
    else if (c && failure)
        connmgr_reply_error(c, "error: %s; the message was not sent", failure);
    else if (c && kept)
        connmgr_reply(c, p->create_at, "queued: %s is offline; the message is kept until they come back",
              p->to);
}

void connmgr_answer(void *p, long delivered, bool kept, const char *failure)
{
    (void)delivered;
    tell(p, kept, failure);
    free(p);
}

static void journaled(void *p, const char *failure)
{
    connmgr_answer(p, 0, ((struct pending *)p)->kept, failure);
}

void connmgr_answer_journaled(struct conn *from, const struct message *m, bool kept)
{
    struct pending now, *p = journal_waits() ? connmgr_pending(from, m) : NULL;
    if (p) {
        p->kept = kept;
        journal_after(journaled, p);
        return;
    }
    if (!kept && !journal_waits())
        return;                 /* a Group: nothing to say */
    /* Nothing waits for the disk, or there is no memory to wait in: the
     * turn's records are written now. */
    pending_fill(&now, from, m);
    tell(&now, kept, journal_commit() ? NULL : journal_problem());
}

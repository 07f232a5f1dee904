/* journal.h - persistence (PROTOCOL.md "Persistence", --journal DIR): what
 * a restart needs (the histories, the kept messages, the id counter) as an
 * append-only file of record.h's lines, synced as --fsync says, replayed at
 * start, rewritten to its live contents when it grows past twice their size.
 *
 * Routing tells the journal what it remembers and forgets; the journal
 * gathers a loop turn's records and writes them with one write() before the
 * turn's output leaves (conn_set_before_write), and under --fsync always
 * syncs them too, so nobody sees what a crash could still take back. */
#ifndef JOURNAL_H
#define JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "loop.h"

enum journal_fsync { JOURNAL_ALWAYS, JOURNAL_EVERYSEC, JOURNAL_NO };

/* Where start-up hands each record back, in the order they were written;
 * and, for a rewrite, who writes the live contents again (with the
 * journal_* calls below). */
struct journal_owner {
    void (*history)(const char *room, size_t len, struct frame *f, uint64_t id);
    void (*kept)(const char *user, size_t len, struct frame *f, uint64_t id);
    void (*forget)(const char *user, size_t len, uint64_t id);
    void (*id_mark)(uint64_t id);
    void (*dump)(void);
    size_t (*live_bytes)(void);  /* about what a rewrite would write */
};

/* Opens, locks and replays DIR's journal (made where there is none). 0, or
 * -1 after one line on stderr (the caller exits with status 2): DIR locked
 * by another server, a damaged record before the end without repair, an
 * I/O error. A damaged last line counts as torn: a crash leaves those too. */
int journal_open(struct loop *l, const char *dir, enum journal_fsync fsync, bool repair,
                 const struct journal_owner *owner);
/* Writes what is gathered and syncs it (a clean exit). */
void journal_close(void);

/* A history entry of room[0..len) ("": everyone's), a kept message for a
 * user, and one forgotten (delivered, or passed by since=). */
void journal_history(const char *room, size_t len, struct frame *f, uint64_t id);
void journal_kept(const char *user, size_t len, struct frame *f, uint64_t id);
void journal_forget(const char *user, size_t len, uint64_t id);
/* Ids were handed out up to last: marks, now and then, a point above it. */
void journal_ids(uint64_t last);

/* Under --fsync always, f goes out only if this turn's records are on disk;
 * if they cannot be written it is marked lost and never sent. */
void journal_guard(struct frame *f);
/* Under --fsync always, the turn's records are written at its end, after
 * routing: done(arg, failure) is called then, before any of the turn's
 * output leaves, with failure NULL where they are on disk and the reason
 * where not, so a sender is told of a message only once its fate is known.
 * Otherwise done(arg, NULL) at once. done must not journal anything. */
typedef void journal_done_fn(void *arg, const char *failure);
void journal_after(journal_done_fn *done, void *arg);
/* Does the turn's output wait for its records to be on disk (--fsync
 * always)? journal_commit writes and syncs them now, for an answer that
 * cannot wait for the turn's end (/api/push): true where they are on disk,
 * or where nothing waits for the disk. */
bool journal_waits(void);
bool journal_commit(void);

/* Why the journal cannot be written now, or NULL while it can (/healthz). */
const char *journal_problem(void);
/* Must what needs the journal be refused now (--fsync always, broken)? */
bool journal_refuses(void);

#endif

/* journal.c - the journal file (see journal.h): the lock, replay at start,
 * the write path, the syncs, the rewrite, and what happens when the disk
 * says no.
 *
 * The write path is Redis's appendfsync: the records of a turn gather in a
 * buffer and leave with one write() just before the turn's output is
 * written; under "always" one fdatasync() follows, so a busy server pays one
 * sync per turn however many messages it carried (group commit); under
 * "everysec" a one-second timer syncs; under "no" the kernel decides.
 *
 * The rewrite (compaction) writes the live contents to journal.new, syncs
 * it, renames it over journal and syncs the directory: a crash at any point
 * leaves the old file or the new one whole. It also is how a journal that
 * failed comes back: once a write fails, records are no longer gathered,
 * and each second a rewrite is tried; when one succeeds, the file again
 * holds all the server remembers. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "journal.h"
#include "log.h"
#include "record.h"
#include "stats.h"

#define FILE_NAME "journal"
#define NEW_NAME "journal.new"
#define WRITE_AT (1 << 20)          /* a turn's records past this are written at once */
#define REWRITE_SLACK (16 << 10)    /* beyond twice the live size: a journal of a few
                                     * records is not rewritten every second */
#define ID_RESERVE 10000000u        /* an id mark covers the next 10 s of ids */
#define TICK_MS 1000

/* Where records go: the journal, or journal.new while it is being written. */
struct sink {
    int fd;
    struct buf b;
    size_t written;             /* bytes in the file */
    int err;                    /* the first errno, 0 while all went well */
};

static struct {
    struct loop *loop;
    const struct journal_owner *owner;
    enum journal_fsync fsync;
    int dirfd;
    const char *dir;
    size_t max_line;
    struct sink main, *sink;    /* sink: &main, or the rewrite's */
    bool open, replaying, dirty;
    int broken;                 /* the errno that stopped writing, or 0 */
    char problem[160];
    uint64_t id_mark;           /* ids are journaled as given up to this */
    struct frame **guarded;     /* under always: frames of this turn */
    size_t nguarded, guarded_cap;
    struct after {
        journal_done_fn *done;
        void *arg;
    } *after;                   /* under always: who waits to hear of this turn */
    size_t nafter, after_cap;
    struct loop_timer tick;
} g;

/* ------------------------------------------------------------- writing */

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Writes what s gathered; its first failure stays in s->err. */
static void sink_write(struct sink *s)
{
    if (s->b.failed && !s->err)
        s->err = ENOMEM;
    if (!s->err && s->b.len && write_all(s->fd, s->b.data, s->b.len) < 0)
        s->err = errno;
    if (!s->err)
        s->written += s->b.len;
    s->b.len = 0;
    s->b.failed = false;
}

static void append(const struct record *r)
{
    if (!g.open || g.replaying || (g.broken && g.sink == &g.main))
        return;
    record_append(&g.sink->b, r);
    if (g.sink->b.len >= WRITE_AT || g.sink->b.failed)
        sink_write(g.sink);
    g.dirty = true;
}

/* The JSON of a message frame: its payload. */
static const char *json_of(const struct frame *f, size_t *len)
{
    *len = (size_t)f->off + f->len - WS_MAX_SERVER_HEADER;
    return (const char *)f->buf + WS_MAX_SERVER_HEADER;
}

void journal_history(const char *room, size_t len, struct frame *f, uint64_t id)
{
    struct record r = {.kind = RECORD_HISTORY, .id = id, .name = room, .name_len = len};
    r.json = json_of(f, &r.json_len);
    append(&r);
    journal_guard(f);
}

void journal_kept(const char *user, size_t len, struct frame *f, uint64_t id)
{
    struct record r = {.kind = RECORD_KEPT, .id = id, .name = user, .name_len = len};
    r.json = json_of(f, &r.json_len);
    append(&r);
    journal_guard(f);
}

void journal_forget(const char *user, size_t len, uint64_t id)
{
    append(&(struct record){.kind = RECORD_FORGET, .id = id, .name = user, .name_len = len});
}

void journal_ids(uint64_t last)
{
    if (!g.open || last < g.id_mark)
        return;
    g.id_mark = last + ID_RESERVE;
    append(&(struct record){.kind = RECORD_ID, .id = g.id_mark});
}

/* Does this turn's output wait for its records (--fsync always)? */
static bool guarding(void)
{
    return g.open && g.fsync == JOURNAL_ALWAYS && !g.replaying && g.sink == &g.main;
}

void journal_guard(struct frame *f)
{
    if (!guarding())
        return;
    if (g.nguarded == g.guarded_cap) {
        size_t cap = g.guarded_cap ? 2 * g.guarded_cap : 256;
        struct frame **v = realloc(g.guarded, cap * sizeof *v);
        if (!v) {
            f->lost = true;     /* cannot be told apart later: not sent */
            return;
        }
        g.guarded = v;
        g.guarded_cap = cap;
    }
    f->refs++;
    g.guarded[g.nguarded++] = f;
}

static void before_write(void);

void journal_after(journal_done_fn *done, void *arg)
{
    if (!guarding()) {
        done(arg, NULL);
        return;
    }
    if (g.nafter == g.after_cap) {
        size_t cap = g.after_cap ? 2 * g.after_cap : 64;
        struct after *v = realloc(g.after, cap * sizeof *v);
        if (!v) {
            /* No room to wait in: the turn's records are written now. */
            before_write();
            done(arg, g.broken ? g.problem : NULL);
            return;
        }
        g.after = v;
        g.after_cap = cap;
    }
    g.after[g.nafter++] = (struct after){done, arg};
}

/* The end of a turn's guard: what it held goes out, or (lost) never, and
 * those waiting hear which. */
static void release_guarded(bool lost)
{
    for (size_t i = 0; i < g.nguarded; i++) {
        g.guarded[i]->lost |= lost;
        frame_unref(g.guarded[i]);
    }
    g.nguarded = 0;
    for (size_t i = 0; i < g.nafter; i++)
        g.after[i].done(g.after[i].arg, lost ? g.problem : NULL);
    g.nafter = 0;
}

/* ------------------------------------------------------------- failing */

static void set_broken(int err, const char *doing)
{
    stats.journal_errors++;
    g.main.b.len = 0;
    if (g.broken)
        return;
    g.broken = err;
    snprintf(g.problem, sizeof g.problem, "the journal in %s cannot be written (%s: %s)", g.dir,
             doing, strerror(err));
    log_event(LOG_ERROR, "event=journal_error dir=\"%s\" doing=%s error=\"%s\"", g.dir, doing,
              strerror(err));
}

static void set_healthy(void)
{
    if (!g.broken)
        return;
    g.broken = 0;
    g.problem[0] = '\0';
    log_event(LOG_WARN, "event=journal_recovered dir=\"%s\" bytes=%zu", g.dir, g.main.written);
}

const char *journal_problem(void)
{
    return g.broken ? g.problem : NULL;
}

bool journal_refuses(void)
{
    return g.broken && g.fsync == JOURNAL_ALWAYS;
}

bool journal_waits(void)
{
    return guarding();
}

bool journal_commit(void)
{
    if (!guarding())
        return true;
    before_write();
    return !g.broken;
}

/* conn_set_before_write: the turn's records reach the file (and, under
 * always, the disk) before any of its output reaches a socket. */
static void before_write(void)
{
    if (!g.open)
        return;
    if (!g.broken && g.main.b.len)
        sink_write(&g.main);
    if (!g.broken && g.main.err)
        set_broken(g.main.err, "write");
    if (!g.broken && g.fsync == JOURNAL_ALWAYS && g.dirty) {
        if (fdatasync(g.main.fd) < 0)
            set_broken(errno, "fdatasync");
        g.dirty = false;
    }
    release_guarded(g.broken != 0);
}

/* ------------------------------------------------------------- rewrite */

#ifdef PUSHER_TEST_HOOKS
/* A crash at a named point of the rewrite, for tests/faults only. */
static void crash_point(const char *where)
{
    const char *at = getenv("PUSHER_TEST_CRASH");
    if (at && strcmp(at, where) == 0)
        _exit(99);
}
#else
#define crash_point(where) ((void)0)
#endif

/* Writes the live contents to journal.new and puts it in journal's place.
 * 0, or -1 with the old journal untouched (when it was whole). */
static int rewrite(void)
{
    struct sink s = {.b = buf_make(2 * WRITE_AT + g.max_line)};
    s.fd = openat(g.dirfd, NEW_NAME, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    if (s.fd < 0) {
        set_broken(errno, "open " NEW_NAME);
        return -1;
    }
    g.sink = &s;
    g.id_mark = 0;              /* the new file gets its own mark */
    g.owner->dump();
    g.sink = &g.main;
    sink_write(&s);
    buf_free(&s.b);
    const char *doing = "write " NEW_NAME;
    if (!s.err && fdatasync(s.fd) < 0)
        s.err = errno, doing = "fdatasync " NEW_NAME;
    crash_point("before-rename");
    if (!s.err && renameat(g.dirfd, NEW_NAME, g.dirfd, FILE_NAME) < 0)
        s.err = errno, doing = "rename";
    crash_point("after-rename");
    if (s.err) {
        close(s.fd);
        unlinkat(g.dirfd, NEW_NAME, 0);
        set_broken(s.err, doing);
        return -1;
    }
    if (fsync(g.dirfd) < 0)
        log_event(LOG_WARN, "event=journal_dir_sync_failed error=\"%s\"", strerror(errno));
    close(g.main.fd);
    g.main.fd = s.fd;
    g.main.written = s.written;
    g.main.err = 0;
    g.dirty = false;
    log_event(LOG_INFO, "event=journal_rewrite bytes=%zu", s.written);
    return 0;
}

/* Once a second: the everysec sync, a rewrite when the file has grown past
 * twice its live size, and, while broken, a rewrite to come back. */
static void on_tick(struct loop *l, void *data)
{
    (void)data;
    loop_timer_arm(l, &g.tick, loop_now(l) + TICK_MS);
    if (g.broken) {
        if (rewrite() == 0)
            set_healthy();
        return;
    }
    before_write();             /* this turn's records, in the old file first */
    if (g.broken)
        return;
    if (g.fsync == JOURNAL_EVERYSEC && g.dirty) {
        if (fdatasync(g.main.fd) < 0)
            set_broken(errno, "fdatasync");
        g.dirty = false;
    }
    size_t live = g.owner->live_bytes();
    if (!g.broken && g.main.written > 2 * live + REWRITE_SLACK)
        rewrite();
}

/* ------------------------------------------------------------ start-up */

/* A record read at start, back to routing; its message as a frame. */
static void replay_one(const struct record *r, void *arg)
{
    (void)arg;
    struct frame *f = NULL;
    if (r->json) {
        if (!(f = frame_alloc(r->json_len)))
            return;             /* out of memory at start: that entry is lost */
        memcpy(frame_payload(f), r->json, r->json_len);
        frame_seal(f, WS_OP_TEXT, r->json_len);
    }
    switch (r->kind) {
    case RECORD_HISTORY:
        g.owner->history(r->name, r->name_len, f, r->id);
        break;
    case RECORD_KEPT:
        g.owner->kept(r->name, r->name_len, f, r->id);
        break;
    case RECORD_FORGET:
        g.owner->forget(r->name, r->name_len, r->id);
        break;
    case RECORD_ID:
        g.owner->id_mark(r->id);
        break;
    }
    if (f)
        frame_unref(f);
}

/* Keeps the damaged rest of the journal beside it, for a person to read. */
static int save_rest(const char *data, size_t len)
{
    char name[64];
    snprintf(name, sizeof name, FILE_NAME ".damaged.%ld", (long)time(NULL));
    int fd = openat(g.dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || write_all(fd, data, len) < 0 || fsync(fd) < 0) {
        fprintf(stderr, "pusher: cannot save the damaged rest of %s/%s: %s\n", g.dir, FILE_NAME,
                strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    log_event(LOG_WARN, "event=journal_repair kept_bytes_saved_in=\"%s/%s\" bytes=%zu", g.dir,
              name, len);
    return 0;
}

/* Replays the journal; cuts a torn last record, refuses (or, repairing,
 * cuts) damage before it. 0, or -1 after a line on stderr. */
static int replay(bool repair)
{
    struct stat st;
    if (fstat(g.main.fd, &st) < 0)
        return -1;
    size_t size = (size_t)st.st_size;
    const char *data = NULL;
    if (size && (data = mmap(NULL, size, PROT_READ, MAP_PRIVATE, g.main.fd, 0)) == MAP_FAILED) {
        fprintf(stderr, "pusher: cannot read %s/%s: %s\n", g.dir, FILE_NAME, strerror(errno));
        return -1;
    }
    struct record_scan scan;
    g.replaying = true;
    record_scan(data, size, g.max_line, replay_one, NULL, &scan);
    g.replaying = false;
    /* Damage in the very last line is what a crash leaves too (a power loss
     * may leave the file's new length holding zeros): torn, not broken. */
    if (scan.tail == RECORD_BROKEN) {
        const char *nl = memchr(data + scan.end, '\n', size - scan.end);
        if (!nl || nl == data + size - 1)
            scan.tail = RECORD_TORN;
    }
    int rc = 0;
    if (scan.tail == RECORD_TORN) {
        log_event(LOG_WARN, "event=journal_torn_record file=\"%s/%s\" offset=%zu bytes=%zu",
                  g.dir, FILE_NAME, scan.end, size - scan.end);
    } else if (scan.tail == RECORD_BROKEN && !repair) {
        fprintf(stderr, "pusher: %s/%s is damaged at byte %zu (%s); the %zu bytes before it are "
                "whole: start with --journal-repair to keep them and set the rest aside\n",
                g.dir, FILE_NAME, scan.damage.offset, scan.damage.why, scan.end);
        rc = -1;
    } else if (scan.tail == RECORD_BROKEN) {
        log_event(LOG_WARN, "event=journal_damaged file=\"%s/%s\" offset=%zu why=\"%s\"", g.dir,
                  FILE_NAME, scan.damage.offset, scan.damage.why);
        rc = save_rest(data + scan.end, size - scan.end);
    }
    if (data)
        munmap((void *)data, size);
    if (rc == 0 && scan.end < size && ftruncate(g.main.fd, (off_t)scan.end) < 0) {
        fprintf(stderr, "pusher: cannot cut %s/%s at byte %zu: %s\n", g.dir, FILE_NAME, scan.end,
                strerror(errno));
        rc = -1;
    }
    g.main.written = scan.end;
    log_event(LOG_INFO, "event=journal_replayed file=\"%s/%s\" records=%zu bytes=%zu", g.dir,
              FILE_NAME, scan.records, scan.end);
    return rc;
}

int journal_open(struct loop *l, const char *dir, enum journal_fsync fsync, bool repair,
                 const struct journal_owner *owner)
{
    g.loop = l;
    g.dir = dir;
    g.fsync = fsync;
    g.owner = owner;
    /* A fixed ceiling, not --max-message, so that lowering the option
     * never makes an older journal unreadable: the largest message (16m)
     * encoded, where escapes can make it up to six times longer. */
    g.max_line = 6 * (16u << 20) + RECORD_OVERHEAD;
    g.sink = &g.main;
    g.main.b = buf_make(2 * WRITE_AT + g.max_line);
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        fprintf(stderr, "pusher: cannot make --journal %s: %s\n", dir, strerror(errno));
        return -1;
    }
    if ((g.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        fprintf(stderr, "pusher: cannot open --journal %s: %s\n", dir, strerror(errno));
        return -1;
    }
    /* One server a journal: a second would interleave its records. */
    if (flock(g.dirfd, LOCK_EX | LOCK_NB) < 0) {
        fprintf(stderr, "pusher: --journal %s is in use by another pusher (%s)\n", dir,
                strerror(errno));
        return -1;
    }
    unlinkat(g.dirfd, NEW_NAME, 0); /* a rewrite cut short: the journal is whole */
    g.main.fd = openat(g.dirfd, FILE_NAME, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (g.main.fd < 0) {
        fprintf(stderr, "pusher: cannot open %s/%s: %s\n", dir, FILE_NAME, strerror(errno));
        return -1;
    }
    if (replay(repair) < 0)
        return -1;
    g.open = true;
    conn_set_before_write(before_write);
    g.tick = (struct loop_timer){.fn = on_tick};
    loop_timer_arm(l, &g.tick, loop_now(l) + TICK_MS);
    return 0;
}

void journal_close(void)
{
    if (!g.open)
        return;
    before_write();
    if (!g.broken && g.fsync != JOURNAL_NO && fdatasync(g.main.fd) < 0)
        set_broken(errno, "fdatasync");
    close(g.main.fd);
    buf_free(&g.main.b);
    free(g.guarded);
    free(g.after);
    g.open = false;
}

/* uring.c - a batch of sends by one system call, through io_uring.
 *
 * A broadcast turn writes to every recipient: with send() that is one
 * system call each, and on a loaded machine the entry and exit of each is
 * a good part of what the write costs. io_uring takes the whole turn's
 * writes as entries of a ring shared with the kernel and makes them all in
 * one io_uring_enter. Each send carries MSG_DONTWAIT, so the kernel runs it
 * there and then: one the socket has no room for answers -EAGAIN at once
 * instead of waiting, exactly as send() would, and the caller polls for
 * room as usual. The ring is driven by raw system calls (no liburing), and
 * the process is its only submitter. */
#include <errno.h>
#include <linux/io_uring.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "uring.h"

struct ring_map {
    void *at;
    size_t len;
};

struct uring {
    int fd;
    unsigned entries;           /* sends a batch holds */
    unsigned queued;            /* sends queued since the last run */
    unsigned *sq_tail, *sq_head, sq_mask;
    unsigned *cq_head, *cq_tail, cq_mask;
    struct io_uring_sqe *sqes;
    struct io_uring_cqe *cqes;
    struct ring_map sq, cq, sqe_map;
};

static int ring_setup(unsigned entries, struct io_uring_params *p)
{
    /* Newest flags first: one submitting thread, completions posted when
     * we ask for them. A kernel older than 6.0 knows neither. */
    static const unsigned flag_sets[] = {
        IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN,
        IORING_SETUP_CQSIZE,
    };
    for (size_t i = 0; i < sizeof flag_sets / sizeof flag_sets[0]; i++) {
        memset(p, 0, sizeof *p);
        p->flags = flag_sets[i];
        p->cq_entries = 2 * entries;    /* every send's answer fits, always */
        int fd = (int)syscall(__NR_io_uring_setup, entries, p);
        if (fd >= 0 || errno != EINVAL)
            return fd;
    }
    return -1;
}

static void *map(struct ring_map *m, int fd, size_t len, off_t what)
{
    m->at = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, what);
    if (m->at == MAP_FAILED) {
        m->at = NULL;
        return NULL;
    }
    m->len = len;
    return m->at;
}

struct uring *uring_create(unsigned entries)
{
    struct uring *u = calloc(1, sizeof *u);
    if (!u)
        return NULL;
    struct io_uring_params p;
    u->fd = ring_setup(entries, &p);
    if (u->fd < 0) {
        free(u);
        return NULL;
    }
    size_t sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    size_t cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    bool one_map = p.features & IORING_FEAT_SINGLE_MMAP;
    if (one_map && cq_len > sq_len)
        sq_len = cq_len;
    char *sq = map(&u->sq, u->fd, sq_len, IORING_OFF_SQ_RING);
    char *cq = one_map ? sq : map(&u->cq, u->fd, cq_len, IORING_OFF_CQ_RING);
    u->sqes = map(&u->sqe_map, u->fd, p.sq_entries * sizeof *u->sqes, IORING_OFF_SQES);
    if (!sq || !cq || !u->sqes) {
        int e = errno;
        uring_destroy(u);
        errno = e;
        return NULL;
    }
    u->entries = p.sq_entries;
    u->sq_head = (unsigned *)(sq + p.sq_off.head);
    u->sq_tail = (unsigned *)(sq + p.sq_off.tail);
    u->sq_mask = *(unsigned *)(sq + p.sq_off.ring_mask);
    u->cq_head = (unsigned *)(cq + p.cq_off.head);
    u->cq_tail = (unsigned *)(cq + p.cq_off.tail);
    u->cq_mask = *(unsigned *)(cq + p.cq_off.ring_mask);
    u->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
    unsigned *array = (unsigned *)(sq + p.sq_off.array);
    for (unsigned i = 0; i < p.sq_entries; i++)
        array[i] = i;           /* entry i of the ring is sqes[i], always */
    return u;
}

void uring_destroy(struct uring *u)
{
    if (!u)
        return;
    struct ring_map *maps[] = {&u->sqe_map, &u->cq, &u->sq};
    for (size_t i = 0; i < sizeof maps / sizeof maps[0]; i++)
        if (maps[i]->at)
            munmap(maps[i]->at, maps[i]->len);
    close(u->fd);
    free(u);
}

bool uring_send(struct uring *u, int fd, const void *buf, size_t len, uint32_t tag)
{
    if (u->queued == u->entries || len > UINT32_MAX)
        return false;
    unsigned tail = *u->sq_tail + u->queued++;
    struct io_uring_sqe *e = &u->sqes[tail & u->sq_mask];
    memset(e, 0, sizeof *e);
    e->opcode = IORING_OP_SEND;
    e->fd = fd;
    e->addr = (uint64_t)(uintptr_t)buf;
    e->len = (uint32_t)len;
    e->msg_flags = MSG_NOSIGNAL | MSG_DONTWAIT;
    e->user_data = tag;
    return true;
}

static int enter(struct uring *u, unsigned submit, unsigned wait)
{
    return (int)syscall(__NR_io_uring_enter, u->fd, submit, wait, IORING_ENTER_GETEVENTS, NULL, 0);
}

void uring_run(struct uring *u, void (*done)(uint32_t tag, ssize_t result, void *arg), void *arg)
{
    unsigned n = u->queued, submitted = 0, answered = 0;
    u->queued = 0;
    __atomic_store_n(u->sq_tail, *u->sq_tail + n, __ATOMIC_RELEASE);
    while (submitted < n) {
        int r = enter(u, n - submitted, n - submitted);
        if (r > 0)
            submitted += (unsigned)r;
        else if (r == 0 || errno != EINTR)
            break;
    }
    if (submitted < n) {
        /* The kernel is short of memory for requests: what it did not take
         * leaves the ring (we are its only submitter, and it reads the tail
         * only when entered) and waits a turn, as on a full socket. */
        unsigned head = __atomic_load_n(u->sq_head, __ATOMIC_ACQUIRE);
        for (unsigned i = head; i != *u->sq_tail; i++)
            done((uint32_t)u->sqes[i & u->sq_mask].user_data, -EAGAIN, arg);
        __atomic_store_n(u->sq_tail, head, __ATOMIC_RELEASE);
    }
    while (answered < submitted) {
        unsigned head = *u->cq_head, tail = __atomic_load_n(u->cq_tail, __ATOMIC_ACQUIRE);
        if (head == tail) {
            /* A send not yet answered (they run at once, so this is rare):
             * its buffer is the kernel's until it is, so wait for it. */
            if (enter(u, 0, submitted - answered) < 0 && errno != EINTR)
                abort();        /* the ring is gone under buffers still lent to it */
            continue;
        }
        for (; head != tail; head++, answered++) {
            const struct io_uring_cqe *c = &u->cqes[head & u->cq_mask];
            done((uint32_t)c->user_data, c->res, arg);
        }
        __atomic_store_n(u->cq_head, head, __ATOMIC_RELEASE);
    }
}

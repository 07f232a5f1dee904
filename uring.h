/* uring.h - a batch of sends made by one system call, through Linux's
 * io_uring (--backend uring). The TCP transport (transport_tcp.c) queues a
 * turn's writes here and runs them together; nothing else uses it. */
#ifndef URING_H
#define URING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct uring;

/* A ring with room for `entries` sends a batch, or NULL with errno set
 * (ENOSYS where the kernel has no io_uring, EPERM where it is forbidden). */
struct uring *uring_create(unsigned entries);
void uring_destroy(struct uring *u);

/* Queues send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT); buf must stay as
 * it is until uring_run returns. false when the batch is full. */
bool uring_send(struct uring *u, int fd, const void *buf, size_t len, uint32_t tag);

/* Makes every queued send in one system call, then calls done once for
 * each with its tag and what send() would have answered: bytes taken, or
 * -errno (-EAGAIN when the socket had no room, or the kernel no memory for
 * the request). */
void uring_run(struct uring *u, void (*done)(uint32_t tag, ssize_t result, void *arg), void *arg);

#endif

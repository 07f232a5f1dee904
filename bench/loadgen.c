/* bench/loadgen.c - the benchmark's load generator: many WebSocket clients in
 * one thread over epoll, speaking the client side of RFC 6455 and the Message
 * JSON of PROTOCOL.md, measuring a server given by port and pid.
 *
 *   loadgen idle N      open N connections, report handshakes/s and RSS/conn
 *   loadgen fanout R    R receivers, senders send Group messages, report
 *                       deliveries/s, latency and server CPU per delivery
 *   loadgen echo C      C clients send Single messages to themselves, one
 *                       outstanding each, report round trips/s and latency
 *   loadgen pairs P     2P connections, each pair alone in a room of its own,
 *                       each room one Group a second from one member: latency,
 *                       server CPU per delivery, history memory per room
 *   loadgen join M      M connections in one room, then one more joins and
 *                       leaves it, and a room of 2, in lock-step: the time and
 *                       server CPU of a Join into each
 *
 * With --tls every connection speaks TLS first (bench/loadgen_tls.c); with
 * --rooms-each every connection joins several rooms at connect. Fanout takes
 * several servers, nodes sharing one Redis (--port=P1,P2,..., one --pid for
 * each in the same order): the receivers are spread over them round robin,
 * the senders are on the first, and each node's CPU per delivery to its own
 * receivers is reported beside the total, with Redis's (--redis-pid) per
 * message apart from both.
 *
 * Each also reports how busy each core was over its measured phase
 * (/proc/stat); fanout and echo also the server's read and write system calls
 * (/proc/PID/io) and the TCP segments its output arrived in (TCP_INFO, at our
 * end).
 *
 * It shares a small machine with the server, so it is frugal: one read per
 * readiness event, frames parsed in place, output gathered per connection and
 * written once per loop turn, no allocation per message. One JSON object goes
 * to stdout, one human line to stderr; every run ends by itself. */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <linux/tcp.h>      /* glibc's struct tcp_info stops short of the segment counts */
#include <arpa/inet.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "loadgen_tls.h"

#define RBUF 4096          /* per-connection read buffer; larger frames are skipped */
#define USERS 100          /* receivers share this many userIds (N users cost N^2/2 notifies) */
#define PER_SOURCE 10000   /* connections per loopback source address */
#define RING (1u << 18)    /* in-flight fan-out messages tracked by sequence number */
#define MAX_CONNS 19000    /* stays under the machine's 20 000 open files */
#define MAX_CODES 8        /* distinct close codes remembered */
#define MAX_CPUS 8         /* cores whose /proc/stat lines are read */
#define MAX_PIDS 4         /* server processes measured together (pusher and nginx, or nodes) */
#define MAX_PORTS 4        /* fanout: nodes the receivers are spread over */
#define MAX_SAMPLES 10000  /* join: steps timed of each kind */

/* ------------------------------------------------------------------ options */

enum mode { MODE_IDLE, MODE_FANOUT, MODE_ECHO, MODE_PAIRS, MODE_JOIN };

static struct {
    enum mode mode;     /* what to run */
    int count;          /* N, R or C */
    const char *host;   /* server address, IPv4 */
    int port;           /* server port, the first of ports */
    int ports[MAX_PORTS]; /* fanout: the nodes' ports; the senders are on the first */
    int nports;         /* entries in ports */
    int pid;            /* server pid, for /proc; 0 leaves CPU and RSS out */
    int redis_pid;      /* the nodes' Redis, measured apart from them; 0: none */
    int pids[MAX_PIDS]; /* pid and the processes measured with it (a proxy's) */
    int npids;          /* entries in pids */
    double seconds;     /* length of the measured phase */
    double rate;        /* fanout: messages a second in all; 0 means window mode */
    int window;         /* fanout: messages in flight at most */
    int senders;        /* fanout: sending connections */
    int payload;        /* content bytes at least, padded */
    int concurrency;    /* handshakes in progress at most */
    double hold;        /* idle: seconds to hold the connections after RSS is read */
    double drain;       /* seconds to wait for stragglers after sending stops */
    const char *label;  /* copied into the JSON, to tell runs apart */
    const char *room;   /* fanout: every connection in this room, the Group to it ("": everyone) */
    int rooms_each;     /* rooms each connection joins at connect, of rooms_distinct */
    int rooms_distinct; /* rooms the rooms_each memberships are spread over */
    bool tls;           /* speak TLS to the server */
    int fill;           /* pairs: messages each room has had before its history is weighed */
    int joins;          /* join: steps of each kind */
} opt = {
    .host = "127.0.0.1", .port = 8080, .ports = {8080}, .nports = 1, .seconds = 10, .window = 8, .senders = 1,
    .concurrency = 256, .hold = 1, .drain = 2, .label = "", .room = "",
    .rooms_distinct = 1000, .joins = 200,
};

/* ------------------------------------------------------------------ clock, /proc */

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The kernel stamps what a socket receives on the wall clock
 * (SO_TIMESTAMPNS); this is that clock's lead over now_us()'s, taken once,
 * as nothing here runs long enough for the two to drift apart. */
static int64_t wall_lead_us(void)
{
    static int64_t lead;
    static bool taken;
    if (!taken) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        lead = ((int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000) - (int64_t)now_us();
        taken = true;
    }
    return lead;
}

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("loadgen: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

/* A process's user+system CPU seconds (proc(5): fields 14 and 15 of stat,
 * counted after the command name, which may itself hold spaces). */
static double pid_cpu(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    unsigned long ut, st;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
                     &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* The server's CPU seconds: behind a proxy, the proxy's and the server's. */
static double server_cpu(void)
{
    double sum = 0;
    for (int i = 0; i < opt.npids; i++) {
        double v = pid_cpu(opt.pids[i]);
        if (v < 0)
            return -1;
        sum += v;
    }
    return sum;
}

/* A process's resident set in KiB, from VmRSS in /proc/PID/status. */
static long pid_rss_kib(int pid)
{
    char path[64], line[256];
    long kib = -1;
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

static long server_rss_kib(void)
{
    long sum = 0;
    for (int i = 0; i < opt.npids; i++) {
        long v = pid_rss_kib(opt.pids[i]);
        if (v < 0)
            return -1;
        sum += v;
    }
    return sum;
}

/* Seconds a task has spent running and waiting for a CPU while runnable
 * (/proc/PID/schedstat): on a shared machine the wait says how much of a
 * phase the other tenants took. */
struct sched { double run, wait; };

static struct sched schedstat(int pid)
{
    char path[64];
    unsigned long long run = 0, wait = 0;
    if (pid)
        snprintf(path, sizeof path, "/proc/%d/schedstat", pid);
    else
        snprintf(path, sizeof path, "/proc/self/schedstat");
    FILE *f = fopen(path, "r");
    if (f) {
        if (fscanf(f, "%llu %llu", &run, &wait) != 2)
            run = wait = 0;
        fclose(f);
    }
    return (struct sched){(double)run / 1e9, (double)wait / 1e9};
}

/* The server's processes together; in nanoseconds, so fine enough to time
 * one Join, where /proc/PID/stat counts in clock ticks. */
static struct sched server_sched(void)
{
    struct sched sum = {0, 0};
    for (int i = 0; i < opt.npids; i++) {
        struct sched one = schedstat(opt.pids[i]);
        sum.run += one.run;
        sum.wait += one.wait;
    }
    return sum;
}

/* The server's read and write system calls and their bytes (/proc/PID/io,
 * summed over its threads). Only the read(2) and write(2) families count
 * there: send(2) and recv(2), which uWebSockets uses, do not. */
struct io { unsigned long long rchar, wchar, syscr, syscw; };

static struct io server_io(void)
{
    char path[64], line[128];
    struct io io = {0, 0, 0, 0};
    for (int i = 0; i < opt.npids; i++) {
        snprintf(path, sizeof path, "/proc/%d/io", opt.pids[i]);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        unsigned long long v;
        while (fgets(line, sizeof line, f)) {
            if (sscanf(line, "rchar: %llu", &v) == 1)
                io.rchar += v;
            if (sscanf(line, "wchar: %llu", &v) == 1)
                io.wchar += v;
            if (sscanf(line, "syscr: %llu", &v) == 1)
                io.syscr += v;
            if (sscanf(line, "syscw: %llu", &v) == 1)
                io.syscw += v;
        }
        fclose(f);
    }
    return io;
}

/* Jiffies per core from /proc/stat (proc(5)): busy is user, nice, system,
 * irq and softirq; steal is time the hypervisor gave to another guest. Slot
 * MAX_CPUS holds the line for all cores together. */
struct cpustat { unsigned long long busy, steal, total; };

static int read_cpustat(struct cpustat cs[MAX_CPUS + 1])
{
    char line[256];
    int ncpu = 0;
    memset(cs, 0, sizeof(struct cpustat) * (MAX_CPUS + 1));
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f) && !strncmp(line, "cpu", 3)) {
        unsigned long long v[8] = {0};
        int k = -1, off = 0;
        if (line[3] == ' ')
            k = MAX_CPUS;
        else if (sscanf(line + 3, "%d%n", &k, &off) != 1 || k < 0 || k >= MAX_CPUS)
            continue;
        if (sscanf(line + 3 + off, "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
                   &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) < 4)
            continue;
        cs[k].busy = v[0] + v[1] + v[2] + v[5] + v[6];
        cs[k].steal = v[7];
        cs[k].total = cs[k].busy + v[3] + v[4] + v[7];
        if (k < MAX_CPUS && k + 1 > ncpu)
            ncpu = k + 1;
    }
    fclose(f);
    return ncpu;
}

static double self_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

/* ------------------------------------------------------------------ latency histogram */

/* Exact below 1024 us, then 64 buckets per power of two (under 1.6% error). */
#define HIST_LINEAR 1024
#define HIST_SUB 64
#define HIST_BUCKETS (HIST_LINEAR + 54 * HIST_SUB)

struct hist {
    uint64_t n;                     /* samples */
    uint64_t max;                   /* largest sample */
    uint64_t b[HIST_BUCKETS];       /* counts */
};

/* Two measures of one delivery: until this program has read and parsed it
 * (lat), and until the server's bytes were in the receiver's socket, by the
 * kernel's receive stamp (arrival). Where this one thread reads more slowly
 * than the server writes, the first follows this program's pace and only
 * the second the server's; bench/report.js shows both. */
static struct hist lat, arrival;

static void hist_add(struct hist *h, uint64_t v)
{
    size_t i;
    if (v < HIST_LINEAR) {
        i = (size_t)v;
    } else {
        int e = 63 - __builtin_clzll(v);
        i = HIST_LINEAR + (size_t)(e - 10) * HIST_SUB + ((v >> (e - 6)) & (HIST_SUB - 1));
        if (i >= HIST_BUCKETS)
            i = HIST_BUCKETS - 1;
    }
    h->b[i]++;
    h->n++;
    if (v > h->max)
        h->max = v;
}

/* The lower bound of bucket i, the value a percentile reports. */
static uint64_t hist_floor(size_t i)
{
    if (i < HIST_LINEAR)
        return i;
    size_t e = (i - HIST_LINEAR) / HIST_SUB + 10, sub = (i - HIST_LINEAR) % HIST_SUB;
    return ((uint64_t)1 << e) + ((uint64_t)sub << (e - 6));
}

static uint64_t hist_pct(const struct hist *h, double p)
{
    uint64_t want = (uint64_t)((double)h->n * p / 100.0 + 0.5), seen = 0;
    if (want == 0)
        want = 1;
    for (size_t i = 0; i < HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= want)
            return hist_floor(i) < h->max ? hist_floor(i) : h->max;
    }
    return h->max;
}

/* ------------------------------------------------------------------ connections */

enum state { ST_CONNECTING, ST_TLS, ST_HANDSHAKE, ST_OPEN, ST_DEAD };
enum role { ROLE_RECEIVER, ROLE_SENDER, ROLE_ECHO, ROLE_MEMBER, ROLE_PROBE };

struct conn {
    int fd;             /* socket, -1 once closed */
    struct ssl_st *ssl; /* the TLS session over fd, with --tls */
    uint8_t state;      /* enum state */
    uint8_t role;       /* enum role */
    uint8_t node;       /* index in opt.ports of the server it talks to */
    bool dirty;         /* on the flush list */
    bool pollout;       /* EPOLLOUT is armed: the socket refused output */
    uint32_t rlen;      /* bytes held in rbuf */
    uint64_t skip;      /* bytes of an oversized frame still to discard */
    char *rbuf;         /* RBUF bytes, a slice of one shared block */
    char *obuf;         /* output not yet written, grown on demand */
    uint32_t olen;      /* bytes in obuf */
    uint32_t ocap;      /* size of obuf */
    uint32_t ooff;      /* bytes of obuf already written */
    char user[16];      /* this connection's userId */
    bool wired;         /* open when the phase began: segs0 and bytes0 hold */
    uint32_t segs0;     /* TCP data segments received by then */
    uint64_t bytes0;    /* TCP bytes received by then */
};

static struct conn *conns;
static int nconns;
static int epfd;
static int *dirty;      /* connections with output to flush, nconns slots */
static int ndirty;

static struct {
    int opened;              /* connections that got 101 */
    int failed;              /* connections that never did */
    int in_progress;         /* connecting or handshaking now */
    int closed;              /* open connections that were closed under us */
    int codes[MAX_CODES][2]; /* close code, times seen */
    int ncodes;
    char first_error[128];   /* the first failure, said in words */
    uint64_t last_in;        /* when bytes last arrived */
    uint64_t others;         /* messages that were not ours (notifies, history) */
    uint64_t sys_errors;     /* SysNotify messages received */
} st;

static void note_error(const char *fmt, ...)
{
    if (st.first_error[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st.first_error, sizeof st.first_error, fmt, ap);
    va_end(ap);
}

static void note_close_code(int code)
{
    for (int i = 0; i < st.ncodes; i++)
        if (st.codes[i][0] == code) {
            st.codes[i][1]++;
            return;
        }
    if (st.ncodes < MAX_CODES) {
        st.codes[st.ncodes][0] = code;
        st.codes[st.ncodes++][1] = 1;
    }
}

static void conn_kill(struct conn *c, const char *why)
{
    if (c->state == ST_DEAD)
        return;
    if (c->state == ST_OPEN) {
        st.closed++;
        note_error("connection %s closed: %s", c->user, why);
    } else {
        st.failed++;
        st.in_progress--;
        note_error("connection %s failed: %s", c->user, why);
    }
    if (c->ssl)
        lg_tls_free(c->ssl);
    c->ssl = NULL;
    close(c->fd);
    c->fd = -1;
    c->state = ST_DEAD;
}

static void want(struct conn *c, uint32_t events, int op)
{
    struct epoll_event ev = {.events = events, .data.u32 = (uint32_t)(c - conns)};
    if (epoll_ctl(epfd, op, c->fd, &ev) < 0)
        die("epoll_ctl: %s", strerror(errno));
}

/* Appends bytes to c's output; they leave at the next flush. */
static void out_append(struct conn *c, const void *p, size_t n)
{
    if (c->olen + n > c->ocap) {
        uint32_t cap = c->ocap ? c->ocap : 1024;
        while (cap < c->olen + n)
            cap *= 2;
        char *nb = realloc(c->obuf, cap);
        if (!nb)
            die("out of memory");
        c->obuf = nb;
        c->ocap = cap;
    }
    memcpy(c->obuf + c->olen, p, n);
    c->olen += (uint32_t)n;
    if (!c->dirty) {
        c->dirty = true;
        dirty[ndirty++] = (int)(c - conns);
    }
}

/* The kernel's receive stamp of the last bytes the latest read took, on
 * now_us()'s clock; 0 where it had none (TLS, or not a receiver). */
static uint64_t read_arrival;

/* A receiver's plain read, with the kernel's stamp of when those bytes
 * reached its socket (SO_TIMESTAMPNS, set at connect) into read_arrival. */
static ssize_t read_stamped(int fd, void *buf, size_t n)
{
    union {
        char bytes[CMSG_SPACE(sizeof(struct timespec))];
        struct cmsghdr align;
    } control;
    struct iovec iov = {.iov_base = buf, .iov_len = n};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1,
                        .msg_control = control.bytes, .msg_controllen = sizeof control.bytes};
    ssize_t got = recvmsg(fd, &mh, 0);
    for (struct cmsghdr *cm = got > 0 ? CMSG_FIRSTHDR(&mh) : NULL; cm; cm = CMSG_NXTHDR(&mh, cm))
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
            struct timespec ts;
            memcpy(&ts, CMSG_DATA(cm), sizeof ts);
            int64_t wall = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
            if (ts.tv_sec && wall > wall_lead_us())
                read_arrival = (uint64_t)(wall - wall_lead_us());
        }
    return got;
}

/* read(2) and write(2) on c, through its TLS session where it has one;
 * *want_write says a TLS read waits for the socket to take output. */
static ssize_t conn_read(struct conn *c, void *buf, size_t n, int *want_write)
{
    *want_write = 0;
    read_arrival = 0;
    if (c->ssl)
        return lg_tls_read(c->ssl, buf, n, want_write);
    return c->role == ROLE_RECEIVER ? read_stamped(c->fd, buf, n) : read(c->fd, buf, n);
}

static ssize_t conn_write(struct conn *c, const void *buf, size_t n)
{
    int want_write;
    return c->ssl ? lg_tls_write(c->ssl, buf, n, &want_write) : write(c->fd, buf, n);
}

/* Writes what c holds; what the socket refuses waits for EPOLLOUT. A TLS
 * write that waits for input instead (a TLS 1.3 key update, which servers
 * here never send) is taken for a full socket too. */
static void conn_flush(struct conn *c)
{
    while (c->ooff < c->olen) {
        ssize_t n = conn_write(c, c->obuf + c->ooff, c->olen - c->ooff);
        if (n > 0) {
            c->ooff += (uint32_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && errno == EAGAIN) {
            if (!c->pollout) {
                c->pollout = true;
                want(c, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
            }
            return;
        } else {
            conn_kill(c, strerror(errno));
            return;
        }
    }
    c->olen = c->ooff = 0;
    if (c->pollout) {
        c->pollout = false;
        want(c, EPOLLIN, EPOLL_CTL_MOD);
    }
}

static void flush_all(void)
{
    for (int i = 0; i < ndirty; i++) {
        struct conn *c = &conns[dirty[i]];
        c->dirty = false;
        if (c->state != ST_DEAD)
            conn_flush(c);
    }
    ndirty = 0;
}

/* ------------------------------------------------------------------ client frames */

static uint32_t rng_state = 2463534242u;

/* Masking keys need only vary here; RFC 6455 section 5.3 asks for
 * unpredictability against proxies, which a benchmark on loopback has none of. */
static uint32_t xorshift32(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

/* Queues one masked frame (RFC 6455 section 5.2: clients always mask). */
static void send_frame(struct conn *c, int opcode, const char *p, size_t n)
{
    uint8_t h[8 + 14];
    size_t hl = 0;
    h[hl++] = (uint8_t)(0x80 | opcode);
    if (n < 126) {
        h[hl++] = (uint8_t)(0x80 | n);
    } else if (n <= 0xffff) {
        h[hl++] = 0x80 | 126;
        h[hl++] = (uint8_t)(n >> 8);
        h[hl++] = (uint8_t)n;
    } else {
        die("frame too long");
    }
    uint32_t key = xorshift32();
    memcpy(h + hl, &key, 4);
    const uint8_t *k = h + hl;
    hl += 4;
    char masked[2048];
    if (n > sizeof masked)
        die("frame too long");
    for (size_t i = 0; i < n; i++)
        masked[i] = (char)(p[i] ^ k[i & 3]);
    out_append(c, h, hl);
    out_append(c, masked, n);
}

/* ------------------------------------------------------------------ message JSON */

/* Skips a JSON string whose opening quote is at *i; 0 on success. */
static int skip_string(const char *p, size_t n, size_t *i)
{
    for (size_t j = *i + 1; j < n; j++) {
        if (p[j] == '\\')
            j++;
        else if (p[j] == '"') {
            *i = j + 1;
            return 0;
        }
    }
    return -1;
}

/* Skips any JSON value at *i (string, number, literal, nested container). */
static int skip_value(const char *p, size_t n, size_t *i)
{
    int depth = 0;
    size_t j = *i;
    while (j < n) {
        char ch = p[j];
        if (ch == '"') {
            if (skip_string(p, n, &j) < 0)
                return -1;
            if (depth == 0)
                break;
            continue;
        }
        if (ch == '{' || ch == '[')
            depth++;
        else if (ch == '}' || ch == ']') {
            if (depth == 0)
                break;
            if (--depth == 0) {
                j++;
                break;
            }
        } else if (depth == 0 && (ch == ',' || ch == ' ' || ch == '\t' ||
                                  ch == '\r' || ch == '\n'))
            break;
        j++;
    }
    *i = j;
    return 0;
}

static size_t skip_ws(const char *p, size_t n, size_t i)
{
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
        i++;
    return i;
}

struct msg {
    long type;              /* messageType, -1 when absent */
    const char *content;    /* raw string body, escapes left in */
    size_t content_len;
};

/* Reads messageType and content from one top-level object, in any key order
 * (RFC 8259), skipping everything else. */
static int parse_msg(const char *p, size_t n, struct msg *m)
{
    size_t i = 0;
    m->type = -1;
    m->content = NULL;
    m->content_len = 0;
    i = skip_ws(p, n, i);
    if (i >= n || p[i] != '{')
        return -1;
    i++;
    for (;;) {
        i = skip_ws(p, n, i);
        if (i < n && p[i] == '}')
            return 0;
        if (i >= n || p[i] != '"')
            return -1;
        size_t k0 = i + 1;
        if (skip_string(p, n, &i) < 0)
            return -1;
        size_t klen = i - 1 - k0;
        i = skip_ws(p, n, i);
        if (i >= n || p[i] != ':')
            return -1;
        i++;
        i = skip_ws(p, n, i);
        size_t v0 = i;
        if (skip_value(p, n, &i) < 0)
            return -1;
        if (klen == 11 && !memcmp(p + k0, "messageType", 11)) {
            m->type = 0;
            for (size_t d = v0; d < i && p[d] >= '0' && p[d] <= '9'; d++)
                m->type = m->type * 10 + (p[d] - '0');
        } else if (klen == 7 && !memcmp(p + k0, "content", 7) && p[v0] == '"') {
            m->content = p + v0 + 1;
            m->content_len = i - v0 - 2;
        }
        i = skip_ws(p, n, i);
        if (i < n && p[i] == ',')
            i++;
    }
}

/* Reads "<tag>:<seq>:<t_us>..." from a content string we sent. */
static bool parse_stamp(const struct msg *m, char tag, uint64_t *seq, uint64_t *t)
{
    const char *p = m->content, *end = p + m->content_len;
    if (!p || m->content_len < 4 || p[0] != tag || p[1] != ':')
        return false;
    uint64_t v[2] = {0, 0};
    p += 2;
    for (int k = 0; k < 2; k++) {
        if (p >= end || *p < '0' || *p > '9')
            return false;
        while (p < end && *p >= '0' && *p <= '9')
            v[k] = v[k] * 10 + (uint64_t)(*p++ - '0');
        if (p < end && *p == ':')
            p++;
    }
    *seq = v[0];
    *t = v[1];
    return true;
}

/* Builds one outgoing Message; the content carries tag, sequence and send
 * time, padded to opt.payload bytes. Returns the length written to buf. */
static size_t build_msg(char *buf, size_t cap, int type, const char *to, char tag,
                        uint64_t seq, uint64_t t)
{
    char content[1200];
    int cl = snprintf(content, sizeof content, "%c:%" PRIu64 ":%" PRIu64 ":", tag, seq, t);
    int pad = opt.payload > cl ? opt.payload - cl : 0;
    memset(content + cl, 'x', (size_t)pad);
    cl += pad;
    content[cl] = 0;
    int n = snprintf(buf, cap,
                     "{\"messageType\":%d,\"mediaType\":0,\"to\":\"%s\",\"content\":\"%s\","
                     "\"createAt\":1764000000000}",
                     type, to, content);
    return (size_t)n;
}

/* ------------------------------------------------------------------ workload state */

static struct {
    int receivers;          /* open receivers when sending began */
    uint64_t t0;            /* start of the measured phase */
    uint64_t t_stop;        /* no new messages after this */
    bool sending;           /* measured phase under way */
    uint64_t sent;          /* messages sent */
    uint64_t completed;     /* fanout: messages every receiver got */
    uint64_t expected;      /* deliveries owed */
    uint64_t delivered;     /* deliveries seen */
    uint64_t last_delivery; /* when the last one arrived */
    uint64_t last_progress; /* when a message last completed */
    int next_sender;        /* round robin over senders */
    int node_receivers[MAX_PORTS];     /* open receivers on each node when sending began */
    uint64_t node_delivered[MAX_PORTS]; /* deliveries seen from each node */
    uint32_t got[RING];     /* fanout: deliveries per message, by seq */
    uint32_t need[RING];    /* fanout: receivers that message is owed to */
} w;

/* Sends the next Group message from the next open sender; false if none is. */
static bool send_group(void)
{
    for (int tries = 0; tries < opt.senders; tries++) {
        struct conn *c = &conns[opt.count + w.next_sender];
        w.next_sender = (w.next_sender + 1) % opt.senders;
        if (c->state != ST_OPEN)
            continue;
        char buf[1400];
        uint64_t seq = w.sent;
        size_t n = build_msg(buf, sizeof buf, 1, opt.room, 'b', seq, now_us());
        w.got[seq % RING] = 0;
        w.need[seq % RING] = (uint32_t)w.receivers;
        w.expected += (uint64_t)w.receivers;
        w.sent++;
        send_frame(c, 1, buf, n);
        return true;
    }
    return false;
}

/* Pairs mode: the next room's Group, from its even member to its odd one;
 * false if that pair is not whole. Round robin over the rooms, so at a rate
 * of one message per room a second each room's messages come a second apart. */
static bool send_pair(void)
{
    int k = w.next_sender;
    w.next_sender = (w.next_sender + 1) % opt.count;
    struct conn *from = &conns[2 * k], *to = &conns[2 * k + 1];
    if (from->state != ST_OPEN || to->state != ST_OPEN)
        return false;
    char buf[1400], room[16];
    snprintf(room, sizeof room, "p%d", k);
    uint64_t seq = w.sent;
    size_t n = build_msg(buf, sizeof buf, 1, room, 'b', seq, now_us());
    w.got[seq % RING] = 0;
    w.need[seq % RING] = 1;
    w.expected++;
    w.sent++;
    send_frame(from, 1, buf, n);
    return true;
}

static void send_echo(struct conn *c)
{
    char buf[1400];
    size_t n = build_msg(buf, sizeof buf, 0, c->user, 'e', w.sent, now_us());
    w.sent++;
    w.expected++;
    send_frame(c, 1, buf, n);
}

/* Join mode: replies the probe has had to the message that ends each step. */
static uint64_t probe_replies;

/* The probe ends each step with a message the server refuses (messageType
 * 9), since a Join has no answer of its own: its error: reply comes after
 * the Join was done, and goes to the probe alone. Any other error: means a
 * Join or Leave was refused, which would make the steps meaningless. */
static void on_probe_text(const struct msg *m)
{
    if (m->type == 2 && m->content && memmem(m->content, m->content_len, "messageType", 11)) {
        probe_replies++;
        return;
    }
    if (m->type == 2) {
        st.sys_errors++;
        note_error("probe got: %.*s", (int)(m->content_len < 80 ? m->content_len : 80),
                   m->content ? m->content : "");
    }
    st.others++;
}

static void on_text(struct conn *c, const char *p, size_t n)
{
    struct msg m;
    uint64_t seq, t;
    if (parse_msg(p, n, &m) < 0) {
        note_error("unparsable message: %.*s", (int)(n < 60 ? n : 60), p);
        st.others++;
        return;
    }
    if (c->role == ROLE_PROBE) {
        on_probe_text(&m);
        return;
    }
    if (m.type == 2)
        st.sys_errors++;
    if (c->role == ROLE_RECEIVER && m.type == 1 && parse_stamp(&m, 'b', &seq, &t)) {
        uint64_t now = now_us();
        hist_add(&lat, now - t);
        if (read_arrival)
            hist_add(&arrival, read_arrival > t ? read_arrival - t : 0);
        w.delivered++;
        w.node_delivered[c->node]++;
        w.last_delivery = now;
        if (++w.got[seq % RING] == w.need[seq % RING]) {
            w.completed++;
            w.last_progress = now;
        }
    } else if (c->role == ROLE_ECHO && m.type == 0 && parse_stamp(&m, 'e', &seq, &t)) {
        uint64_t now = now_us();
        hist_add(&lat, now - t);
        w.delivered++;
        w.last_delivery = w.last_progress = now;
        if (w.sending && now < w.t_stop)
            send_echo(c);
    } else {
        st.others++;
    }
}

/* ------------------------------------------------------------------ reading */

/* Parses every whole frame held in c->rbuf (RFC 6455 section 5.2; server
 * frames are unmasked) and keeps the tail for the next read. */
static void parse_frames(struct conn *c)
{
    const uint8_t *b = (const uint8_t *)c->rbuf;
    size_t len = c->rlen, i = 0;
    while (c->state == ST_OPEN) {
        if (c->skip) {
            size_t k = len - i < c->skip ? len - i : (size_t)c->skip;
            i += k;
            c->skip -= k;
            if (c->skip)
                break;
        }
        if (len - i < 2)
            break;
        int op = b[i] & 0x0f;
        uint64_t plen = b[i + 1] & 0x7f;
        size_t hl = 2;
        if (b[i + 1] & 0x80) {
            conn_kill(c, "server sent a masked frame");
            return;
        }
        if (plen == 126) {
            if (len - i < 4)
                break;
            plen = (uint64_t)b[i + 2] << 8 | b[i + 3];
            hl = 4;
        } else if (plen == 127) {
            if (len - i < 10)
                break;
            plen = 0;
            for (int k = 0; k < 8; k++)
                plen = plen << 8 | b[i + 2 + k];
            hl = 10;
        }
        if (hl + plen > RBUF) {
            /* Too big to be one of ours: discard it as it streams past. */
            st.others++;
            c->skip = plen;
            i += hl;
            continue;
        }
        if (len - i < hl + plen)
            break;
        const char *pl = (const char *)b + i + hl;
        i += hl + (size_t)plen;
        if (op == 1 && (b[i - hl - plen] & 0x80)) {
            on_text(c, pl, (size_t)plen);
        } else if (op == 9) {
            send_frame(c, 10, pl, (size_t)plen);
        } else if (op == 8) {
            note_close_code(plen >= 2 ? ((uint8_t)pl[0] << 8 | (uint8_t)pl[1]) : 1005);
            conn_kill(c, "server sent close");
            return;
        } else if (op != 10) {
            st.others++;
        }
    }
    if (c->state == ST_DEAD)
        return;
    memmove(c->rbuf, c->rbuf + i, len - i);
    c->rlen = (uint32_t)(len - i);
}

/* Checks the server's answer to the upgrade: the status must be 101
 * (RFC 6455 section 4.1); the accept key is not verified here. */
static void on_handshake(struct conn *c)
{
    char *end = memmem(c->rbuf, c->rlen, "\r\n\r\n", 4);
    if (!end) {
        if (c->rlen == RBUF)
            conn_kill(c, "handshake answer too long");
        return;
    }
    if (c->rlen < 12 || memcmp(c->rbuf, "HTTP/1.1 101", 12)) {
        char status[40];
        size_t k = 0;
        while (k < c->rlen && k < sizeof status - 1 && c->rbuf[k] != '\r')
            status[k] = c->rbuf[k], k++;
        status[k] = 0;
        conn_kill(c, status);
        return;
    }
    c->state = ST_OPEN;
    st.opened++;
    st.in_progress--;
    size_t hl = (size_t)(end + 4 - c->rbuf);
    memmove(c->rbuf, c->rbuf + hl, c->rlen - hl);
    c->rlen -= (uint32_t)hl;
    parse_frames(c);
}

/* One read per readiness event on a plain socket. Over TLS, a record larger
 * than what rbuf had room for leaves decrypted bytes inside OpenSSL that no
 * readiness event will announce, so those are read at once. */
static void on_readable(struct conn *c)
{
    do {
        int want_write;
        ssize_t n = conn_read(c, c->rbuf + c->rlen, RBUF - c->rlen, &want_write);
        if (n == 0) {
            conn_kill(c, "end of stream");
            return;
        }
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR)
                conn_kill(c, strerror(errno));
            else if (want_write && !c->pollout) {
                c->pollout = true;
                want(c, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
            }
            return;
        }
        c->rlen += (uint32_t)n;
        if (c->state == ST_HANDSHAKE) {
            on_handshake(c);
        } else {
            st.last_in = now_us();
            parse_frames(c);
        }
    } while (c->ssl && c->state >= ST_HANDSHAKE && c->state != ST_DEAD && c->rlen < RBUF &&
             lg_tls_pending(c->ssl) > 0);
}

/* The rooms connection i joins at connect, comma-separated ("" for none):
 * --room's; or with --rooms-each K, K consecutive ones of the D distinct
 * rooms m0..m(D-1), starting at i*K mod D, so every room is shared by about
 * N*K/D connections and no connection names one twice (K <= D); in pairs
 * mode the pair's own room; in join mode, big or small. With bench/run's
 * K = 10 and D = 1 000, the members of a room are all one user's (i mod
 * USERS is the same for them), so no Join goes out and the rooms' histories
 * stay empty: what the connections cost is their memberships alone. */
static void rooms_of_conn(int i, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = 0;
    if (opt.mode == MODE_PAIRS) {
        snprintf(buf, cap, "p%d", i / 2);
    } else if (opt.mode == MODE_JOIN) {
        if (conns[i].role == ROLE_MEMBER)
            snprintf(buf, cap, "%s", i < opt.count ? "big" : "small");
    } else if (opt.rooms_each) {
        for (int k = 0; k < opt.rooms_each && n < cap; k++)
            n += (size_t)snprintf(buf + n, cap - n, "%sm%d", k ? "," : "",
                                  (int)(((long)i * opt.rooms_each + k) % opt.rooms_distinct));
    } else {
        snprintf(buf, cap, "%s", opt.room);
    }
}

/* Sends the upgrade request (RFC 6455 section 4.1). The key is a constant:
 * the server only checks its form. */
static void send_upgrade(struct conn *c)
{
    char rooms[1024], req[1400];
    rooms_of_conn((int)(c - conns), rooms, sizeof rooms);
    int n = snprintf(req, sizeof req,
                     "GET /websocket?userId=%s%s%s HTTP/1.1\r\nHost: %s:%d\r\n"
                     "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     c->user, *rooms ? "&rooms=" : "", rooms, opt.host, opt.ports[c->node]);
    c->state = ST_HANDSHAKE;
    want(c, EPOLLIN, EPOLL_CTL_MOD);
    out_append(c, req, (size_t)n);
}

/* One more step of c's TLS handshake, watching the socket for what it needs;
 * the upgrade request follows the handshake's end. */
static void tls_step(struct conn *c)
{
    char why[128];
    switch (lg_tls_handshake(c->ssl, why, sizeof why)) {
    case TLS_DONE:
        send_upgrade(c);
        break;
    case TLS_WANT_READ:
        want(c, EPOLLIN, EPOLL_CTL_MOD);
        break;
    case TLS_WANT_WRITE:
        want(c, EPOLLOUT, EPOLL_CTL_MOD);
        break;
    case TLS_FAILED:
        conn_kill(c, why);
        break;
    }
}

static void on_connected(struct conn *c)
{
    int err = 0;
    socklen_t el = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
    if (err) {
        conn_kill(c, strerror(err));
        return;
    }
    if (!opt.tls) {
        send_upgrade(c);
        return;
    }
    c->ssl = lg_tls_new(c->fd);
    if (!c->ssl) {
        conn_kill(c, "SSL_new failed");
        return;
    }
    c->state = ST_TLS;
    tls_step(c);
}

/* ------------------------------------------------------------------ the loop */

static void pump(int timeout_ms)
{
    struct epoll_event ev[512];
    int n = epoll_wait(epfd, ev, 512, timeout_ms);
    if (n < 0 && errno != EINTR)
        die("epoll_wait: %s", strerror(errno));
    for (int i = 0; i < n; i++) {
        struct conn *c = &conns[ev[i].data.u32];
        if (c->state == ST_DEAD)
            continue;
        if (c->state == ST_CONNECTING) {
            on_connected(c);
            continue;
        }
        if (c->state == ST_TLS) {
            tls_step(c);
            continue;
        }
        if (ev[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
            on_readable(c);
        if (c->state != ST_DEAD && (ev[i].events & EPOLLOUT))
            conn_flush(c);
    }
    flush_all();
}

static void start_connect(struct conn *c, int idx)
{
    struct sockaddr_in src = {.sin_family = AF_INET}, dst = {.sin_family = AF_INET};
    int one = 1;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        die("socket: %s (raise the open-file limit)", strerror(errno));
    /* Several source addresses give ~28 000 ports each; with
     * IP_BIND_ADDRESS_NO_PORT the port is chosen at connect(), per 4-tuple. */
    setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (c->role == ROLE_RECEIVER && !opt.tls)
        setsockopt(c->fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
    src.sin_addr.s_addr = htonl(0x7f000002u + (uint32_t)(idx / PER_SOURCE));
    if (bind(c->fd, (struct sockaddr *)&src, sizeof src) < 0)
        die("bind: %s", strerror(errno));
    dst.sin_port = htons((uint16_t)opt.ports[c->node]);
    if (inet_pton(AF_INET, opt.host, &dst.sin_addr) != 1)
        die("bad --host %s", opt.host);
    c->state = ST_CONNECTING;
    st.in_progress++;
    want(c, EPOLLOUT, EPOLL_CTL_ADD);
    if (connect(c->fd, (struct sockaddr *)&dst, sizeof dst) < 0 && errno != EINPROGRESS)
        conn_kill(c, strerror(errno));
}

/* Opens every connection, at most opt.concurrency handshakes at once.
 * Returns the seconds it took. */
static double connect_all(double limit_s)
{
    uint64_t t0 = now_us(), deadline = t0 + (uint64_t)(limit_s * 1e6);
    int next = 0;
    while (st.opened + st.failed < nconns) {
        while (next < nconns && st.in_progress < opt.concurrency) {
            start_connect(&conns[next], next);
            next++;
        }
        flush_all();
        pump(50);
        if (now_us() > deadline) {
            for (int i = 0; i < nconns; i++)
                if (conns[i].state == ST_CONNECTING || conns[i].state == ST_TLS ||
                    conns[i].state == ST_HANDSHAKE)
                    conn_kill(&conns[i], "timed out opening");
            break;
        }
    }
    return (double)(now_us() - t0) / 1e6;
}

/* Reads until the server has been quiet for quiet_ms (the presence notices and
 * history replays that connecting causes), but no longer than limit_ms. */
static void settle(int quiet_ms, int limit_ms)
{
    uint64_t start = now_us(), end = start + (uint64_t)limit_ms * 1000;
    st.last_in = start;
    while (now_us() < end && now_us() - st.last_in < (uint64_t)quiet_ms * 1000)
        pump(10);
}

/* ------------------------------------------------------------------ report */

static struct sched phase_server, phase_self; /* schedstat at the phase's start */
static double phase_start;                    /* now_us() then, in seconds */
static double phase_self_cpu;                 /* self_cpu() then */
static struct io phase_io;                    /* server_io() then */
static struct cpustat phase_cpus[MAX_CPUS + 1]; /* read_cpustat() then */

static bool tcp_counts(const struct conn *c, uint32_t *segs, uint64_t *bytes)
{
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    memset(&ti, 0, sizeof ti);
    if (c->state != ST_OPEN || getsockopt(c->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
        return false;
    *segs = ti.tcpi_data_segs_in;
    *bytes = ti.tcpi_bytes_received;
    return true;
}

/* Outside the timed window: a getsockopt per connection is loadgen's work. */
static void wire_begin(void)
{
    for (int i = 0; i < nconns; i++)
        conns[i].wired = tcp_counts(&conns[i], &conns[i].segs0, &conns[i].bytes0);
}

static void phase_begin(void)
{
    wire_begin();
    phase_io = server_io();
    read_cpustat(phase_cpus);
    phase_server = server_sched();
    phase_self = schedstat(0);
    phase_start = (double)now_us() / 1e6;
    phase_self_cpu = self_cpu();
}

/* How much of the phase the server and loadgen each spent runnable but not
 * running, and how busy loadgen itself was (near 100%, it set the pace, not
 * the server), as shares of the phase. */
static struct {
    double len, server_wait, self_wait, self_busy;
    int ncpu;                       /* cores seen in /proc/stat */
    double core_busy[MAX_CPUS];     /* each core's busy share of the phase */
    double busy, steal;             /* all cores together */
    struct io io;                   /* the server's system calls in the phase */
    uint64_t segs, bytes;           /* TCP data segments and bytes we received */
} phase;

/* Busy share of the jiffies between two /proc/stat readings, -1 without any. */
static double busy_pct(const struct cpustat *a, const struct cpustat *b, bool steal)
{
    if (b->total <= a->total)
        return -1;
    return 100.0 * (double)(steal ? b->steal - a->steal : b->busy - a->busy) /
           (double)(b->total - a->total);
}

static void phase_end(void)
{
    struct sched s = server_sched(), me = schedstat(0);
    double self = self_cpu();
    struct cpustat cs[MAX_CPUS + 1];
    int ncpu = read_cpustat(cs);
    struct io io = server_io();
    phase.len = (double)now_us() / 1e6 - phase_start;
    phase.io = (struct io){io.rchar - phase_io.rchar, io.wchar - phase_io.wchar,
                           io.syscr - phase_io.syscr, io.syscw - phase_io.syscw};
    phase.ncpu = ncpu;
    for (int k = 0; k < ncpu; k++)
        phase.core_busy[k] = busy_pct(&phase_cpus[k], &cs[k], false);
    phase.busy = busy_pct(&phase_cpus[MAX_CPUS], &cs[MAX_CPUS], false);
    phase.steal = busy_pct(&phase_cpus[MAX_CPUS], &cs[MAX_CPUS], true);
    phase.segs = phase.bytes = 0;
    for (int i = 0; i < nconns; i++) {
        uint32_t segs;
        uint64_t bytes;
        if (conns[i].wired && tcp_counts(&conns[i], &segs, &bytes)) {
            phase.segs += (uint32_t)(segs - conns[i].segs0);
            phase.bytes += bytes - conns[i].bytes0;
        }
    }
    if (phase.len <= 0)
        return;
    phase.server_wait = 100 * (s.wait - phase_server.wait) / phase.len;
    phase.self_wait = 100 * (me.wait - phase_self.wait) / phase.len;
    phase.self_busy = 100 * (self - phase_self_cpu) / phase.len;
}

/* A ratio as JSON, null where the divisor is nothing. */
static void print_ratio(FILE *f, const char *key, double a, double b)
{
    if (b > 0)
        fprintf(f, ",\"%s\":%.3f", key, a / b);
    else
        fprintf(f, ",\"%s\":null", key);
}

static void print_waits(FILE *f)
{
    fprintf(f, ",\"phase_s\":%.3f,\"server_runq_wait_pct\":%.1f,\"loadgen_runq_wait_pct\":%.1f"
               ",\"loadgen_busy_pct\":%.1f,\"machine_busy_pct\":%.1f,\"steal_pct\":%.1f"
               ",\"core_busy_pct\":[",
            phase.len, phase.server_wait, phase.self_wait, phase.self_busy, phase.busy,
            phase.steal);
    for (int k = 0; k < phase.ncpu; k++)
        fprintf(f, "%s%.1f", k ? "," : "", phase.core_busy[k]);
    fprintf(f, "]");
}

/* The server's system calls and what its output arrived in, per delivery
 * (fanout) or round trip (echo). Where the server wrote far fewer bytes
 * through write(2) than we received, its sockets go through send(2), which
 * /proc/PID/io does not count: the per-write figures are then null, and the
 * TCP segments stand in for its writes. */
static void print_io(FILE *f, uint64_t delivered)
{
    const struct io *io = &phase.io;
    bool counted = opt.pid && io->wchar * 2 >= phase.bytes;
    double d = (double)delivered;
    fprintf(f, ",\"server_io\":{\"syscr\":%llu,\"syscw\":%llu,\"rchar\":%llu,\"wchar\":%llu,"
               "\"counted\":%s},\"wire_in\":{\"segs\":%" PRIu64 ",\"bytes\":%" PRIu64 "}",
            io->syscr, io->syscw, io->rchar, io->wchar, counted ? "true" : "false", phase.segs,
            phase.bytes);
    print_ratio(f, "server_syscalls_per_delivery", (double)(io->syscr + io->syscw),
                counted ? d : 0);
    print_ratio(f, "server_writes_per_delivery", (double)io->syscw, counted ? d : 0);
    print_ratio(f, "server_bytes_per_write", (double)io->wchar, counted ? (double)io->syscw : 0);
    print_ratio(f, "segs_per_delivery", (double)phase.segs, d);
    print_ratio(f, "bytes_per_seg", (double)phase.bytes, (double)phase.segs);
}

/* The machine, for the human line. */
static void say_machine(FILE *f)
{
    fprintf(f, "; cores busy");
    for (int k = 0; k < phase.ncpu; k++)
        fprintf(f, "%s%.0f%%", k ? "/" : " ", phase.core_busy[k]);
    fprintf(f, " (all %.0f%%, steal %.0f%%)", phase.busy, phase.steal);
}

static void print_common(FILE *f)
{
    fprintf(f, "\"label\":\"%s\",\"connections\":%d,\"opened\":%d,\"failed\":%d,"
               "\"closed\":%d,\"server_sys_errors\":%" PRIu64 ",\"other_messages\":%" PRIu64
               ",\"close_codes\":{",
            opt.label, nconns, st.opened, st.failed, st.closed, st.sys_errors, st.others);
    for (int i = 0; i < st.ncodes; i++)
        fprintf(f, "%s\"%d\":%d", i ? "," : "", st.codes[i][0], st.codes[i][1]);
    fprintf(f, "},\"first_error\":\"");
    for (const char *p = st.first_error; *p; p++)
        fputc(*p == '"' || *p == '\\' ? '\'' : *p, f);
    fprintf(f, "\",\"loadgen_cpu_s\":%.3f,\"tls\":%s,\"room\":\"%s\",\"rooms_each\":%d,"
               "\"rooms_distinct\":%d",
            self_cpu(), opt.tls ? "true" : "false", opt.room, opt.rooms_each,
            opt.rooms_each ? opt.rooms_distinct : 0);
}

static void print_hist(FILE *f, const char *name, const struct hist *h)
{
    fprintf(f, ",\"%s\":{\"p50\":%" PRIu64 ",\"p90\":%" PRIu64 ",\"p99\":%" PRIu64
               ",\"max\":%" PRIu64 "}",
            name, hist_pct(h, 50), hist_pct(h, 90), hist_pct(h, 99), h->max);
}

/* arrival_us is null where no read carried a kernel stamp (TLS, echo). */
static void print_latency(FILE *f)
{
    print_hist(f, "lat_us", &lat);
    if (arrival.n)
        print_hist(f, "arrival_us", &arrival);
    else
        fprintf(f, ",\"arrival_us\":null");
}

/* ------------------------------------------------------------------ workloads */

static void run_idle(void)
{
    long rss0 = server_rss_kib();
    double cpu0 = server_cpu();
    phase_begin();
    double secs = connect_all(120);
    settle(300, 20000);
    double cpu = server_cpu() - cpu0;
    long rss1 = server_rss_kib();
    phase_end();
    uint64_t hold_end = now_us() + (uint64_t)(opt.hold * 1e6);
    while (now_us() < hold_end)
        pump(50);
    double hs = st.opened / secs;
    double per = st.opened ? (double)(rss1 - rss0) * 1024.0 / st.opened : 0;
    printf("{\"mode\":\"idle\",");
    print_common(stdout);
    print_waits(stdout);
    printf(",\"seconds\":%.3f,\"handshakes_per_s\":%.0f,\"rss_before_kib\":%ld,"
           "\"rss_after_kib\":%ld,\"rss_per_conn_bytes\":%.0f,\"server_cpu_s\":%.3f,"
           "\"server_cpu_us_per_conn\":%.1f,\"still_open\":%d}\n",
           secs, hs, rss0, rss1, per, cpu, st.opened ? cpu * 1e6 / st.opened : 0,
           st.opened - st.closed);
    fprintf(stderr, "%s idle %d: %d open, %d failed, %.0f handshakes/s, %.0f B RSS/conn, "
                    "%.1f us server CPU/conn, server waited for a CPU %.0f%% of the time",
            opt.label, nconns, st.opened, st.failed, hs, per,
            st.opened ? cpu * 1e6 / st.opened : 0, phase.server_wait);
    say_machine(stderr);
    fputc('\n', stderr);
}

/* More members for report_traffic's object, each starting with a comma. */
static char extra_json[512];

/* Fanout: each of opt.pids' CPU seconds over the measured phase, and the
 * Redis's (-1 without --redis-pid), for the figures per node. */
static double phase_pid_cpu[MAX_PIDS];
static double phase_redis_cpu = -1;

/* A ratio's JSON value alone: a number, or null where the divisor is nothing. */
static void print_per(FILE *f, double a, double b)
{
    if (b > 0 && a >= 0)
        fprintf(f, "%.3f", a / b);
    else
        fprintf(f, "null");
}

/* Fanout's nodes: the receivers, deliveries and CPU of each (the node's own
 * pid when each port has one, else all of --pid's together), and Redis's CPU
 * per message sent, the script and the publish to every node it costs. */
static void print_nodes(FILE *f)
{
    bool per_node = opt.npids == opt.nports;
    fprintf(f, ",\"nodes\":[");
    for (int k = 0; k < opt.nports; k++) {
        double cpu = 0;
        if (per_node)
            cpu = phase_pid_cpu[k];
        else
            for (int i = 0; i < opt.npids; i++)
                cpu += phase_pid_cpu[i];
        fprintf(f, "%s{\"port\":%d,\"pid\":%d,\"receivers\":%d,\"delivered\":%" PRIu64
                   ",\"cpu_s\":%.3f,\"cpu_s_per_M\":",
                k ? "," : "", opt.ports[k], per_node ? opt.pids[k] : opt.pid,
                w.node_receivers[k], w.node_delivered[k], cpu);
        print_per(f, cpu * 1e6, (double)w.node_delivered[k]);
        fputc('}', f);
    }
    fprintf(f, "],\"redis_pid\":%d,\"redis_cpu_s\":", opt.redis_pid);
    if (phase_redis_cpu >= 0)
        fprintf(f, "%.3f", phase_redis_cpu);
    else
        fprintf(f, "null");
    fprintf(f, ",\"redis_cpu_us_per_message\":");
    print_per(f, phase_redis_cpu * 1e6, (double)w.sent);
}

/* The same for the human line. */
static void say_nodes(FILE *f)
{
    if (opt.nports > 1 && opt.npids == opt.nports) {
        fprintf(f, "; per node");
        for (int k = 0; k < opt.nports; k++)
            fprintf(f, "%s%.2f", k ? "/" : " ", w.node_delivered[k]
                    ? phase_pid_cpu[k] * 1e6 / (double)w.node_delivered[k] : 0);
        fprintf(f, " CPU s/M");
    }
    if (phase_redis_cpu >= 0 && w.sent)
        fprintf(f, "; Redis %.1f CPU us/message", phase_redis_cpu * 1e6 / (double)w.sent);
}

/* Shared by fanout, pairs and echo: the measured phase, then its report. */
static void report_traffic(const char *mode, double cpu, const char *unit)
{
    double el = (double)((w.last_delivery > w.t_stop ? w.last_delivery : w.t_stop) - w.t0) / 1e6;
    double rate = el > 0 ? (double)w.delivered / el : 0;
    double per_m = w.delivered ? cpu * 1e6 / (double)w.delivered : 0;
    long long lost = (long long)w.expected - (long long)w.delivered;
    printf("{\"mode\":\"%s\",", mode);
    print_common(stdout);
    print_waits(stdout);
    printf(",\"receivers\":%d,\"senders\":%d,\"window\":%d,\"rate\":%.1f,\"payload\":%d,"
           "\"seconds\":%.3f,\"sent\":%" PRIu64 ",\"expected\":%" PRIu64
           ",\"delivered\":%" PRIu64 ",\"lost\":%lld,\"%s_per_s\":%.0f",
           w.receivers, opt.senders, opt.window, opt.rate, opt.payload, el, w.sent,
           w.expected, w.delivered, lost, unit, rate);
    print_latency(stdout);
    print_io(stdout, w.delivered);
    if (opt.mode == MODE_FANOUT)
        print_nodes(stdout);
    printf(",\"server_cpu_s\":%.3f,\"server_cpu_s_per_M\":%.3f,\"server_rss_kib\":%ld%s}\n",
           cpu, per_m, server_rss_kib(), extra_json);
    fprintf(stderr, "%s %s %d: %.0f %s/s, p50 %" PRIu64 " us, p99 %" PRIu64 " us, "
                    "max %" PRIu64 " us, lost %lld, server %.2f CPU s/M, loadgen %.2f CPU s, "
                    "runqueue waits: server %.0f%%, loadgen %.0f%%; loadgen busy %.0f%%",
            opt.label, mode, opt.count, rate, unit, hist_pct(&lat, 50), hist_pct(&lat, 99), lat.max,
            lost, per_m, self_cpu(), phase.server_wait, phase.self_wait, phase.self_busy);
    if (arrival.n)
        fprintf(stderr, "; in the receivers' sockets: p50 %" PRIu64 " us, p99 %" PRIu64 " us",
                hist_pct(&arrival, 50), hist_pct(&arrival, 99));
    say_machine(stderr);
    if (w.delivered)
        fprintf(stderr, "; %.2f TCP segments/delivery, %.0f B/segment", (double)phase.segs /
                (double)w.delivered, phase.segs ? (double)phase.bytes / (double)phase.segs : 0);
    if (phase.io.syscw && w.delivered && phase.io.wchar * 2 >= phase.bytes)
        fprintf(stderr, ", %.2f server writes/delivery, %.0f B/write",
                (double)phase.io.syscw / (double)w.delivered,
                (double)phase.io.wchar / (double)phase.io.syscw);
    if (opt.mode == MODE_FANOUT)
        say_nodes(stderr);
    fputc('\n', stderr);
}

/* The measured phase of fanout and pairs: messages from send_next, at
 * opt.rate a second or opt.window in flight, then the drain. Returns the
 * server CPU seconds it took. */
static double fanout_phase(bool (*send_next)(void))
{
    double pid0[MAX_PIDS], redis0 = opt.redis_pid ? pid_cpu(opt.redis_pid) : -1;
    for (int i = 0; i < opt.npids; i++)
        pid0[i] = pid_cpu(opt.pids[i]);
    double cpu0 = server_cpu();
    phase_begin();
    w.t0 = w.last_progress = now_us();
    w.t_stop = w.t0 + (uint64_t)(opt.seconds * 1e6);
    w.sending = true;
    double interval = opt.rate > 0 ? 1e6 / opt.rate : 0, next_at = (double)w.t0;
    uint64_t now = w.t0;
    bool stalled = false;
    while (now < w.t_stop) {
        int timeout = 50;
        if (opt.rate > 0) {
            while ((double)now >= next_at) {
                send_next();
                next_at += interval;
            }
            timeout = (int)((next_at - (double)now) / 1000) + 1;
        } else {
            while (w.sent - w.completed < (uint64_t)opt.window && send_next())
                ;
        }
        flush_all();
        pump(timeout);
        now = now_us();
        if (opt.rate == 0 && now - w.last_progress > 5000000) {
            stalled = true;
            note_error("stalled: no message completed for 5 s, %" PRIu64 " in flight",
                       w.sent - w.completed);
            break;
        }
    }
    w.sending = false;
    uint64_t drain_end = now_us() + (uint64_t)(opt.drain * 1e6);
    while (w.delivered < w.expected && now_us() < drain_end)
        pump(10);
    double cpu = server_cpu() - cpu0;
    for (int i = 0; i < opt.npids; i++)
        phase_pid_cpu[i] = pid_cpu(opt.pids[i]) - pid0[i];
    double redis1 = opt.redis_pid ? pid_cpu(opt.redis_pid) : -1;
    phase_redis_cpu = redis0 >= 0 && redis1 >= 0 ? redis1 - redis0 : -1;
    phase_end();
    if (stalled)
        w.t_stop = now;
    return cpu;
}

static void run_fanout(void)
{
    connect_all(120);
    settle(300, 30000);
    for (int i = 0; i < opt.count; i++)
        if (conns[i].state == ST_OPEN) {
            w.receivers++;
            w.node_receivers[conns[i].node]++;
        }
    double cpu = fanout_phase(send_group);
    report_traffic("fanout", cpu, "deliveries");
}

/* Pairs mode, before the measured phase: every room gets messages until it
 * has had opt.fill, 256 in flight, so its history holds min(fill, 100); the
 * growth of the server's RSS over it is what the histories cost. */
static void fill_histories(void)
{
    uint64_t target = (uint64_t)opt.fill * (uint64_t)opt.count, last = now_us();
    while (w.completed < w.sent || w.sent < target) {
        while (w.sent < target && w.sent - w.completed < 256 && send_pair())
            ;
        flush_all();
        uint64_t before = w.completed;
        pump(50);
        if (w.completed != before)
            last = now_us();
        else if (now_us() - last > 5000000) {
            note_error("filling the histories stalled at %" PRIu64 " of %" PRIu64, w.completed,
                       target);
            break;
        }
    }
}

static void run_pairs(void)
{
    connect_all(120);
    settle(300, 30000);
    long rss0 = server_rss_kib();
    fill_histories();
    settle(300, 10000);
    long rss1 = server_rss_kib();
    uint64_t filled = w.completed;
    /* The measured phase starts afresh, on histories already full. */
    memset(&w, 0, sizeof w);
    memset(&lat, 0, sizeof lat);
    memset(&arrival, 0, sizeof arrival);
    for (int i = 1; i < nconns; i += 2)
        w.receivers += conns[i].state == ST_OPEN;
    if (opt.rate == 0)
        opt.rate = opt.count;
    double per_room = opt.count ? (double)(rss1 - rss0) * 1024.0 / opt.count : 0;
    double held = opt.count ? (double)filled / opt.count : 0;
    held = held < 100 ? held : 100;
    snprintf(extra_json, sizeof extra_json,
             ",\"rooms\":%d,\"fill_rss_before_kib\":%ld,\"fill_rss_after_kib\":%ld,"
             "\"history_held_per_room\":%.1f,\"history_bytes_per_room\":%.0f,"
             "\"history_bytes_per_message\":%.0f",
             opt.count, rss0, rss1, held, per_room, held > 0 ? per_room / held : 0);
    fprintf(stderr, "%s pairs %d: histories of %.0f messages cost %.0f B a room; ", opt.label,
            opt.count, held, per_room);
    double cpu = fanout_phase(send_pair);
    report_traffic("pairs", cpu, "deliveries");
}

/* ------------------------------------------------------------------ join */

enum step { STEP_BASE, STEP_JOIN_BIG, STEP_LEAVE_BIG, STEP_JOIN_SMALL, STEP_LEAVE_SMALL, NSTEPS };

static const char *const step_name[NSTEPS] = {"base", "join_big", "leave_big", "join_small",
                                              "leave_small"};

static struct {
    int n;                          /* steps timed of each kind */
    double us[NSTEPS][MAX_SAMPLES]; /* round trip of each step */
    double cpu[NSTEPS][MAX_SAMPLES];  /* server CPU of each step, us */
} jn;

/* One step of the probe: what (a Join or Leave frame, or nothing) and the
 * refused message whose reply ends the step; the round trip and the server
 * CPU go to kind k. False when the reply did not come within 5 s. */
static bool probe_step(struct conn *probe, const char *what, enum step k)
{
    static const char bad[] = "{\"messageType\":9}";
    uint64_t want = probe_replies + 1;
    struct sched s0 = server_sched();
    uint64_t t0 = now_us();
    if (what)
        send_frame(probe, 1, what, strlen(what));
    send_frame(probe, 1, bad, sizeof bad - 1);
    flush_all();
    while (probe_replies < want && probe->state == ST_OPEN && now_us() - t0 < 5000000)
        pump(5);
    uint64_t t1 = now_us();
    struct sched s1 = server_sched();
    if (probe_replies < want)
        return false;
    jn.us[k][jn.n] = (double)(t1 - t0);
    jn.cpu[k][jn.n] = (s1.run - s0.run) * 1e6;
    return true;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The p-th percentile of the first jn.n samples of v (sorts them). */
static double pct_of(double *v, double p)
{
    if (!jn.n)
        return 0;
    qsort(v, (size_t)jn.n, sizeof *v, cmp_double);
    int i = (int)((double)jn.n * p / 100.0 + 0.5) - 1;
    return v[i < 0 ? 0 : i >= jn.n ? jn.n - 1 : i];
}

/* Joins of a room of opt.count members against a room of 2, by a
 * connection of a user who is in both already (u0), so no Join or Leave
 * goes to the members (that is one delivery each, by the contract) and the
 * steps time only the membership and the empty history replay (the Join
 * asks since= a far id). Kinds are interleaved, so a busy moment on the
 * shared machine falls on all alike. */
static void run_join(void)
{
    static const char join_big[] = "{\"messageType\":5,\"to\":\"big\",\"since\":9000000000000000}",
                      leave_big[] = "{\"messageType\":6,\"to\":\"big\"}",
                      join_small[] = "{\"messageType\":5,\"to\":\"small\",\"since\":9000000000000000}",
                      leave_small[] = "{\"messageType\":6,\"to\":\"small\"}";
    const char *frame[NSTEPS] = {NULL, join_big, leave_big, join_small, leave_small};
    struct conn *probe = &conns[nconns - 1];
    connect_all(120);
    settle(300, 30000);
    phase_begin();
    bool ok = probe->state == ST_OPEN;
    for (jn.n = 0; ok && jn.n < opt.joins; jn.n++)
        for (int k = 0; k < NSTEPS && ok; k++)
            ok = probe_step(probe, frame[k], (enum step)k);
    if (!ok)
        note_error("the probe got no reply within 5 s");
    phase_end();
    printf("{\"mode\":\"join\",");
    print_common(stdout);
    print_waits(stdout);
    printf(",\"members\":%d,\"steps\":%d", opt.count, jn.n);
    /* Medians of the server's CPU per step: a step is some 15 us, and one
     * that a timer tick or another tenant lands in would sway a mean. */
    double cpu[NSTEPS];
    for (int k = 0; k < NSTEPS; k++) {
        cpu[k] = pct_of(jn.cpu[k], 50);
        printf(",\"%s_us\":{\"p50\":%.1f,\"p99\":%.1f,\"server_cpu_p50\":%.2f}", step_name[k],
               pct_of(jn.us[k], 50), pct_of(jn.us[k], 99), cpu[k]);
    }
    /* Net of the refused message that every step ends with. */
    double big = cpu[STEP_JOIN_BIG] - cpu[STEP_BASE], small = cpu[STEP_JOIN_SMALL] - cpu[STEP_BASE];
    printf(",\"join_big_server_us\":%.2f,\"join_small_server_us\":%.2f", big, small);
    /* The whole steps' ratio: the net figures are a microsecond or two, within
     * the noise of the shared machine, so their ratio says little. */
    print_ratio(stdout, "join_big_over_small", cpu[STEP_JOIN_BIG], cpu[STEP_JOIN_SMALL]);
    printf("}\n");
    fprintf(stderr, "%s join %d: Join round trip p50 %.0f us into %d members, %.0f us into 2 "
                    "(%.0f us with no Join); server CPU per Join %.1f us against %.1f us",
            opt.label, opt.count, pct_of(jn.us[STEP_JOIN_BIG], 50), opt.count,
            pct_of(jn.us[STEP_JOIN_SMALL], 50), pct_of(jn.us[STEP_BASE], 50), big, small);
    say_machine(stderr);
    fputc('\n', stderr);
}

static void run_echo(void)
{
    connect_all(120);
    settle(300, 10000);
    double cpu0 = server_cpu();
    phase_begin();
    w.t0 = now_us();
    w.t_stop = w.t0 + (uint64_t)(opt.seconds * 1e6);
    w.sending = true;
    for (int i = 0; i < nconns; i++)
        if (conns[i].state == ST_OPEN)
            send_echo(&conns[i]);
    flush_all();
    while (now_us() < w.t_stop)
        pump(50);
    w.sending = false;
    uint64_t drain_end = now_us() + (uint64_t)(opt.drain * 1e6);
    while (w.delivered < w.expected && now_us() < drain_end)
        pump(10);
    phase_end();
    report_traffic("echo", server_cpu() - cpu0, "round_trips");
}

/* ------------------------------------------------------------------ main */

static void usage(void)
{
    fputs("usage: loadgen idle N | fanout R | echo C | pairs P | join M [options]\n"
          "  --host=ADDR        server IPv4 address (127.0.0.1)\n"
          "  --port=N[,N...]    server port (8080); fanout: several nodes' ports, the\n"
          "                     receivers spread over them round robin, senders on the first\n"
          "  --pid=N[,N...]     server pid, for CPU and RSS from /proc; more pids (a\n"
          "                     proxy's, or one a node in --port's order) are counted with it\n"
          "  --redis-pid=N      fanout: the nodes' Redis, its CPU per message apart\n"
          "  --tls              speak TLS (the certificate is not checked)\n"
          "  --seconds=S        measured phase (10)\n"
          "  --rate=M           fanout: M messages/s in all (else window mode)\n"
          "  --window=W         fanout: at most W messages in flight (8)\n"
          "  --room=NAME        fanout: everyone joins room NAME (a plain name) at connect,\n"
          "                     and the Group goes to it\n"
          "  --rooms-each=K     every connection joins K rooms at connect (0)...\n"
          "  --rooms-distinct=D ...of D rooms, m0 to m(D-1), so they are shared (1000)\n"
          "  --fill=M           pairs: messages each room has before the phase (0)\n"
          "  --joins=J          join: Joins timed into each room (200)\n"
          "  --senders=S        fanout: sending connections (1)\n"
          "  --payload=B        content at least B bytes (0)\n"
          "  --concurrency=K    handshakes in progress at most (256)\n"
          "  --hold=S           idle: seconds to hold after measuring (1)\n"
          "  --drain=S          seconds to wait for stragglers (2)\n"
          "  --label=TEXT       copied into the output\n",
          stderr);
    exit(2);
}

static double num_arg(const char *s, const char *name, double lo, double hi)
{
    char *end;
    double v = strtod(s, &end);
    if (*s == 0 || *end || v < lo || v > hi)
        die("bad %s: %s", name, s);
    return v;
}

/* --port=P1,P2,...: the first is where the senders go. */
static void parse_ports(char *v)
{
    opt.nports = 0;
    for (char *p = strtok(v, ","); p; p = strtok(NULL, ",")) {
        if (opt.nports == MAX_PORTS)
            die("at most %d ports", MAX_PORTS);
        opt.ports[opt.nports++] = (int)num_arg(p, "--port", 1, 65535);
    }
    if (!opt.nports)
        die("--port names no port");
    opt.port = opt.ports[0];
}

/* --pid=A,B,...: the first is the server, the others are counted with it. */
static void parse_pids(char *v)
{
    opt.npids = 0;
    for (char *p = strtok(v, ","); p; p = strtok(NULL, ",")) {
        if (opt.npids == MAX_PIDS)
            die("at most %d pids", MAX_PIDS);
        int pid = (int)num_arg(p, "--pid", 0, 1e9);
        if (pid)
            opt.pids[opt.npids++] = pid;
    }
    opt.pid = opt.npids ? opt.pids[0] : 0;
}

static void parse_args(int argc, char **argv)
{
    if (argc < 3)
        usage();
    if (!strcmp(argv[1], "idle"))
        opt.mode = MODE_IDLE;
    else if (!strcmp(argv[1], "fanout"))
        opt.mode = MODE_FANOUT;
    else if (!strcmp(argv[1], "echo"))
        opt.mode = MODE_ECHO;
    else if (!strcmp(argv[1], "pairs"))
        opt.mode = MODE_PAIRS;
    else if (!strcmp(argv[1], "join"))
        opt.mode = MODE_JOIN;
    else
        usage();
    opt.count = (int)num_arg(argv[2], "count", 1, MAX_CONNS);
    for (int i = 3; i < argc; i++) {
        char *a = argv[i], *v = strchr(a, '=');
        if (!strcmp(a, "--tls")) {
            opt.tls = true;
            continue;
        }
        if (!v || strncmp(a, "--", 2))
            usage();
        *v++ = 0;
        if (!strcmp(a, "--host"))
            opt.host = v;
        else if (!strcmp(a, "--port"))
            parse_ports(v);
        else if (!strcmp(a, "--pid"))
            parse_pids(v);
        else if (!strcmp(a, "--redis-pid"))
            opt.redis_pid = (int)num_arg(v, a, 0, 1e9);
        else if (!strcmp(a, "--rooms-each"))
            opt.rooms_each = (int)num_arg(v, a, 0, 100);
        else if (!strcmp(a, "--rooms-distinct"))
            opt.rooms_distinct = (int)num_arg(v, a, 1, 1e6);
        else if (!strcmp(a, "--fill"))
            opt.fill = (int)num_arg(v, a, 0, 1000);
        else if (!strcmp(a, "--joins"))
            opt.joins = (int)num_arg(v, a, 1, MAX_SAMPLES);
        else if (!strcmp(a, "--seconds"))
            opt.seconds = num_arg(v, a, 0.1, 3600);
        else if (!strcmp(a, "--rate"))
            opt.rate = num_arg(v, a, 0, 1e7);
        else if (!strcmp(a, "--window"))
            opt.window = (int)num_arg(v, a, 1, RING / 2);
        else if (!strcmp(a, "--senders"))
            opt.senders = (int)num_arg(v, a, 1, 1000);
        else if (!strcmp(a, "--payload"))
            opt.payload = (int)num_arg(v, a, 0, 1000);
        else if (!strcmp(a, "--concurrency"))
            opt.concurrency = (int)num_arg(v, a, 1, MAX_CONNS);
        else if (!strcmp(a, "--hold"))
            opt.hold = num_arg(v, a, 0, 3600);
        else if (!strcmp(a, "--drain"))
            opt.drain = num_arg(v, a, 0, 600);
        else if (!strcmp(a, "--label"))
            opt.label = v;
        else if (!strcmp(a, "--room"))
            opt.room = v;
        else
            usage();
    }
    if (opt.nports > 1 && opt.mode != MODE_FANOUT)
        die("several ports are for fanout only");
    /* Per node figures pair the ports with the pids; a mismatch would pin one
     * node's CPU on another. */
    if (opt.nports > 1 && opt.npids && opt.npids != opt.nports)
        die("%d ports need %d pids, one a node in the same order, not %d", opt.nports,
            opt.nports, opt.npids);
    if (opt.rooms_each > opt.rooms_distinct)
        die("--rooms-each=%d names a room twice with only %d distinct", opt.rooms_each,
            opt.rooms_distinct);
}

/* The soft open-file limit goes up to the hard one; each connection is a file. */
static void raise_nofile(int need)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)need + 32)
        die("%d connections need %d open files; the limit is %llu", need, need + 32,
            (unsigned long long)rl.rlim_cur);
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    nconns = opt.count + (opt.mode == MODE_FANOUT ? opt.senders : 0);
    if (opt.mode == MODE_PAIRS)
        nconns = 2 * opt.count;
    else if (opt.mode == MODE_JOIN)
        nconns = opt.count + 3; /* the room of 2, and the probe */
    if (nconns > MAX_CONNS)
        die("at most %d connections", MAX_CONNS);
    raise_nofile(nconns);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    conns = calloc((size_t)nconns, sizeof *conns);
    dirty = calloc((size_t)nconns, sizeof *dirty);
    char *rblock = malloc((size_t)nconns * RBUF);
    if (epfd < 0 || !conns || !dirty || !rblock)
        die("setup failed");
    for (int i = 0; i < nconns; i++) {
        struct conn *c = &conns[i];
        c->fd = -1;
        c->rbuf = rblock + (size_t)i * RBUF;
        if (opt.mode == MODE_ECHO) {
            c->role = ROLE_ECHO;
            snprintf(c->user, sizeof c->user, "e%d", i);
        } else if (opt.mode == MODE_PAIRS) {
            c->role = i % 2 ? ROLE_RECEIVER : ROLE_SENDER;
            snprintf(c->user, sizeof c->user, "u%d", i % USERS);
        } else if (opt.mode == MODE_JOIN) {
            /* The probe is u0, who is in both rooms already (see run_join). */
            c->role = i == nconns - 1 ? ROLE_PROBE : ROLE_MEMBER;
            snprintf(c->user, sizeof c->user, "u%d", i < opt.count ? i % USERS : (i - opt.count) % 2);
        } else if (i < opt.count) {
            c->role = ROLE_RECEIVER;
            c->node = (uint8_t)(i % opt.nports);
            snprintf(c->user, sizeof c->user, "u%d", i % USERS);
        } else {
            c->role = ROLE_SENDER;
            snprintf(c->user, sizeof c->user, "s%d", i - opt.count);
        }
    }
    if (opt.tls)
        lg_tls_init();
    if (opt.mode == MODE_IDLE)
        run_idle();
    else if (opt.mode == MODE_FANOUT)
        run_fanout();
    else if (opt.mode == MODE_PAIRS)
        run_pairs();
    else if (opt.mode == MODE_JOIN)
        run_join();
    else
        run_echo();
    fflush(stdout);
    return st.opened == nconns && st.closed == 0 ? 0 : 1;
}

/* bench/loadgen.c - the benchmark's load generator: many WebSocket clients in
 * one thread over epoll, speaking the client side of RFC 6455 and the Message
 * JSON of PROTOCOL.md, measuring a server given by port and pid.
 *
 *   loadgen idle N      open N connections, report handshakes/s and RSS/conn
 *   loadgen fanout R    R receivers, senders send Group messages, report
 *                       deliveries/s, latency and server CPU per delivery
 *   loadgen echo C      C clients send Single messages to themselves, one
 *                       outstanding each, report round trips/s and latency
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

#define RBUF 4096          /* per-connection read buffer; larger frames are skipped */
#define USERS 100          /* receivers share this many userIds (N users cost N^2/2 notifies) */
#define PER_SOURCE 10000   /* connections per loopback source address */
#define RING (1u << 18)    /* in-flight fan-out messages tracked by sequence number */
#define MAX_CONNS 19000    /* stays under the machine's 20 000 open files */
#define MAX_CODES 8        /* distinct close codes remembered */
#define MAX_CPUS 8         /* cores whose /proc/stat lines are read */

/* ------------------------------------------------------------------ options */

enum mode { MODE_IDLE, MODE_FANOUT, MODE_ECHO };

static struct {
    enum mode mode;     /* what to run */
    int count;          /* N, R or C */
    const char *host;   /* server address, IPv4 */
    int port;           /* server port */
    int pid;            /* server pid, for /proc; 0 leaves CPU and RSS out */
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
} opt = {
    .host = "127.0.0.1", .port = 8080, .seconds = 10, .window = 8, .senders = 1,
    .concurrency = 256, .hold = 1, .drain = 2, .label = "", .room = "",
};

/* ------------------------------------------------------------------ clock, /proc */

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
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

/* The server's user+system CPU seconds (proc(5): fields 14 and 15 of stat,
 * counted after the command name, which may itself hold spaces). */
static double server_cpu(void)
{
    char path[64], buf[1024];
    if (!opt.pid)
        return 0;
    snprintf(path, sizeof path, "/proc/%d/stat", opt.pid);
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

/* The server's resident set in KiB, from VmRSS in /proc/PID/status. */
static long server_rss_kib(void)
{
    char path[64], line[256];
    long kib = -1;
    if (!opt.pid)
        return 0;
    snprintf(path, sizeof path, "/proc/%d/status", opt.pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &kib) == 1)
            break;
    fclose(f);
    return kib;
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

/* The server's read and write system calls and their bytes (/proc/PID/io,
 * summed over its threads). Only the read(2) and write(2) families count
 * there: send(2) and recv(2), which uWebSockets uses, do not. */
struct io { unsigned long long rchar, wchar, syscr, syscw; };

static struct io server_io(void)
{
    char path[64], line[128];
    struct io io = {0, 0, 0, 0};
    if (!opt.pid)
        return io;
    snprintf(path, sizeof path, "/proc/%d/io", opt.pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return io;
    while (fgets(line, sizeof line, f)) {
        sscanf(line, "rchar: %llu", &io.rchar);
        sscanf(line, "wchar: %llu", &io.wchar);
        sscanf(line, "syscr: %llu", &io.syscr);
        sscanf(line, "syscw: %llu", &io.syscw);
    }
    fclose(f);
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

static struct {
    uint64_t n;                     /* samples */
    uint64_t max;                   /* largest sample */
    uint64_t b[HIST_BUCKETS];       /* counts */
} hist;

static void hist_add(uint64_t v)
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
    hist.b[i]++;
    hist.n++;
    if (v > hist.max)
        hist.max = v;
}

/* The lower bound of bucket i, the value a percentile reports. */
static uint64_t hist_floor(size_t i)
{
    if (i < HIST_LINEAR)
        return i;
    size_t e = (i - HIST_LINEAR) / HIST_SUB + 10, sub = (i - HIST_LINEAR) % HIST_SUB;
    return ((uint64_t)1 << e) + ((uint64_t)sub << (e - 6));
}

static uint64_t hist_pct(double p)
{
    uint64_t want = (uint64_t)((double)hist.n * p / 100.0 + 0.5), seen = 0;
    if (want == 0)
        want = 1;
    for (size_t i = 0; i < HIST_BUCKETS; i++) {
        seen += hist.b[i];
        if (seen >= want)
            return hist_floor(i) < hist.max ? hist_floor(i) : hist.max;
    }
    return hist.max;
}

/* ------------------------------------------------------------------ connections */

enum state { ST_CONNECTING, ST_HANDSHAKE, ST_OPEN, ST_DEAD };
enum role { ROLE_RECEIVER, ROLE_SENDER, ROLE_ECHO };

struct conn {
    int fd;             /* socket, -1 once closed */
    uint8_t state;      /* enum state */
    uint8_t role;       /* enum role */
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

/* Writes what c holds; what the socket refuses waits for EPOLLOUT. */
static void conn_flush(struct conn *c)
{
    while (c->ooff < c->olen) {
        ssize_t n = write(c->fd, c->obuf + c->ooff, c->olen - c->ooff);
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

static void send_echo(struct conn *c)
{
    char buf[1400];
    size_t n = build_msg(buf, sizeof buf, 0, c->user, 'e', w.sent, now_us());
    w.sent++;
    w.expected++;
    send_frame(c, 1, buf, n);
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
    if (m.type == 2)
        st.sys_errors++;
    if (c->role == ROLE_RECEIVER && m.type == 1 && parse_stamp(&m, 'b', &seq, &t)) {
        uint64_t now = now_us();
        hist_add(now - t);
        w.delivered++;
        w.last_delivery = now;
        if (++w.got[seq % RING] == w.need[seq % RING]) {
            w.completed++;
            w.last_progress = now;
        }
    } else if (c->role == ROLE_ECHO && m.type == 0 && parse_stamp(&m, 'e', &seq, &t)) {
        uint64_t now = now_us();
        hist_add(now - t);
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

static void on_readable(struct conn *c)
{
    ssize_t n = read(c->fd, c->rbuf + c->rlen, RBUF - c->rlen);
    if (n == 0) {
        conn_kill(c, "end of stream");
        return;
    }
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR)
            conn_kill(c, strerror(errno));
        return;
    }
    c->rlen += (uint32_t)n;
    if (c->state == ST_HANDSHAKE) {
        on_handshake(c);
        return;
    }
    st.last_in = now_us();
    parse_frames(c);
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
    /* The key is a constant: the server only checks its form (RFC 6455 4.1). */
    char req[320];
    int n = snprintf(req, sizeof req,
                     "GET /websocket?userId=%s%s%s HTTP/1.1\r\nHost: %s:%d\r\n"
                     "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     c->user, *opt.room ? "&rooms=" : "", opt.room, opt.host, opt.port);
    c->state = ST_HANDSHAKE;
    want(c, EPOLLIN, EPOLL_CTL_MOD);
    out_append(c, req, (size_t)n);
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
    src.sin_addr.s_addr = htonl(0x7f000002u + (uint32_t)(idx / PER_SOURCE));
    if (bind(c->fd, (struct sockaddr *)&src, sizeof src) < 0)
        die("bind: %s", strerror(errno));
    dst.sin_port = htons((uint16_t)opt.port);
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
                if (conns[i].state == ST_CONNECTING || conns[i].state == ST_HANDSHAKE)
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
    phase_server = opt.pid ? schedstat(opt.pid) : (struct sched){0, 0};
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
    struct sched s = opt.pid ? schedstat(opt.pid) : (struct sched){0, 0}, me = schedstat(0);
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
    fprintf(f, "\",\"loadgen_cpu_s\":%.3f", self_cpu());
}

static void print_latency(FILE *f)
{
    fprintf(f, ",\"lat_us\":{\"p50\":%" PRIu64 ",\"p90\":%" PRIu64 ",\"p99\":%" PRIu64
               ",\"max\":%" PRIu64 "}",
            hist_pct(50), hist_pct(90), hist_pct(99), hist.max);
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

/* Shared by fanout and echo: the measured phase, then its report. */
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
    printf(",\"server_cpu_s\":%.3f,\"server_cpu_s_per_M\":%.3f,\"server_rss_kib\":%ld}\n",
           cpu, per_m, server_rss_kib());
    fprintf(stderr, "%s %s %d: %.0f %s/s, p50 %" PRIu64 " us, p99 %" PRIu64 " us, "
                    "max %" PRIu64 " us, lost %lld, server %.2f CPU s/M, loadgen %.2f CPU s, "
                    "runqueue waits: server %.0f%%, loadgen %.0f%%; loadgen busy %.0f%%",
            opt.label, mode, opt.count, rate, unit, hist_pct(50), hist_pct(99), hist.max,
            lost, per_m, self_cpu(), phase.server_wait, phase.self_wait, phase.self_busy);
    say_machine(stderr);
    if (w.delivered)
        fprintf(stderr, "; %.2f TCP segments/delivery, %.0f B/segment", (double)phase.segs /
                (double)w.delivered, phase.segs ? (double)phase.bytes / (double)phase.segs : 0);
    if (phase.io.syscw && w.delivered && phase.io.wchar * 2 >= phase.bytes)
        fprintf(stderr, ", %.2f server writes/delivery, %.0f B/write",
                (double)phase.io.syscw / (double)w.delivered,
                (double)phase.io.wchar / (double)phase.io.syscw);
    fputc('\n', stderr);
}

static void run_fanout(void)
{
    connect_all(120);
    settle(300, 30000);
    for (int i = 0; i < opt.count; i++)
        w.receivers += conns[i].state == ST_OPEN;
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
                send_group();
                next_at += interval;
            }
            timeout = (int)((next_at - (double)now) / 1000) + 1;
        } else {
            while (w.sent - w.completed < (uint64_t)opt.window && send_group())
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
    phase_end();
    if (stalled)
        w.t_stop = now;
    report_traffic("fanout", cpu, "deliveries");
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
    fputs("usage: loadgen idle N | fanout R | echo C [options]\n"
          "  --host=ADDR        server IPv4 address (127.0.0.1)\n"
          "  --port=N           server port (8080)\n"
          "  --pid=N            server pid, for CPU and RSS from /proc\n"
          "  --seconds=S        measured phase (10)\n"
          "  --rate=M           fanout: M messages/s in all (else window mode)\n"
          "  --window=W         fanout: at most W messages in flight (8)\n"
          "  --room=NAME        fanout: everyone joins room NAME (a plain name) at connect,\n"
          "                     and the Group goes to it\n"
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
    else
        usage();
    opt.count = (int)num_arg(argv[2], "count", 1, MAX_CONNS);
    for (int i = 3; i < argc; i++) {
        char *a = argv[i], *v = strchr(a, '=');
        if (!v || strncmp(a, "--", 2))
            usage();
        *v++ = 0;
        if (!strcmp(a, "--host"))
            opt.host = v;
        else if (!strcmp(a, "--port"))
            opt.port = (int)num_arg(v, a, 1, 65535);
        else if (!strcmp(a, "--pid"))
            opt.pid = (int)num_arg(v, a, 0, 1e9);
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
        } else if (i < opt.count) {
            c->role = ROLE_RECEIVER;
            snprintf(c->user, sizeof c->user, "u%d", i % USERS);
        } else {
            c->role = ROLE_SENDER;
            snprintf(c->user, sizeof c->user, "s%d", i - opt.count);
        }
    }
    if (opt.mode == MODE_IDLE)
        run_idle();
    else if (opt.mode == MODE_FANOUT)
        run_fanout();
    else
        run_echo();
    fflush(stdout);
    return st.opened == nconns && st.closed == 0 ? 0 : 1;
}

/* log.c - pusher's log: one key=value line per event, on stderr.
 *
 * Lines are greppable and parseable without a library ("ts=... level=info
 * event=connect fd=7 user=alice"). Logging is per connection event, never per
 * message at the default level, so its cost does not grow with traffic.
 *
 * Events about one connection come at whatever rate clients make them, so a
 * flood of bad handshakes could fill a disk: they pass a token bucket, and
 * the next line that is written says how many were left out. Events about
 * the whole server (start, limits, shutdown) are always written. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "log.h"

#define LOG_BURST_SECONDS 10    /* a burst may spend this many seconds of the rate */

static enum log_level current_level = LOG_INFO;

static struct {
    double rate;                /* lines a second; 0: no limit */
    double tokens;              /* lines that may be written now */
    double last;                /* when tokens was refilled, in seconds */
    uint64_t suppressed;        /* lines left out since the last one written */
} bucket;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_set_level(enum log_level level)
{
    current_level = level;
}

void log_set_rate(double lines_per_second)
{
    bucket.rate = lines_per_second;
    bucket.tokens = lines_per_second * LOG_BURST_SECONDS;
}

bool log_enabled(enum log_level level)
{
    return level <= current_level;
}

const char *log_quote(const char *s, char *buf, size_t cap)
{
    size_t n = 0;
    for (; *s && n + 2 < cap; s++) {
        if (*s == '"' || *s == '\\')
            buf[n++] = '\\';
        buf[n++] = *s;
    }
    buf[n] = '\0';
    return buf;
}

static void write_line(enum log_level level, const char *body)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    /* One fprintf per line (with the body formatted first) keeps a line whole
     * even when stderr is unbuffered. */
    fprintf(stderr, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s %s\n",
            tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
            tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, level_names[level], body);
}

/* Says how many lines the bucket left out, before the next one written. */
static void report_suppressed(void)
{
    if (!bucket.suppressed)
        return;
    char body[64];
    snprintf(body, sizeof body, "event=log_suppressed count=%llu",
             (unsigned long long)bucket.suppressed);
    bucket.suppressed = 0;
    write_line(LOG_WARN, body);
}

static void emit(enum log_level level, const char *fmt, va_list ap)
{
    char body[1024];
    vsnprintf(body, sizeof body, fmt, ap);
    report_suppressed();
    write_line(level, body);
}

void log_event(enum log_level level, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;
    va_list ap;
    va_start(ap, fmt);
    emit(level, fmt, ap);
    va_end(ap);
}

/* Takes a token for one line, refilling at the rate since the last call. */
static bool bucket_take(void)
{
    if (bucket.rate <= 0)
        return true;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    double burst = bucket.rate * LOG_BURST_SECONDS;
    bucket.tokens += (now - bucket.last) * bucket.rate;
    if (bucket.tokens > burst)
        bucket.tokens = burst;
    bucket.last = now;
    if (bucket.tokens < 1) {
        bucket.suppressed++;
        return false;
    }
    bucket.tokens -= 1;
    return true;
}

void log_conn(enum log_level level, const char *fmt, ...)
{
    if (!log_enabled(level) || !bucket_take())
        return;
    va_list ap;
    va_start(ap, fmt);
    emit(level, fmt, ap);
    va_end(ap);
}

/* log.h - one key=value line per event on stderr, filtered by level. */
#ifndef LOG_H
#define LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log_set_level(enum log_level level);
/* Per-connection lines a second (bursts of ten seconds' worth); 0: no limit. */
void log_set_rate(double lines_per_second);
bool log_enabled(enum log_level level);

/* Copies s into buf (cap bytes) with '"' and '\\' escaped, so a value from
 * a client cannot forge key=value pairs inside a quoted field. */
const char *log_quote(const char *s, char *buf, size_t cap);

/* Writes "ts=... level=... " followed by the printf-formatted key=value
 * pairs: an event of the whole server, always written at its level. */
void log_event(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The same for an event of one connection, which any client can cause at
 * any rate: written only while the rate limit allows, and the lines left
 * out are counted in an event=log_suppressed line before the next one. */
void log_conn(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif

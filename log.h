/* log.h - one key=value line per event on stderr, filtered by level. */
#ifndef LOG_H
#define LOG_H

#include "config.h"

void log_set_level(enum log_level level);
bool log_enabled(enum log_level level);

/* Copies s into buf (cap bytes) with '"' and '\\' escaped, so a value from
 * a client cannot forge key=value pairs inside a quoted field. */
const char *log_quote(const char *s, char *buf, size_t cap);

/* Writes "ts=... level=... " followed by the printf-formatted key=value pairs. */
void log_event(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif

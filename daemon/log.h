/* One line per event on stderr, in logfmt: ts=… level=… device=… msg="…". */
#ifndef TPLINK_LOG_H
#define TPLINK_LOG_H

#include <stdbool.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* The threshold is process configuration, set once from the command line. */
void log_set_level(enum log_level level);
bool log_enabled(enum log_level level);
/* Parses "error", "warn", "info" or "debug"; returns false on anything else. */
bool log_parse_level(const char *text, enum log_level *out);

/* device may be NULL. The formatted message is quoted and escaped. */
void log_msg(enum log_level level, const char *device, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif

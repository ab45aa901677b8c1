/* util/log: structured logs, one JSON object per line on stderr.
 *
 * Every line carries "ts" (unix seconds, real time) and "level". Callers pass
 * an owned Jansson object (stolen) so logs never go through printf-style
 * formatting of user data. PII must be masked by the caller before logging. */
#ifndef AS_UTIL_LOG_H
#define AS_UTIL_LOG_H

#include <jansson.h>

typedef enum { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR } log_level;

/* Minimum level that is written; default LOG_INFO. */
void log_set_level(log_level lvl);
/* Writes `fields` (stolen, may be NULL) with ts/level/msg added. */
void log_emit(log_level lvl, const char *msg, json_t *fields);
/* Shorthand for a message with printf-style text (trusted format only). */
void log_msg(log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif

/* util/log: see log.h. One write(2) per line so concurrent threads never
 * interleave inside a line. */
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static log_level min_level = LOG_INFO;

static const char *level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(log_level lvl) { min_level = lvl; }

void log_emit(log_level lvl, const char *msg, json_t *fields) {
    if (lvl < min_level) {
        json_decref(fields);
        return;
    }
    json_t *line = json_object();
    if (line == NULL) {
        json_decref(fields);
        return;
    }
    json_object_set_new(line, "ts", json_integer((json_int_t)time(NULL)));
    json_object_set_new(line, "level", json_string(level_names[lvl]));
    if (msg != NULL) json_object_set_new(line, "msg", json_string(msg));
    if (fields != NULL) json_object_update(line, fields);
    json_decref(fields);
    char *text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(line);
    if (text == NULL) return;
    size_t len = strlen(text);
    text[len] = '\0';
    /* Append the newline in the same write so lines stay whole. */
    char *with_nl = realloc(text, len + 2);
    if (with_nl == NULL) {
        free(text);
        return;
    }
    with_nl[len] = '\n';
    with_nl[len + 1] = '\0';
    ssize_t w = write(STDERR_FILENO, with_nl, len + 1);
    (void)w; /* nothing sensible to do if stderr is gone */
    free(with_nl);
}

void log_msg(log_level lvl, const char *fmt, ...) {
    if (lvl < min_level) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    log_emit(lvl, buf, NULL);
}

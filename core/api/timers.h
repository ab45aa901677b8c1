/* api/timers.h: due-timers for SLA breaches, surveys and auto-close (timers.c). */
#ifndef AS_API_TIMERS_H
#define AS_API_TIMERS_H

#include <jansson.h>

#include "api/api.h"

typedef void (*timers_done_cb)(int status, void *ud);

/* Keeps DB_TIMERS in step with a case change (before may be NULL). */
void timers_update(store_batch *b, const json_t *before, const json_t *after);
/* Fires the case's timers already due (in a batch of its own, submitted
 * ahead), before a request changes it: a reply that comes after the
 * first-response target, but before the timer round reached the case, finds
 * the breach recorded instead of silently dropping the timer. */
void timers_catch_up(server *s, json_t *kase);
/* Fires every timer due by the clock's now; done runs once the round is
 * durable (at once with status 0 if a round is already running). */
void timers_run(server *s, timers_done_cb done, void *ud);
/* The real clock's tick; nothing with the manual clock. */
int timers_start(server *s);
void timers_stop(server *s);

#endif

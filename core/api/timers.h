/* api/timers.h: running the due-timers (timers.c). */
#ifndef AS_API_TIMERS_H
#define AS_API_TIMERS_H

#include "api/api.h"

typedef void (*timers_done_cb)(int status, void *ud);

/* Fires every timer due by the clock's now; done runs once the round is
 * durable (at once with status 0 if a round is already running). */
void timers_run(server *s, timers_done_cb done, void *ud);
/* The real clock's tick; nothing with the manual clock. */
int timers_start(server *s);
void timers_stop(server *s);

#endif

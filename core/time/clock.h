/* clock: the server's notion of "now" in unix seconds.
 *
 * Real clocks read the system time. A manual clock (--clock manual) starts at
 * the real time and only moves when told (POST /v1/admin/clock), so every timer
 * (SLA, survey, logistics warning) is testable without sleeping. */
#ifndef AS_TIME_CLOCK_H
#define AS_TIME_CLOCK_H

#include <stdint.h>

typedef struct {
    int manual;
    int64_t manual_now;
} as_clock;

void clock_init_real(as_clock *c);
void clock_init_manual(as_clock *c, int64_t start);
int64_t clock_now(const as_clock *c);
/* Manual clocks only; return 0, or -1 if the clock is real, the advance is
 * negative or the time set is before 1970. A test clock may be set backwards
 * (a suite pins it to a fixed date): timers simply are not due yet then. */
int clock_advance(as_clock *c, int64_t seconds);
int clock_set(as_clock *c, int64_t unix_seconds);

#endif

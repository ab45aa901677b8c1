/* clock: real (system time) and manual (test) clocks behind one "now".
 *
 * A manual clock is a test clock: a suite may pin it to a fixed date, earlier
 * than now. Timers that already fired stay fired; advance refuses a negative
 * step so "advance" always means forward. */
#include "time/clock.h"

#include <time.h>

void clock_init_real(as_clock *c) {
    c->manual = 0;
    c->manual_now = 0;
}

void clock_init_manual(as_clock *c, int64_t start) {
    c->manual = 1;
    c->manual_now = start;
}

int64_t clock_now(const as_clock *c) {
    if (c->manual) return c->manual_now;
    return (int64_t)time(NULL);
}

int clock_advance(as_clock *c, int64_t seconds) {
    if (!c->manual || seconds < 0) return -1;
    if (c->manual_now > INT64_MAX - seconds) return -1;
    c->manual_now += seconds;
    return 0;
}

int clock_set(as_clock *c, int64_t unix_seconds) {
    if (!c->manual || unix_seconds < 0) return -1;
    c->manual_now = unix_seconds;
    return 0;
}

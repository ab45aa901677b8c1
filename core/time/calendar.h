/* calendar: working time for SLAs (working days, hours, holidays, make-up days).
 *
 * Built from the policy's sla.calendar table (as JSON):
 *   {"workdays":[1,2,3,4,5],                 ISO weekday, 1 = Monday .. 7 = Sunday
 *    "hours":[["09:00","12:00"],["13:30","18:00"]],  local intervals, sorted, disjoint
 *    "utc_offset":28800,                     seconds east of UTC for local time
 *    "holidays":["2026-10-01", ...],         local dates that are not worked
 *    "workday_overrides":["2026-10-10", ...]} make-up days worked though not workdays
 * Missing fields default to Monday-Friday, 00:00-24:00, offset 0, none.
 * A calendar with no working time at all is rejected (nothing could ever be due). */
#ifndef AS_TIME_CALENDAR_H
#define AS_TIME_CALENDAR_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct calendar calendar;

/* Returns 0, or -1 with a message naming the bad field in err. */
int calendar_from_json(const json_t *spec, calendar **out, char *err, size_t errlen);
void calendar_free(calendar *c);

/* Working seconds in [from, to); 0 if to <= from. */
int64_t calendar_business_seconds(const calendar *c, int64_t from, int64_t to);
/* Answer of calendar_add_business_seconds when the calendar's working time
 * runs out first (a calendar of make-up days only) or the instant lies
 * beyond year ~33,000. */
#define CALENDAR_NEVER INT64_MAX

/* The instant at which `seconds` working seconds have passed after ts
 * (seconds <= 0 returns ts). */
int64_t calendar_add_business_seconds(const calendar *c, int64_t ts, int64_t seconds);
/* Seconds east of UTC of the calendar's local time. */
int64_t calendar_utc_offset(const calendar *c);
/* 1 if the local date of ts is a working day. */
int calendar_is_workday(const calendar *c, int64_t ts);

#endif

/* calendar: working time for SLAs, built from a policy's sla.calendar.
 *
 * Owns the parsed calendar: a weekday mask, the day's working intervals (in
 * seconds of the local day), the UTC offset, and the holiday and make-up day
 * lists as sorted arrays of local day numbers (days since 1970-01-01).
 *
 * Counting working days over a range never walks the range: whole weeks come
 * from the weekday mask, and the few days that differ from the mask (holidays
 * on workdays, make-up days off the mask) are kept in a sorted array of +1/-1
 * with prefix sums, so any span of days costs two binary searches. Adding
 * working time binary-searches the day on which it runs out the same way. */
#include "time/calendar.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY 86400
#define MAX_INTERVALS 48
#define MAX_DATES 100000
#define MAX_OFFSET (18 * 3600)
/* Instants are clamped to +-1e12 s (about year 33,000): far past any due date,
 * and day counts times DAY stay far from int64 overflow. */
#define TS_LIMIT INT64_C(1000000000000)

typedef struct {
    int32_t start, end; /* seconds of the local day, start < end <= DAY */
} interval;

struct calendar {
    unsigned mask; /* bit w set when ISO weekday w (1..7) is a workday */
    int n_hours;
    interval hours[MAX_INTERVALS];
    int64_t day_secs; /* working seconds of one worked day */
    int64_t offset;
    int64_t *holidays, *overrides; /* sorted, unique local day numbers */
    size_t n_holidays, n_overrides;
    int64_t *special; /* days whose worked status differs from the mask */
    int64_t *prefix;  /* prefix[i] = sum of the first i days' +1/-1 */
    size_t n_special;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...) {
    if (err == NULL || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t clamp_ts(int64_t ts) {
    return ts < -TS_LIMIT ? -TS_LIMIT : ts > TS_LIMIT ? TS_LIMIT : ts;
}

/* 1970-01-01 (day 0) was a Thursday, ISO weekday 4. */
static int iso_weekday(int64_t day) {
    int m = (int)(((day % 7) + 7) % 7);
    return (m + 3) % 7 + 1;
}

static int in_mask(const calendar *c, int64_t day) {
    return (c->mask >> iso_weekday(day)) & 1u;
}

/* Index of the first element >= x in a sorted array. */
static size_t lower_bound(const int64_t *a, size_t n, int64_t x) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid] < x) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

static int contains(const int64_t *a, size_t n, int64_t x) {
    size_t i = lower_bound(a, n, x);
    return i < n && a[i] == x;
}

static int day_worked(const calendar *c, int64_t day) {
    if (contains(c->overrides, c->n_overrides, day)) return 1;
    return in_mask(c, day) && !contains(c->holidays, c->n_holidays, day);
}

/* Worked days in [a, b). */
static int64_t worked_days(const calendar *c, int64_t a, int64_t b) {
    if (b <= a) return 0;
    int64_t weeks = (b - a) / 7;
    int64_t n = weeks * __builtin_popcount(c->mask);
    for (int64_t d = a + weeks * 7; d < b; d++) n += in_mask(c, d);
    size_t lo = lower_bound(c->special, c->n_special, a);
    size_t hi = lower_bound(c->special, c->n_special, b);
    return n + c->prefix[hi] - c->prefix[lo];
}

/* Working seconds of one worked day inside [a, b) (seconds of the day). */
static int64_t day_overlap(const calendar *c, int64_t a, int64_t b) {
    int64_t sum = 0;
    for (int i = 0; i < c->n_hours; i++) {
        int64_t s = c->hours[i].start > a ? c->hours[i].start : a;
        int64_t e = c->hours[i].end < b ? c->hours[i].end : b;
        if (e > s) sum += e - s;
    }
    return sum;
}

/* ---- parsing ---- */

/* "HH:MM" to seconds of the day; "24:00" only as an interval's end. */
static int parse_hhmm(const char *s, int is_end, int32_t *out) {
    if (s == NULL || strlen(s) != 5 || s[2] != ':') return -1;
    for (int i = 0; i < 5; i++)
        if (i != 2 && (s[i] < '0' || s[i] > '9')) return -1;
    int h = (s[0] - '0') * 10 + (s[1] - '0');
    int m = (s[3] - '0') * 10 + (s[4] - '0');
    if (m > 59 || h > 24 || (h == 24 && (m != 0 || !is_end))) return -1;
    *out = (int32_t)(h * 3600 + m * 60);
    return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil), so no timegm or locale is involved. */
static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int parse_date(const char *s, int64_t *day) {
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-') return -1;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9')) return -1;
    int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
    if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1]) return -1;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (m == 2 && d == 29 && !leap) return -1;
    *day = days_from_civil(y, m, d);
    return 0;
}

/* Lists may arrive as {} when an empty Lua table was converted to JSON. */
static int as_list(const json_t *v) {
    return json_is_array(v) || (json_is_object(v) && json_object_size(v) == 0);
}

static int parse_workdays(const json_t *v, calendar *c, char *err, size_t errlen) {
    if (v == NULL || json_is_null(v)) {
        c->mask = 0x3e; /* Monday..Friday */
        return 0;
    }
    if (!as_list(v)) {
        set_err(err, errlen, "workdays: expected an array of ISO weekdays 1..7");
        return -1;
    }
    c->mask = 0;
    for (size_t i = 0; json_is_array(v) && i < json_array_size(v); i++) {
        const json_t *w = json_array_get(v, i);
        json_int_t n = json_is_integer(w) ? json_integer_value(w) : 0;
        if (n < 1 || n > 7) {
            set_err(err, errlen, "workdays[%zu]: expected an ISO weekday 1 (Monday) .. 7 (Sunday)", i);
            return -1;
        }
        c->mask |= 1u << n;
    }
    return 0;
}

static int parse_interval(const json_t *v, size_t i, interval *out, char *err, size_t errlen) {
    const json_t *a = json_array_get(v, 0), *b = json_array_get(v, 1);
    if (!json_is_array(v) || json_array_size(v) != 2 || !json_is_string(a) || !json_is_string(b)) {
        set_err(err, errlen, "hours[%zu]: expected [\"HH:MM\", \"HH:MM\"]", i);
        return -1;
    }
    if (parse_hhmm(json_string_value(a), 0, &out->start) != 0) {
        set_err(err, errlen, "hours[%zu]: start \"%.16s\" is not a time HH:MM (00:00..23:59)", i,
                json_string_value(a));
        return -1;
    }
    if (parse_hhmm(json_string_value(b), 1, &out->end) != 0) {
        set_err(err, errlen, "hours[%zu]: end \"%.16s\" is not a time HH:MM (00:01..24:00)", i,
                json_string_value(b));
        return -1;
    }
    if (out->start >= out->end) {
        set_err(err, errlen, "hours[%zu]: start must be before end", i);
        return -1;
    }
    return 0;
}

static int parse_hours(const json_t *v, calendar *c, char *err, size_t errlen) {
    if (v == NULL || json_is_null(v)) {
        c->n_hours = 1;
        c->hours[0] = (interval){0, DAY};
        c->day_secs = DAY;
        return 0;
    }
    size_t n = json_is_array(v) ? json_array_size(v) : 0;
    if (!as_list(v) || n > MAX_INTERVALS) {
        set_err(err, errlen, "hours: expected an array of at most %d [\"HH:MM\", \"HH:MM\"] intervals",
                MAX_INTERVALS);
        return -1;
    }
    if (n == 0) {
        set_err(err, errlen, "hours: no working hours, nothing could ever be due");
        return -1;
    }
    c->day_secs = 0;
    for (size_t i = 0; i < n; i++) {
        if (parse_interval(json_array_get(v, i), i, &c->hours[i], err, errlen) != 0) return -1;
        if (i > 0 && c->hours[i].start < c->hours[i - 1].end) {
            set_err(err, errlen, "hours[%zu]: overlaps or comes before hours[%zu] (sorted, disjoint intervals)",
                    i, i - 1);
            return -1;
        }
        c->day_secs += c->hours[i].end - c->hours[i].start;
    }
    c->n_hours = (int)n;
    return 0;
}

static int parse_offset(const json_t *v, calendar *c, char *err, size_t errlen) {
    double x = 0;
    if (json_is_integer(v)) x = (double)json_integer_value(v);
    else if (json_is_real(v)) x = json_real_value(v);
    else if (v != NULL && !json_is_null(v)) x = MAX_OFFSET * 2.0;
    if (x < -MAX_OFFSET || x > MAX_OFFSET || x != (double)(int64_t)x) {
        set_err(err, errlen, "utc_offset: expected whole seconds east of UTC within +-%d", MAX_OFFSET);
        return -1;
    }
    c->offset = (int64_t)x;
    return 0;
}

static int cmp_day(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* A list of "YYYY-MM-DD" into a sorted array of unique day numbers. */
static int parse_dates(const json_t *v, const char *field, int64_t **out, size_t *n_out, char *err,
                       size_t errlen) {
    *out = NULL;
    *n_out = 0;
    if (v == NULL || json_is_null(v)) return 0;
    size_t n = json_is_array(v) ? json_array_size(v) : 0;
    if (!as_list(v) || n > MAX_DATES) {
        set_err(err, errlen, "%s: expected an array of at most %d \"YYYY-MM-DD\" dates", field, MAX_DATES);
        return -1;
    }
    if (n == 0) return 0;
    int64_t *days = malloc(n * sizeof *days);
    if (days == NULL) {
        set_err(err, errlen, "%s: out of memory", field);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(v, i));
        if (parse_date(s, &days[i]) != 0) {
            set_err(err, errlen, "%s[%zu]: \"%.16s\" is not a date YYYY-MM-DD", field, i, s ? s : "");
            free(days);
            return -1;
        }
    }
    qsort(days, n, sizeof *days, cmp_day);
    size_t u = 1;
    for (size_t i = 1; i < n; i++)
        if (days[i] != days[u - 1]) days[u++] = days[i];
    *out = days;
    *n_out = u;
    return 0;
}

/* The days where holidays and make-up days change what the mask says, with
 * prefix sums of their +1/-1 for range counts. */
static int build_special(calendar *c) {
    size_t cap = c->n_holidays + c->n_overrides;
    c->special = malloc((cap ? cap : 1) * sizeof *c->special);
    c->prefix = malloc((cap + 1) * sizeof *c->prefix);
    if (c->special == NULL || c->prefix == NULL) return -1;
    size_t i = 0, j = 0, n = 0;
    c->prefix[0] = 0;
    while (i < c->n_holidays || j < c->n_overrides) {
        int64_t d;
        if (j >= c->n_overrides || (i < c->n_holidays && c->holidays[i] < c->overrides[j])) d = c->holidays[i++];
        else if (i >= c->n_holidays || c->overrides[j] < c->holidays[i]) d = c->overrides[j++];
        else d = (i++, c->overrides[j++]);
        int delta = day_worked(c, d) - in_mask(c, d);
        if (delta == 0) continue;
        c->special[n] = d;
        c->prefix[n + 1] = c->prefix[n] + delta;
        n++;
    }
    c->n_special = n;
    return 0;
}

static int check_fields(const json_t *spec, char *err, size_t errlen) {
    static const char *const known[] = {"workdays", "hours", "utc_offset", "holidays", "workday_overrides", NULL};
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)spec, key, v) {
        int ok = 0;
        for (int i = 0; known[i] && !ok; i++) ok = strcmp(key, known[i]) == 0;
        if (!ok) {
            set_err(err, errlen, "%.40s: unknown calendar field (known: workdays, hours, utc_offset, "
                                 "holidays, workday_overrides)", key);
            return -1;
        }
    }
    return 0;
}

static int parse_all(const json_t *spec, calendar *c, char *err, size_t errlen) {
    if (spec != NULL && !json_is_null(spec) && !json_is_object(spec)) {
        set_err(err, errlen, "calendar: expected an object");
        return -1;
    }
    if (json_is_object(spec) && check_fields(spec, err, errlen) != 0) return -1;
    if (parse_workdays(json_object_get(spec, "workdays"), c, err, errlen) != 0 ||
        parse_hours(json_object_get(spec, "hours"), c, err, errlen) != 0 ||
        parse_offset(json_object_get(spec, "utc_offset"), c, err, errlen) != 0 ||
        parse_dates(json_object_get(spec, "holidays"), "holidays", &c->holidays, &c->n_holidays, err,
                    errlen) != 0 ||
        parse_dates(json_object_get(spec, "workday_overrides"), "workday_overrides", &c->overrides,
                    &c->n_overrides, err, errlen) != 0)
        return -1;
    if (c->mask == 0 && c->n_overrides == 0) {
        set_err(err, errlen, "workdays: no workdays and no workday_overrides, nothing could ever be due");
        return -1;
    }
    if (build_special(c) != 0) {
        set_err(err, errlen, "calendar: out of memory");
        return -1;
    }
    return 0;
}

int calendar_from_json(const json_t *spec, calendar **out, char *err, size_t errlen) {
    *out = NULL;
    calendar *c = calloc(1, sizeof *c);
    if (c == NULL) {
        set_err(err, errlen, "calendar: out of memory");
        return -1;
    }
    if (parse_all(spec, c, err, errlen) != 0) {
        calendar_free(c);
        return -1;
    }
    *out = c;
    return 0;
}

void calendar_free(calendar *c) {
    if (c == NULL) return;
    free(c->holidays);
    free(c->overrides);
    free(c->special);
    free(c->prefix);
    free(c);
}

/* ---- queries ---- */

int64_t calendar_business_seconds(const calendar *c, int64_t from, int64_t to) {
    from = clamp_ts(from);
    to = clamp_ts(to);
    if (to <= from) return 0;
    int64_t lf = from + c->offset, lt = to + c->offset;
    int64_t df = floor_div(lf, DAY), dt = floor_div(lt, DAY);
    int64_t sf = lf - df * DAY, st = lt - dt * DAY;
    if (df == dt) return day_worked(c, df) ? day_overlap(c, sf, st) : 0;
    int64_t sum = day_worked(c, df) ? day_overlap(c, sf, DAY) : 0;
    sum += worked_days(c, df + 1, dt) * c->day_secs;
    if (day_worked(c, dt)) sum += day_overlap(c, 0, st);
    return sum;
}

/* The last day that could be needed to find `days` worked days after `day`,
 * or -1 when the calendar runs out of working days (make-up days only). */
static int64_t search_bound(const calendar *c, int64_t day, int64_t days) {
    int64_t hi;
    if (c->mask != 0) /* every 7 days hold a workday, unless a holiday took it */
        hi = day + 7 * (days + (int64_t)c->n_holidays + 1);
    else
        hi = c->overrides[c->n_overrides - 1];
    int64_t limit = TS_LIMIT / DAY + 1;
    if (hi > limit) hi = limit;
    return hi > day ? hi : -1;
}

/* The instant `rem` working seconds into worked day `day` (0 < rem <= day_secs). */
static int64_t instant_in_day(const calendar *c, int64_t day, int64_t from_sod, int64_t rem) {
    for (int i = 0; i < c->n_hours; i++) {
        int64_t s = c->hours[i].start > from_sod ? c->hours[i].start : from_sod;
        int64_t avail = c->hours[i].end - s;
        if (avail <= 0) continue;
        if (rem <= avail) return day * DAY + s + rem - c->offset;
        rem -= avail;
    }
    return -1;
}

int64_t calendar_add_business_seconds(const calendar *c, int64_t ts, int64_t seconds) {
    if (seconds <= 0) return ts;
    if (ts > TS_LIMIT) return CALENDAR_NEVER; /* never answer before ts */
    ts = clamp_ts(ts);
    int64_t l = ts + c->offset;
    int64_t day = floor_div(l, DAY), sod = l - day * DAY;
    int64_t rem = seconds > 2 * TS_LIMIT ? 2 * TS_LIMIT : seconds;
    if (day_worked(c, day)) {
        int64_t left = day_overlap(c, sod, DAY);
        if (rem <= left) return instant_in_day(c, day, sod, rem);
        rem -= left;
    }
    int64_t need = (rem + c->day_secs - 1) / c->day_secs;
    int64_t hi = search_bound(c, day, need);
    if (hi < 0 || worked_days(c, day + 1, hi + 1) < need) return CALENDAR_NEVER;
    int64_t lo = day + 1;
    while (lo < hi) { /* first day by whose end `need` days are worked */
        int64_t mid = lo + (hi - lo) / 2;
        if (worked_days(c, day + 1, mid + 1) >= need) hi = mid;
        else lo = mid + 1;
    }
    rem -= worked_days(c, day + 1, lo) * c->day_secs;
    return instant_in_day(c, lo, 0, rem);
}

int calendar_is_workday(const calendar *c, int64_t ts) {
    return day_worked(c, floor_div(clamp_ts(ts) + c->offset, DAY));
}

int64_t calendar_utc_offset(const calendar *c) { return c->offset; }

/* time/calendar: working days, hours, holidays and make-up days of an SLA
 * calendar, and the errors a bad calendar gets. Instants are unix seconds;
 * comments give them as local time of the calendar (UTC+8 for SPEC_CAL). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "time/calendar.h"

#define HOUR 3600
#define DAY 86400

/* The SPEC's China office calendar: 09:00-12:00 and 13:30-18:00 at UTC+8,
 * National Day week off, Saturday 2026-10-10 a make-up working day. */
static const char SPEC_CAL[] =
    "{\"workdays\":[1,2,3,4,5], \"hours\":[[\"09:00\",\"12:00\"],[\"13:30\",\"18:00\"]],"
    " \"utc_offset\":28800,"
    " \"holidays\":[\"2026-10-01\",\"2026-10-02\",\"2026-10-03\",\"2026-10-04\",\"2026-10-05\","
    "  \"2026-10-06\",\"2026-10-07\"],"
    " \"workday_overrides\":[\"2026-10-10\"]}";

enum {
    FRI_0313_1700 = 1773392400,
    MON_0316_1000 = 1773626400,
    MON_0316_1100 = 1773630000,
    MON_0316_1430 = 1773642600,
    WED_0930_1700 = 1790758800,
    THU_1001_1200 = 1790827200,
    THU_1008_1000 = 1791424800,
    FRI_1009_1700 = 1791536400,
    SAT_1010_0000 = 1791561600,
    SAT_1010_1000 = 1791597600,
};

static calendar *load(const char *text) {
    json_error_t jerr;
    json_t *spec = text ? json_loads(text, 0, &jerr) : NULL;
    assert_true(text == NULL || spec != NULL);
    calendar *c = NULL;
    char err[256] = "";
    int rc = calendar_from_json(spec, &c, err, sizeof err);
    if (rc != 0) print_error("unexpected calendar error: %s\n", err);
    assert_int_equal(rc, 0);
    assert_non_null(c);
    json_decref(spec);
    return c;
}

static void expect_error(const char *text, const char *needle) {
    json_error_t jerr;
    json_t *spec = json_loads(text, JSON_DECODE_ANY, &jerr);
    assert_non_null(spec);
    calendar *c = (calendar *)1;
    char err[256] = "";
    assert_int_equal(calendar_from_json(spec, &c, err, sizeof err), -1);
    assert_null(c);
    if (strstr(err, needle) == NULL) print_error("error \"%s\" lacks \"%s\"\n", err, needle);
    assert_non_null(strstr(err, needle));
    json_decref(spec);
}

static void default_calendar_is_monday_to_friday_all_day_utc(void **state) {
    (void)state;
    calendar *c = load("{}");
    /* 1970-01-05 was a Monday; the week from it holds five whole days */
    int64_t mon = 4 * DAY;
    assert_int_equal(calendar_business_seconds(c, mon, mon + 7 * DAY), 5 * DAY);
    assert_true(calendar_is_workday(c, mon + 4 * DAY + DAY - 1));
    assert_false(calendar_is_workday(c, mon + 5 * DAY));
    /* the last second of Friday ends at Saturday 00:00; one more runs to Monday */
    int64_t fri_end = mon + 5 * DAY;
    assert_int_equal(calendar_add_business_seconds(c, fri_end - 1, 1), fri_end);
    assert_int_equal(calendar_add_business_seconds(c, fri_end - 1, 2), mon + 7 * DAY + 1);
    calendar_free(c);
}

static void null_spec_and_empty_lists_are_defaults(void **state) {
    (void)state;
    calendar *a = load(NULL);
    calendar *b = load("{\"holidays\":{}, \"workday_overrides\":{}, \"utc_offset\":null}");
    assert_int_equal(calendar_business_seconds(a, 0, 14 * DAY), 10 * DAY);
    assert_int_equal(calendar_business_seconds(b, 0, 14 * DAY), 10 * DAY);
    calendar_free(a);
    calendar_free(b);
}

static void friday_1700_plus_two_working_hours_is_monday_1000(void **state) {
    (void)state;
    calendar *c = load(SPEC_CAL);
    assert_int_equal(calendar_add_business_seconds(c, FRI_0313_1700, 2 * HOUR), MON_0316_1000);
    assert_int_equal(calendar_business_seconds(c, FRI_0313_1700, MON_0316_1000), 2 * HOUR);
    calendar_free(c);
}

static void lunch_break_is_not_working_time(void **state) {
    (void)state;
    calendar *c = load(SPEC_CAL);
    /* 11:00-14:30 holds 11:00-12:00 and 13:30-14:30 */
    assert_int_equal(calendar_business_seconds(c, MON_0316_1100, MON_0316_1430), 2 * HOUR);
    /* an hour from 11:00 ends at 12:00 itself; 90 minutes ends at 14:00 */
    assert_int_equal(calendar_add_business_seconds(c, MON_0316_1100, HOUR), MON_0316_1100 + HOUR);
    assert_int_equal(calendar_add_business_seconds(c, MON_0316_1100, 90 * 60), MON_0316_1430 - 30 * 60);
    /* from inside the break, time starts at 13:30 */
    assert_int_equal(calendar_add_business_seconds(c, MON_0316_1100 + 90 * 60, 60), MON_0316_1430 - HOUR + 60);
    calendar_free(c);
}

static void holidays_are_skipped(void **state) {
    (void)state;
    calendar *c = load(SPEC_CAL);
    assert_false(calendar_is_workday(c, THU_1001_1200));
    /* Wednesday 17:00 + 2 h: one hour on 30 Sep, then nothing until Thursday 8 Oct */
    assert_int_equal(calendar_add_business_seconds(c, WED_0930_1700, 2 * HOUR), THU_1008_1000);
    assert_int_equal(calendar_business_seconds(c, WED_0930_1700, THU_1008_1000), 2 * HOUR);
    calendar_free(c);
}

static void make_up_saturday_is_worked(void **state) {
    (void)state;
    calendar *c = load(SPEC_CAL);
    assert_true(calendar_is_workday(c, SAT_1010_1000));
    assert_false(calendar_is_workday(c, SAT_1010_1000 + DAY));
    assert_int_equal(calendar_business_seconds(c, SAT_1010_0000, SAT_1010_0000 + DAY), 27000);
    assert_int_equal(calendar_add_business_seconds(c, FRI_1009_1700, 2 * HOUR), SAT_1010_1000);
    calendar_free(c);
}

static void override_wins_over_a_holiday_on_the_same_date(void **state) {
    (void)state;
    calendar *c = load("{\"holidays\":[\"2026-10-01\"], \"workday_overrides\":[\"2026-10-01\"]}");
    assert_true(calendar_is_workday(c, THU_1001_1200));
    calendar_free(c);
}

/* The same sum, day by day with the SPEC_CAL intervals written out. */
static int64_t naive_business_seconds(const calendar *c, int64_t from, int64_t to) {
    static const int64_t iv[2][2] = {{9 * HOUR, 12 * HOUR}, {13 * HOUR + 1800, 18 * HOUR}};
    const int64_t off = 28800;
    int64_t sum = 0;
    for (int64_t d = (from + off) / DAY - 1; d <= (to + off) / DAY + 1; d++) {
        if (!calendar_is_workday(c, d * DAY - off + 12 * HOUR)) continue;
        for (int i = 0; i < 2; i++) {
            int64_t s = d * DAY + iv[i][0] - off, e = d * DAY + iv[i][1] - off;
            s = s > from ? s : from;
            e = e < to ? e : to;
            if (e > s) sum += e - s;
        }
    }
    return sum;
}

static uint64_t rng = 88172645463325252ULL;
static int64_t next_rand(int64_t n) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (int64_t)(rng % (uint64_t)n);
}

static void range_counts_match_a_day_by_day_sum(void **state) {
    (void)state;
    calendar *c = load(SPEC_CAL);
    for (int i = 0; i < 2000; i++) {
        int64_t from = 1767225600 + next_rand(400 * DAY); /* during 2026 */
        int64_t to = from + next_rand(i % 10 == 0 ? 60 * DAY : 4 * DAY);
        assert_int_equal(calendar_business_seconds(c, from, to), naive_business_seconds(c, from, to));
    }
    int64_t ten_years = 3653 * (int64_t)DAY;
    assert_int_equal(calendar_business_seconds(c, 1767225600, 1767225600 + ten_years),
                     naive_business_seconds(c, 1767225600, 1767225600 + ten_years));
    calendar_free(c);
}

static void adding_ends_at_the_first_instant_with_enough_working_time(void **state) {
    (void)state;
    calendar *c = load(SPEC_CAL);
    for (int i = 0; i < 2000; i++) {
        int64_t ts = 1767225600 + next_rand(400 * DAY);
        int64_t s = 1 + next_rand(i % 10 == 0 ? 400 * 27000 : 5 * 27000);
        int64_t r = calendar_add_business_seconds(c, ts, s);
        assert_int_equal(calendar_business_seconds(c, ts, r), s);
        assert_int_equal(calendar_business_seconds(c, ts, r - 1), s - 1);
    }
    assert_int_equal(calendar_add_business_seconds(c, FRI_0313_1700, 0), FRI_0313_1700);
    assert_int_equal(calendar_add_business_seconds(c, FRI_0313_1700, -5), FRI_0313_1700);
    calendar_free(c);
}

static void dates_before_1970_use_floor_days(void **state) {
    (void)state;
    calendar *c = load("{}");
    /* 1969-12-31 was a Wednesday, 1969-12-28 a Sunday */
    assert_true(calendar_is_workday(c, -1));
    assert_false(calendar_is_workday(c, -3 * DAY - 1));
    assert_int_equal(calendar_business_seconds(c, -7 * DAY, 0), 5 * DAY);
    calendar_free(c);
}

static void decades_of_working_time_are_fast_and_huge_values_saturate(void **state) {
    (void)state;
    calendar *c = load(SPEC_CAL);
    int64_t years = 50 * 365 * (int64_t)27000;
    int64_t r = calendar_add_business_seconds(c, 1767225600, years);
    assert_int_equal(calendar_business_seconds(c, 1767225600, r), years);
    assert_true(calendar_add_business_seconds(c, 1767225600, INT64_MAX) == CALENDAR_NEVER);
    assert_true(calendar_add_business_seconds(c, INT64_MAX - 5, 1) == CALENDAR_NEVER);
    assert_true(calendar_add_business_seconds(c, INT64_MIN, 1) > INT64_MIN);
    assert_true(calendar_business_seconds(c, INT64_MIN, INT64_MAX) > 0);
    calendar_free(c);
}

static void make_up_days_only_run_out(void **state) {
    (void)state;
    calendar *c = load("{\"workdays\":[], \"utc_offset\":28800, \"workday_overrides\":[\"2026-10-10\"]}");
    assert_int_equal(calendar_add_business_seconds(c, SAT_1010_0000 - DAY, DAY), SAT_1010_0000 + DAY);
    assert_true(calendar_add_business_seconds(c, SAT_1010_0000 - DAY, DAY + 1) == CALENDAR_NEVER);
    assert_true(calendar_add_business_seconds(c, SAT_1010_0000 + DAY, 1) == CALENDAR_NEVER);
    calendar_free(c);
}

static void bad_calendars_are_rejected_naming_the_field(void **state) {
    (void)state;
    expect_error("{\"hours\":[[\"09:00\",\"12:00\"],[\"11:00\",\"13:00\"]]}", "hours[1]");
    expect_error("{\"hours\":[[\"13:00\",\"18:00\"],[\"09:00\",\"12:00\"]]}", "hours[1]");
    expect_error("{\"hours\":[[\"09:00\",\"25:00\"]]}", "hours[0]: end \"25:00\"");
    expect_error("{\"hours\":[[\"24:00\",\"24:00\"]]}", "hours[0]: start");
    expect_error("{\"hours\":[[\"12:00\",\"09:00\"]]}", "hours[0]");
    expect_error("{\"hours\":[[\"9:00\",\"12:00\"]]}", "hours[0]");
    expect_error("{\"hours\":[\"09:00\"]}", "hours[0]");
    expect_error("{\"hours\":[]}", "hours");
    expect_error("{\"holidays\":[\"2026-02-30\"]}", "holidays[0]");
    expect_error("{\"holidays\":[\"2026-10-01\",\"2026/10/02\"]}", "holidays[1]");
    expect_error("{\"holidays\":[\"2025-02-29\"]}", "holidays[0]");
    expect_error("{\"workday_overrides\":[20261010]}", "workday_overrides[0]");
    expect_error("{\"workdays\":[1,8]}", "workdays[1]");
    expect_error("{\"workdays\":\"weekdays\"}", "workdays");
    expect_error("{\"workdays\":[]}", "workdays");
    expect_error("{\"utc_offset\":\"+08:00\"}", "utc_offset");
    expect_error("{\"utc_offset\":90000}", "utc_offset");
    expect_error("{\"utc_offset\":1e300}", "utc_offset");
    expect_error("{\"utc_offset\":3600.5}", "utc_offset");
    expect_error("{\"holiday\":[\"2026-10-01\"]}", "holiday");
    expect_error("[1,2,3]", "calendar");
}

static void leap_day_and_24_00_end_are_accepted(void **state) {
    (void)state;
    calendar *c = load("{\"hours\":[[\"20:00\",\"24:00\"]], \"holidays\":[\"2028-02-29\"], \"utc_offset\":28800.0}");
    assert_int_equal(calendar_business_seconds(c, SAT_1010_0000 - DAY, SAT_1010_0000), 4 * HOUR);
    calendar_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(default_calendar_is_monday_to_friday_all_day_utc),
        cmocka_unit_test(null_spec_and_empty_lists_are_defaults),
        cmocka_unit_test(friday_1700_plus_two_working_hours_is_monday_1000),
        cmocka_unit_test(lunch_break_is_not_working_time),
        cmocka_unit_test(holidays_are_skipped),
        cmocka_unit_test(make_up_saturday_is_worked),
        cmocka_unit_test(override_wins_over_a_holiday_on_the_same_date),
        cmocka_unit_test(range_counts_match_a_day_by_day_sum),
        cmocka_unit_test(adding_ends_at_the_first_instant_with_enough_working_time),
        cmocka_unit_test(dates_before_1970_use_floor_days),
        cmocka_unit_test(decades_of_working_time_are_fast_and_huge_values_saturate),
        cmocka_unit_test(make_up_days_only_run_out),
        cmocka_unit_test(bad_calendars_are_rejected_naming_the_field),
        cmocka_unit_test(leap_day_and_24_00_end_are_accepted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

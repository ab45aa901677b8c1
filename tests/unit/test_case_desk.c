/* The pieces of an agent's desk that need no store: contact hashing (the
 * lookup and serial-returner keys), the SLA due a case works toward, the
 * timers of warnings and the escalation ladder, the stored shapes of SLA
 * warnings and relationship surveys, and the address mask. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "case/codec.h"
#include "case/domain.h"
#include "case/indexes.h"

static void same_hash(const char *kind, const char *a, const char *b) {
    char x[65], y[65];
    assert_int_equal(contact_hash(kind, a, x), 0);
    assert_int_equal(contact_hash(kind, b, y), 0);
    assert_string_equal(x, y);
}

static void other_hash(const char *kind, const char *a, const char *b) {
    char x[65], y[65];
    assert_int_equal(contact_hash(kind, a, x), 0);
    assert_int_equal(contact_hash(kind, b, y), 0);
    assert_string_not_equal(x, y);
}

static void contacts_compare_normalised_and_hashed(void **state) {
    (void)state;
    same_hash("phone", "138-1234 5678", "13812345678");
    other_hash("phone", "+86 13812345678", "13812345678"); /* a country code is digits like the others */
    same_hash("email", "  Alice@Example.COM ", "alice@example.com");
    same_hash("address", " 北京市 朝阳区  Jianguo Rd 88 ", "北京市 朝阳区 jianguo rd 88");
    other_hash("address", "北京市朝阳区", "北京市 朝阳区");
    same_hash("tracking", "sf 1001-2002", "SF10012002");
    other_hash("phone", "13812345678", "13812345679");
    char h[65];
    assert_int_equal(contact_hash("phone", "13812345678", h), 0);
    assert_int_equal(strlen(h), 64);
    assert_null(strstr(h, "1381234"));
    assert_int_equal(contact_hash("phone", "no digits", h), -1);
    assert_int_equal(contact_hash("email", "   ", h), -1);
    assert_int_equal(contact_hash("fax", "1", h), -1);
    /* the kind is part of the hash: an email and a tracking number never meet */
    char e[65], t[65];
    assert_int_equal(contact_hash("email", "ab12", e), 0);
    assert_int_equal(contact_hash("tracking", "ab12", t), 0);
    assert_string_not_equal(e, t);
}

static as_case active_case(void) {
    as_case c;
    case_init(&c);
    c.seq = 1;
    case_id_format(1, c.case_id);
    c.status = ST_OPEN;
    c.created_at = 1000;
    c.sla.first_response_due = 8200;
    c.sla.resolution_due = 5000;
    return c;
}

static void the_due_a_case_works_toward(void **state) {
    (void)state;
    as_case c = active_case();
    assert_int_equal(case_sla_next_due(&c), 5000); /* the earlier of both while both run */
    c.sla.resolution_due = 90000;
    assert_int_equal(case_sla_next_due(&c), 8200);
    c.first_response_at = 2000; /* replied: the resolution now */
    assert_int_equal(case_sla_next_due(&c), 90000);
    c.status = ST_RESOLVED;
    assert_true(case_sla_next_due(&c) == AS_NONE);
    assert_false(case_in_backlog(&c));
    c.status = ST_IN_PROGRESS;
    AS_IDSET(c.queue, "after_sales");
    assert_true(case_in_backlog(&c));
    AS_IDSET(c.assignee, "a1");
    assert_false(case_in_backlog(&c));
}

static int count_kind(const case_timer *t, int n, timer_kind k) {
    int found = 0;
    for (int i = 0; i < n; i++) found += t[i].kind == k;
    return found;
}

static void warnings_and_the_ladder_arm_timers(void **state) {
    (void)state;
    as_case c = active_case();
    c.sla.warnings[0] = (as_sla_warning){SLA_RESOLUTION, 75, 4000, AS_NONE};
    c.sla.warnings[1] = (as_sla_warning){SLA_RESOLUTION, 90, 4600, AS_NONE};
    c.sla.warnings[2] = (as_sla_warning){SLA_FIRST_RESPONSE, 75, 6400, AS_NONE};
    c.sla.nwarnings = 3;
    case_timer t[CASE_TIMERS_MAX];
    int n = case_timers(&c, t);
    assert_int_equal(count_kind(t, n, TIMER_WARN_RESOLUTION), 2); /* every warning not sent has its timer */
    assert_int_equal(count_kind(t, n, TIMER_WARN_FIRST_RESPONSE), 1);
    assert_true(case_wants_timer(&c, TIMER_WARN_RESOLUTION, 4600));
    assert_false(case_wants_timer(&c, TIMER_WARN_RESOLUTION, 4601));
    c.sla.warnings[0].sent_at = 4000;
    assert_int_equal(count_kind(t, case_timers(&c, t), TIMER_WARN_RESOLUTION), 1);
    c.first_response_at = 3000; /* the first response came: its warnings go with its breach */
    n = case_timers(&c, t);
    assert_int_equal(count_kind(t, n, TIMER_WARN_FIRST_RESPONSE), 0);
    assert_int_equal(count_kind(t, n, TIMER_FIRST_RESPONSE), 0);
    c.sla.breached = 1u << SLA_RESOLUTION;
    c.sla.escalation_level = 1;
    c.sla.next_escalation_at = 20000;
    n = case_timers(&c, t);
    assert_int_equal(count_kind(t, n, TIMER_WARN_RESOLUTION), 0);
    assert_int_equal(case_timer_due(&c, TIMER_ESCALATION), 20000);
    c.status = ST_RESOLVED;
    assert_int_equal(case_timer_due(&c, TIMER_ESCALATION), -1);
    assert_string_equal(timer_kind_name(TIMER_ESCALATION), "escalation");
    assert_int_equal(timer_kind_from_name("warn_resolution"), TIMER_WARN_RESOLUTION);
}

static void sla_warnings_and_escalation_round_trip(void **state) {
    (void)state;
    as_case c = active_case();
    c.sla.warnings[0] = (as_sla_warning){SLA_RESOLUTION, 75, 4000, 4001};
    c.sla.nwarnings = 1;
    c.sla.escalation_level = 2;
    c.sla.escalated_at = 5001;
    c.sla.next_escalation_at = 77000;
    size_t len;
    char *text = case_to_json(&c, &len);
    assert_non_null(strstr(text, "\"warnings\":[{\"kind\":\"resolution\",\"percent\":75,\"due_at\":4000,\"sent_at\":4001}]"));
    assert_non_null(strstr(text, "\"escalation\":{\"level\":2,\"at\":5001,\"next_at\":77000}"));
    as_case back;
    char err[128];
    assert_int_equal(case_from_json(&back, text, len, err, sizeof err), 0);
    assert_int_equal(back.sla.nwarnings, 1);
    assert_int_equal(back.sla.warnings[0].sent_at, 4001);
    assert_int_equal(back.sla.escalation_level, 2);
    assert_int_equal(back.sla.next_escalation_at, 77000);
    case_free(&back);
    free(text);
    /* a case stored before warnings existed reads with none */
    const char *old = "{\"case_id\":\"C0000000001\",\"type\":\"return\",\"status\":\"open\",\"stage\":\"new\","
                      "\"channel\":\"app\",\"reason\":\"quality\",\"sla\":{\"breached\":[]}}";
    assert_int_equal(case_from_json(&back, old, strlen(old), err, sizeof err), 0);
    assert_int_equal(back.sla.nwarnings, 0);
    assert_int_equal(back.sla.escalation_level, 0);
    assert_true(back.sla.next_escalation_at == AS_NONE);
    case_free(&back);
}

static void relationship_surveys_round_trip(void **state) {
    (void)state;
    as_nps n;
    nps_init(&n);
    AS_IDSET(n.buyer_id, "b1");
    AS_IDSET(n.merchant_id, "m1");
    n.due_at = 100;
    n.sent_at = 100;
    n.rounds = 1;
    n.channel = CH_APP;
    n.nps = 9;
    n.answered_at = 200;
    n.comment = strdup("fine");
    n.questions_json = strdup("[{\"id\":\"nps\"}]");
    assert_false(nps_planned(&n));
    assert_false(nps_open(&n));
    size_t len;
    char *text = nps_to_json(&n, &len);
    as_nps back;
    char err[128];
    assert_int_equal(nps_from_json(&back, text, len, err, sizeof err), 0);
    assert_string_equal(back.merchant_id, "m1");
    assert_int_equal(back.nps, 9);
    assert_int_equal(back.channel, CH_APP);
    assert_string_equal(back.comment, "fine");
    assert_string_equal(back.questions_json, "[{\"id\":\"nps\"}]");
    assert_int_equal(nps_timer_due(&back), -1);
    back.sent_at = back.answered_at = AS_NONE;
    assert_true(nps_planned(&back));
    assert_int_equal(nps_timer_due(&back), 100);
    nps_free(&back);
    nps_free(&n);
    free(text);
}

static void addresses_are_masked(void **state) {
    (void)state;
    char out[64];
    mask_address("北京市朝阳区建国路 88 号", out, sizeof out);
    assert_string_equal(out, "北京市***");
    mask_address("Main St", out, sizeof out);
    assert_string_equal(out, "Mai***");
    mask_address("上海", out, sizeof out);
    assert_string_equal(out, "***");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(contacts_compare_normalised_and_hashed),
        cmocka_unit_test(the_due_a_case_works_toward),
        cmocka_unit_test(warnings_and_the_ladder_arm_timers),
        cmocka_unit_test(sla_warnings_and_escalation_round_trip),
        cmocka_unit_test(relationship_surveys_round_trip),
        cmocka_unit_test(addresses_are_masked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

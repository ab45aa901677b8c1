/* The case lifecycle table (SPEC section 3), read through case_machine_find. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "case/machine.h"
#include "util/jsonw.h"

/* The table is read by enums; the tests speak the API's names. */
static const case_transition *find(case_type t, const char *status, const char *stage, const char *action,
                                   const char *variant) {
    int st = case_status_from_name(status), sg = case_stage_from_name(stage), a = case_action_from_name(action);
    assert_true(st >= 0 && sg >= 0 && a >= 0);
    case_variant v = variant == NULL ? VAR_NONE : !strcmp(variant, "pass") ? VAR_PASS : VAR_FAIL;
    return case_machine_find(t, (case_status)st, (case_stage)sg, (case_action)a, v);
}

static void initial(case_type t, as_outcome o, const char **st, const char **sg) {
    case_status status;
    case_stage stage;
    case_initial_state(t, o, &status, &stage);
    *st = case_status_name(status);
    *sg = case_stage_name(stage);
}

/* The allowed list as JSON text. */
static char *allowed(case_type t, const char *status, const char *stage) {
    textbuf tb = {0};
    jsonw w;
    jsonw_init(&w, &tb);
    case_machine_allowed(t, (case_status)case_status_from_name(status), (case_stage)case_stage_from_name(stage),
                         jsonw_emitter(&w));
    return tb_take(&tb, NULL);
}

/* Walks action by action and checks the state after each step. */
static void expect_step(case_type t, const char **status, const char **stage, const char *action,
                        const char *variant, const char *want_status, const char *want_stage) {
    const case_transition *row = find(t, *status, *stage, action, variant);
    assert_non_null(row);
    if (row->to_status >= 0) *status = case_status_name((case_status)row->to_status);
    if (row->to_stage >= 0) *stage = case_stage_name((case_stage)row->to_stage);
    assert_string_equal(*status, want_status);
    assert_string_equal(*stage, want_stage);
}

static void return_lifecycle_ends_refunded(void **state) {
    (void)state;
    const char *st, *sg;
    initial(CASE_RETURN, OUT_APPROVE, &st, &sg);
    assert_string_equal(st, "awaiting_customer");
    assert_string_equal(sg, "awaiting_shipment");
    expect_step(CASE_RETURN, &st, &sg, "ship_back", NULL, "in_progress", "in_transit");
    expect_step(CASE_RETURN, &st, &sg, "receive", NULL, "in_progress", "received");
    expect_step(CASE_RETURN, &st, &sg, "inspect", "pass", "in_progress", "awaiting_refund");
    expect_step(CASE_RETURN, &st, &sg, "refund", NULL, "resolved", "refunded");
    expect_step(CASE_RETURN, &st, &sg, "close", NULL, "closed", "closed");
}

static void failed_inspection_rejects(void **state) {
    (void)state;
    const char *st = "in_progress", *sg = "received";
    expect_step(CASE_EXCHANGE, &st, &sg, "inspect", "fail", "rejected", "inspection_failed");
}

static void exchange_and_repair_end_with_shipment_to_customer(void **state) {
    (void)state;
    const char *st = "in_progress", *sg = "received";
    expect_step(CASE_EXCHANGE, &st, &sg, "inspect", "pass", "in_progress", "awaiting_replacement");
    expect_step(CASE_EXCHANGE, &st, &sg, "ship_to_customer", NULL, "resolved", "replaced");
    st = "in_progress";
    sg = "in_transit";
    expect_step(CASE_REPAIR, &st, &sg, "receive", NULL, "in_progress", "repairing");
    expect_step(CASE_REPAIR, &st, &sg, "repair_done", NULL, "in_progress", "repaired");
    expect_step(CASE_REPAIR, &st, &sg, "ship_to_customer", NULL, "resolved", "repaired");
    /* a repair may be received straight after its approval (handed in) */
    st = "awaiting_customer";
    sg = "awaiting_shipment";
    expect_step(CASE_REPAIR, &st, &sg, "receive", NULL, "in_progress", "repairing");
    assert_null(find(CASE_RETURN, "awaiting_customer", "awaiting_shipment", "receive", NULL));
}

/* An appeal re-enters the flow where the rejection stopped it, or ends it. */
static void appeals_are_settled_like_reviews(void **state) {
    (void)state;
    const char *st, *sg;
    initial(CASE_RETURN, OUT_REJECT, &st, &sg);
    expect_step(CASE_RETURN, &st, &sg, "reopen", NULL, "in_progress", "appealed");
    expect_step(CASE_RETURN, &st, &sg, "approve", NULL, "awaiting_customer", "awaiting_shipment");
    expect_step(CASE_RETURN, &st, &sg, "ship_back", NULL, "in_progress", "in_transit");

    initial(CASE_REFUND_ONLY, OUT_REJECT, &st, &sg);
    expect_step(CASE_REFUND_ONLY, &st, &sg, "reopen", NULL, "in_progress", "appealed");
    expect_step(CASE_REFUND_ONLY, &st, &sg, "reject", NULL, "rejected", "appeal_rejected");
    expect_step(CASE_REFUND_ONLY, &st, &sg, "reopen", NULL, "in_progress", "appealed");
    expect_step(CASE_REFUND_ONLY, &st, &sg, "approve", NULL, "in_progress", "awaiting_refund");

    /* a failed inspection: the goods are already in, so the appeal is a new inspection */
    st = "rejected";
    sg = "inspection_failed";
    expect_step(CASE_EXCHANGE, &st, &sg, "reopen", NULL, "in_progress", "inspection_appealed");
    assert_null(find(CASE_EXCHANGE, st, sg, "approve", NULL));
    expect_step(CASE_EXCHANGE, &st, &sg, "inspect", "pass", "in_progress", "awaiting_replacement");
    st = "in_progress";
    sg = "inspection_appealed";
    expect_step(CASE_RETURN, &st, &sg, "reject", NULL, "rejected", "appeal_rejected");

    assert_true(case_stage_is_appeal(STG_APPEALED) && case_stage_is_appeal(STG_INSPECTION_APPEALED));
    assert_false(case_stage_is_appeal(STG_REOPENED) || case_stage_is_appeal(STG_NEW));

    /* a resolved case reopens: nothing to approve */
    st = "resolved";
    sg = "refunded";
    expect_step(CASE_RETURN, &st, &sg, "reopen", NULL, "in_progress", "reopened");
    assert_null(find(CASE_RETURN, st, sg, "approve", NULL));
    assert_null(find(CASE_RETURN, st, sg, "reject", NULL));
}

static void money_types_start_awaiting_refund(void **state) {
    (void)state;
    const char *st, *sg;
    initial(CASE_REFUND_ONLY, OUT_APPROVE, &st, &sg);
    assert_string_equal(st, "in_progress");
    assert_string_equal(sg, "awaiting_refund");
    initial(CASE_PRICE_PROTECTION, OUT_REVIEW, &st, &sg);
    assert_string_equal(st, "open");
    assert_string_equal(sg, "manual_review");
    initial(CASE_REPAIR, OUT_REJECT, &st, &sg);
    assert_string_equal(st, "rejected");
    /* no outcome (a policy that failed) waits for a person */
    initial(CASE_RETURN, OUT_NONE, &st, &sg);
    assert_string_equal(sg, "manual_review");
}

static void conversations_start_new_and_resolve(void **state) {
    (void)state;
    const char *st, *sg;
    initial(CASE_COMPLAINT, OUT_NONE, &st, &sg);
    assert_string_equal(st, "open");
    assert_string_equal(sg, "new");
    expect_step(CASE_COMPLAINT, &st, &sg, "resolve", NULL, "resolved", "resolved");
    expect_step(CASE_COMPLAINT, &st, &sg, "reopen", NULL, "in_progress", "reopened");
}

static void wrong_type_or_state_is_refused(void **state) {
    (void)state;
    assert_null(find(CASE_CONSULTATION, "open", "new", "ship_back", NULL));
    assert_null(find(CASE_RETURN, "in_progress", "received", "refund", NULL));
    assert_null(find(CASE_RETURN, "in_progress", "received", "inspect", NULL));
    assert_null(find(CASE_RETURN, "closed", "closed", "note", NULL));
    assert_null(find(CASE_RETURN, "resolved", "refunded", "escalate", NULL));
    assert_non_null(find(CASE_RETURN, "resolved", "refunded", "reply", NULL));
}

static void allowed_lists_sorted_actions(void **state) {
    (void)state;
    char *a = allowed(CASE_RETURN, "open", "manual_review");
    assert_string_equal(a, "[\"approve\",\"assign\",\"cancel\",\"escalate\",\"note\",\"reject\",\"reply\",\"resolve\"]");
    free(a);
    char *closed = allowed(CASE_RETURN, "closed", "closed");
    assert_string_equal(closed, "[]");
    free(closed);
}

static void vocabularies(void **state) {
    (void)state;
    assert_int_equal(case_type_from_name("price_protection"), CASE_PRICE_PROTECTION);
    assert_int_equal(case_type_from_name("refund"), -1);
    assert_true(case_reason_merchant_fault(RS_DAMAGED_IN_TRANSIT));
    assert_false(case_reason_merchant_fault(RS_NO_REASON));
    assert_int_equal(case_channel_from_name("social"), CH_SOCIAL);
    assert_int_equal(case_channel_from_name("fax"), -1);
    assert_int_equal(case_action_from_name("repair_done"), ACT_REPAIR_DONE);
    assert_int_equal(case_action_from_name("teleport"), -1);
    for (int s = 0; s < STG__COUNT; s++) /* every stage has a name that reads back */
        assert_int_equal(case_stage_from_name(case_stage_name((case_stage)s)), s);
    assert_string_equal(case_type_names(), "return, exchange, refund_only, repair, price_protection, complaint, "
                                           "consultation, logistics");
    assert_true(case_type_needs_decision(CASE_REPAIR));
    assert_false(case_type_needs_decision(CASE_LOGISTICS));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(return_lifecycle_ends_refunded),
        cmocka_unit_test(failed_inspection_rejects),
        cmocka_unit_test(exchange_and_repair_end_with_shipment_to_customer),
        cmocka_unit_test(appeals_are_settled_like_reviews),
        cmocka_unit_test(money_types_start_awaiting_refund),
        cmocka_unit_test(conversations_start_new_and_resolve),
        cmocka_unit_test(wrong_type_or_state_is_refused),
        cmocka_unit_test(allowed_lists_sorted_actions),
        cmocka_unit_test(vocabularies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

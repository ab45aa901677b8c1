/* The case lifecycle table (SPEC section 3), read through case_machine_find. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "case/case.h"

/* Walks action by action and checks the state after each step. */
static void expect_step(case_type t, const char **status, const char **stage, const char *action,
                        const char *variant, const char *want_status, const char *want_stage) {
    const case_transition *row = case_machine_find(t, *status, *stage, action, variant);
    assert_non_null(row);
    if (row->to_status) *status = row->to_status;
    if (row->to_stage) *stage = row->to_stage;
    assert_string_equal(*status, want_status);
    assert_string_equal(*stage, want_stage);
}

static void return_lifecycle_ends_refunded(void **state) {
    (void)state;
    const char *st, *sg;
    assert_int_equal(case_initial_state(CASE_RETURN, "approve", &st, &sg), 0);
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
    assert_null(case_machine_find(CASE_RETURN, "awaiting_customer", "awaiting_shipment", "receive", NULL));
}

/* An appeal re-enters the flow where the rejection stopped it, or ends it. */
static void appeals_are_settled_like_reviews(void **state) {
    (void)state;
    const char *st, *sg;
    assert_int_equal(case_initial_state(CASE_RETURN, "reject", &st, &sg), 0);
    expect_step(CASE_RETURN, &st, &sg, "reopen", NULL, "in_progress", "appealed");
    expect_step(CASE_RETURN, &st, &sg, "approve", NULL, "awaiting_customer", "awaiting_shipment");
    expect_step(CASE_RETURN, &st, &sg, "ship_back", NULL, "in_progress", "in_transit");

    assert_int_equal(case_initial_state(CASE_REFUND_ONLY, "reject", &st, &sg), 0);
    expect_step(CASE_REFUND_ONLY, &st, &sg, "reopen", NULL, "in_progress", "appealed");
    expect_step(CASE_REFUND_ONLY, &st, &sg, "reject", NULL, "rejected", "appeal_rejected");
    expect_step(CASE_REFUND_ONLY, &st, &sg, "reopen", NULL, "in_progress", "appealed");
    expect_step(CASE_REFUND_ONLY, &st, &sg, "approve", NULL, "in_progress", "awaiting_refund");

    /* a failed inspection: the goods are already in, so the appeal is a new inspection */
    st = "rejected";
    sg = "inspection_failed";
    expect_step(CASE_EXCHANGE, &st, &sg, "reopen", NULL, "in_progress", "inspection_appealed");
    assert_null(case_machine_find(CASE_EXCHANGE, st, sg, "approve", NULL));
    expect_step(CASE_EXCHANGE, &st, &sg, "inspect", "pass", "in_progress", "awaiting_replacement");
    st = "in_progress";
    sg = "inspection_appealed";
    expect_step(CASE_RETURN, &st, &sg, "reject", NULL, "rejected", "appeal_rejected");

    assert_true(case_stage_is_appeal("appealed") && case_stage_is_appeal("inspection_appealed"));
    assert_false(case_stage_is_appeal("reopened") || case_stage_is_appeal(NULL));

    /* a resolved case reopens: nothing to approve */
    st = "resolved";
    sg = "refunded";
    expect_step(CASE_RETURN, &st, &sg, "reopen", NULL, "in_progress", "reopened");
    assert_null(case_machine_find(CASE_RETURN, st, sg, "approve", NULL));
    assert_null(case_machine_find(CASE_RETURN, st, sg, "reject", NULL));
}

static void money_types_start_awaiting_refund(void **state) {
    (void)state;
    const char *st, *sg;
    assert_int_equal(case_initial_state(CASE_REFUND_ONLY, "approve", &st, &sg), 0);
    assert_string_equal(st, "in_progress");
    assert_string_equal(sg, "awaiting_refund");
    assert_int_equal(case_initial_state(CASE_PRICE_PROTECTION, "review", &st, &sg), 0);
    assert_string_equal(st, "open");
    assert_string_equal(sg, "manual_review");
    assert_int_equal(case_initial_state(CASE_REPAIR, "reject", &st, &sg), 0);
    assert_string_equal(st, "rejected");
    assert_int_equal(case_initial_state(CASE_RETURN, "maybe", &st, &sg), -1);
}

static void conversations_start_new_and_resolve(void **state) {
    (void)state;
    const char *st, *sg;
    assert_int_equal(case_initial_state(CASE_COMPLAINT, NULL, &st, &sg), 0);
    assert_string_equal(st, "open");
    assert_string_equal(sg, "new");
    expect_step(CASE_COMPLAINT, &st, &sg, "resolve", NULL, "resolved", "resolved");
    expect_step(CASE_COMPLAINT, &st, &sg, "reopen", NULL, "in_progress", "reopened");
}

static void wrong_type_or_state_is_refused(void **state) {
    (void)state;
    assert_null(case_machine_find(CASE_CONSULTATION, "open", "new", "ship_back", NULL));
    assert_null(case_machine_find(CASE_RETURN, "in_progress", "received", "refund", NULL));
    assert_null(case_machine_find(CASE_RETURN, "in_progress", "received", "inspect", NULL));
    assert_null(case_machine_find(CASE_RETURN, "closed", "closed", "note", NULL));
    assert_null(case_machine_find(CASE_RETURN, "resolved", "refunded", "escalate", NULL));
    assert_non_null(case_machine_find(CASE_RETURN, "resolved", "refunded", "reply", NULL));
}

static void allowed_lists_sorted_actions(void **state) {
    (void)state;
    json_t *a = case_machine_allowed(CASE_RETURN, "open", "manual_review");
    const char *want[] = {"approve", "assign", "escalate", "note", "reject", "reply", "resolve"};
    assert_int_equal(json_array_size(a), 7);
    for (size_t i = 0; i < 7; i++) assert_string_equal(json_string_value(json_array_get(a, i)), want[i]);
    json_decref(a);
    json_t *closed = case_machine_allowed(CASE_RETURN, "closed", "closed");
    assert_int_equal(json_array_size(closed), 0);
    json_decref(closed);
}

static void vocabularies(void **state) {
    (void)state;
    assert_int_equal(case_type_from_name("price_protection"), CASE_PRICE_PROTECTION);
    assert_int_equal(case_type_from_name("refund"), -1);
    assert_true(case_reason_merchant_fault("damaged_in_transit"));
    assert_false(case_reason_merchant_fault("no_reason"));
    assert_true(case_channel_valid("social"));
    assert_false(case_channel_valid("fax"));
    assert_true(case_action_known("repair_done"));
    assert_false(case_action_known("teleport"));
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

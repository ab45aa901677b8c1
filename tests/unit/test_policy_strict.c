/* Strict loading (policy/strict.c, fileset.c): the mistakes issue 12 lists
 * are refused with a message naming the file, never loaded silently; lib/
 * helpers, constants, default helpers and per-merchant tests still load. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_policy_util.h"

static const char RETURNS[] =
    "local M = {}\n"
    "M.WINDOW_DAYS = 7\n"
    "function M.window(days) return days * 86400 end\n" /* a helper others may use */
    "function M.evaluate(case, order, ctx) return {outcome = 'approve', reason_code = 'ok', message = 'ok',\n"
    "  shipping_paid_by = 'buyer'} end\n"
    "return M\n";

static const char OVERRIDE[] =
    "local M = {}\n"
    "M.FEE = 3\n"
    "function M.evaluate(case, order, ctx) return require('returns').evaluate(case, order, ctx) end\n"
    "return M\n";

static int setup(void **state) {
    pdir *d = malloc(sizeof *d);
    assert_non_null(d);
    pdir_up(d);
    pdir_write(d, "returns.lua", RETURNS);
    *state = d;
    return 0;
}

static int teardown(void **state) {
    pdir_down(*state);
    free(*state);
    return 0;
}

static int strict_load(pdir *d, const json_t *sources) {
    policy_set_free(d->ps);
    d->ps = NULL;
    policy_config cfg = {.dir = d->dir, .sources = sources};
    return policy_set_load(&cfg, &d->ps, d->err, sizeof d->err);
}

static void refused(pdir *d, const char *needle) {
    int rc = strict_load(d, NULL);
    if (rc == 0 || strstr(d->err, needle) == NULL) fprintf(stderr, "want '%s', got rc %d: %s\n", needle, rc, d->err);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(d->err, needle));
}

static void a_clean_set_with_helpers_constants_and_lib_loads(void **state) {
    pdir *d = *state;
    pdir_write(d, "lib/money.lua", "return {cents = function(x) return x * 100 end}\n");
    pdir_write(d, "compensation.lua",
               "local money = require('lib.money')\nlocal M = {}\n"
               "function M.refund() return {amount_cents = money.cents(1)} end\nreturn M\n");
    pdir_write(d, "merchants/acme/returns.lua", OVERRIDE);
    pdir_write(d, "merchants/acme/tests/acme_test.lua", "test('x', function() ok(true) end)\n");
    pdir_write(d, "README.md", "docs are allowed");
    int rc = strict_load(d, NULL);
    if (rc != 0) fprintf(stderr, "%s\n", d->err);
    assert_int_equal(rc, 0);
    json_t *out = NULL;
    policy_ctx ctx = {.now = 1};
    assert_int_equal(pdir_call0(d, NULL, "compensation", "refund", &ctx, &out), 0);
    assert_int_equal(json_integer_value(json_object_get(out, "amount_cents")), 100);
    json_decref(out);
}

static void a_misspelt_module_file_is_refused(void **state) {
    pdir *d = *state;
    pdir_write(d, "merchants/acme/return.lua", OVERRIDE);
    refused(d, "merchants/acme/return.lua: unknown module 'return'");
}

static void an_unknown_top_level_module_is_refused(void **state) {
    pdir *d = *state;
    pdir_write(d, "util.lua", "return {}\n");
    refused(d, "util.lua: unknown module 'util'");
}

static void a_misspelt_function_in_an_override_is_refused(void **state) {
    pdir *d = *state;
    pdir_write(d, "merchants/acme/returns.lua", "local M = {}\nfunction M.evalute() end\nreturn M\n");
    refused(d, "merchants/acme/returns.lua: unknown function 'evalute'");
}

static void a_misspelt_function_in_a_default_is_refused(void **state) {
    pdir *d = *state;
    pdir_write(d, "sla.lua", "local M = {}\nfunction M.targets() end\nfunction M.onBreach() end\nreturn M\n");
    refused(d, "sla.lua: unknown function 'onBreach' (did you mean 'on_breach'?");
}

static void a_module_defining_no_contract_name_is_refused(void **state) {
    pdir *d = *state;
    pdir_write(d, "routing.lua", "local M = {}\nM.QUEUES = {}\nreturn M\n");
    refused(d, "routing.lua: defines none of routing's contract (route)");
}

static void an_upper_case_merchant_directory_is_refused(void **state) {
    pdir *d = *state;
    pdir_write(d, "merchants/Acme/returns.lua", OVERRIDE);
    refused(d, "merchants/Acme/");
}

static void a_stray_file_in_merchants_is_refused(void **state) {
    pdir *d = *state;
    pdir_write(d, "merchants/returns.lua", OVERRIDE);
    refused(d, "merchants/returns.lua: merchants/ holds one directory per merchant");
}

static void unknown_directories_and_files_are_refused(void **state) {
    pdir *d = *state;
    pdir_write(d, "test/returns_test.lua", "");
    refused(d, "test/: unknown directory");
    pdir_down(d);
    pdir_up(d);
    pdir_write(d, "returns.lua", RETURNS);
    pdir_write(d, "returns.lua.orig", "");
    refused(d, "returns.lua.orig: unknown file");
}

static void a_merchant_floor_and_bad_floor_names_are_refused(void **state) {
    pdir *d = *state;
    pdir_write(d, "merchants/acme/floor.lua", "return {}\n");
    refused(d, "a merchant cannot override floor.lua");
    pdir_down(d);
    pdir_up(d);
    pdir_write(d, "returns.lua", RETURNS);
    pdir_write(d, "floor.lua", "local M = {}\nfunction M.returns_evaluate(r) return r end\n"
                               "function M.routing_routes(r) return r end\nreturn M\n");
    refused(d, "floor.lua: unknown function 'routing_routes' (did you mean 'routing_route'?");
}

static void a_contract_name_of_the_wrong_type_is_refused(void **state) {
    pdir *d = *state;
    pdir_write(d, "sla.lua", "local M = {}\nfunction M.targets() end\nM.calendar = 'weekdays'\nreturn M\n");
    refused(d, "sla.lua: sla.calendar must be a table or a function of ctx (it is a string)");
}

static void sources_are_checked_too(void **state) {
    pdir *d = *state;
    json_t *src = json_pack("{s:s}", "merchants/acme/retruns.lua", OVERRIDE);
    assert_int_equal(strict_load(d, src), -1);
    assert_non_null(strstr(d->err, "unknown module 'retruns'"));
    json_decref(src);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_clean_set_with_helpers_constants_and_lib_loads, setup, teardown),
        cmocka_unit_test_setup_teardown(a_misspelt_module_file_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(an_unknown_top_level_module_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(a_misspelt_function_in_an_override_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(a_misspelt_function_in_a_default_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(a_module_defining_no_contract_name_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(an_upper_case_merchant_directory_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(a_stray_file_in_merchants_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_directories_and_files_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(a_merchant_floor_and_bad_floor_names_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(a_contract_name_of_the_wrong_type_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(sources_are_checked_too, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

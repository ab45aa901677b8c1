/* Router: literal and parameter patterns, 404 vs 405 with the allow list,
 * percent-decoding of parameters and refusal of bad ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http/router.h"

static int h_list, h_get, h_put, h_price, h_root;

static int setup(void **state) {
    router *r = router_new();
    assert_non_null(r);
    assert_int_equal(router_add(r, "GET", "/", &h_root, "GET /"), 0);
    assert_int_equal(router_add(r, "GET", "/v1/orders", &h_list, "GET /v1/orders"), 0);
    assert_int_equal(router_add(r, "POST", "/v1/orders", &h_list, "POST /v1/orders"), 0);
    assert_int_equal(router_add(r, "GET", "/v1/orders/{id}", &h_get, "GET /v1/orders/{id}"), 0);
    assert_int_equal(router_add(r, "PUT", "/v1/orders/{id}", &h_put, "PUT /v1/orders/{id}"), 0);
    assert_int_equal(router_add(r, "PUT", "/v1/orders/{id}/prices/{sku}", &h_price, "price"), 0);
    *state = r;
    return 0;
}

static int teardown(void **state) {
    router_free(*state);
    return 0;
}

static void literal_route_is_found_with_its_label(void **state) {
    void *h = NULL;
    const char *label = NULL;
    route_params p;
    assert_int_equal(router_match(*state, "GET", "/v1/orders", &h, &label, &p, NULL, 0), ROUTE_FOUND);
    assert_ptr_equal(h, &h_list);
    assert_string_equal(label, "GET /v1/orders");
    assert_int_equal(p.count, 0);
    assert_int_equal(router_match(*state, "GET", "/", &h, &label, &p, NULL, 0), ROUTE_FOUND);
    assert_ptr_equal(h, &h_root);
}

static void params_are_captured_by_name(void **state) {
    void *h = NULL;
    route_params p;
    assert_int_equal(router_match(*state, "PUT", "/v1/orders/o-1/prices/SKU9", &h, NULL, &p, NULL, 0),
                     ROUTE_FOUND);
    assert_ptr_equal(h, &h_price);
    assert_int_equal(p.count, 2);
    assert_string_equal(route_param(&p, "id"), "o-1");
    assert_string_equal(route_param(&p, "sku"), "SKU9");
    assert_null(route_param(&p, "nope"));
}

static void params_are_percent_decoded(void **state) {
    route_params p;
    assert_int_equal(router_match(*state, "GET", "/v1/orders/a%20b%2Fc+d", NULL, NULL, &p, NULL, 0),
                     ROUTE_FOUND);
    assert_string_equal(route_param(&p, "id"), "a b/c+d"); /* '+' stays in a path */
}

static void unknown_path_is_not_found(void **state) {
    char allow[64] = "junk";
    assert_int_equal(router_match(*state, "GET", "/v1/nothing", NULL, NULL, NULL, allow, sizeof allow),
                     ROUTE_NOT_FOUND);
    assert_int_equal(router_match(*state, "GET", "/v1/orders/", NULL, NULL, NULL, NULL, 0), ROUTE_NOT_FOUND);
    assert_int_equal(router_match(*state, "GET", "/v1/orders/x/y", NULL, NULL, NULL, NULL, 0), ROUTE_NOT_FOUND);
    assert_int_equal(router_match(*state, "GET", "no-slash", NULL, NULL, NULL, NULL, 0), ROUTE_NOT_FOUND);
}

static void known_path_with_other_method_lists_allowed_methods(void **state) {
    char allow[64];
    assert_int_equal(router_match(*state, "DELETE", "/v1/orders/7", NULL, NULL, NULL, allow, sizeof allow),
                     ROUTE_METHOD_NOT_ALLOWED);
    assert_string_equal(allow, "GET, PUT");
    assert_int_equal(router_match(*state, "PATCH", "/v1/orders", NULL, NULL, NULL, allow, sizeof allow),
                     ROUTE_METHOD_NOT_ALLOWED);
    assert_string_equal(allow, "GET, POST");
}

static void head_matches_a_get_route(void **state) {
    void *h = NULL;
    const char *label = NULL;
    route_params p;
    assert_int_equal(router_match(*state, "HEAD", "/v1/orders/o1", &h, &label, &p, NULL, 0), ROUTE_FOUND);
    assert_ptr_equal(h, &h_get);
    assert_string_equal(label, "GET /v1/orders/{id}");
    assert_string_equal(route_param(&p, "id"), "o1");
    char allow[64];
    assert_int_equal(router_match(*state, "HEAD", "/v1/orders/o1/prices/s1", NULL, NULL, &p, allow, sizeof allow),
                     ROUTE_METHOD_NOT_ALLOWED);
    assert_string_equal(allow, "PUT");
}

static void badly_encoded_or_overlong_param_is_refused(void **state) {
    route_params p;
    assert_int_equal(router_match(*state, "GET", "/v1/orders/%zz", NULL, NULL, &p, NULL, 0), ROUTE_BAD_PARAM);
    assert_int_equal(router_match(*state, "GET", "/v1/orders/ab%2", NULL, NULL, &p, NULL, 0), ROUTE_BAD_PARAM);
    assert_int_equal(router_match(*state, "GET", "/v1/orders/a%00b", NULL, NULL, &p, NULL, 0), ROUTE_BAD_PARAM);
    char path[400] = "/v1/orders/";
    memset(path + strlen(path), 'x', ROUTE_MAX_PARAM_LEN);
    assert_int_equal(router_match(*state, "GET", path, NULL, NULL, &p, NULL, 0), ROUTE_BAD_PARAM);
    path[strlen("/v1/orders/") + ROUTE_MAX_PARAM_LEN - 1] = '\0'; /* 255 bytes fit */
    assert_int_equal(router_match(*state, "GET", path, NULL, NULL, &p, NULL, 0), ROUTE_FOUND);
}

static void bad_patterns_are_rejected(void **state) {
    router *r = *state;
    assert_int_equal(router_add(r, "GET", "no-slash", &h_get, "x"), -1);
    assert_int_equal(router_add(r, "GET", "/a{b}", &h_get, "x"), -1);
    assert_int_equal(router_add(r, "GET", "/{}", &h_get, "x"), -1);
    assert_int_equal(router_add(r, "GET", "/{a}/{b}/{c}/{d}/{e}", &h_get, "x"), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(literal_route_is_found_with_its_label, setup, teardown),
        cmocka_unit_test_setup_teardown(params_are_captured_by_name, setup, teardown),
        cmocka_unit_test_setup_teardown(params_are_percent_decoded, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_path_is_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(known_path_with_other_method_lists_allowed_methods, setup, teardown),
        cmocka_unit_test_setup_teardown(head_matches_a_get_route, setup, teardown),
        cmocka_unit_test_setup_teardown(badly_encoded_or_overlong_param_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_patterns_are_rejected, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

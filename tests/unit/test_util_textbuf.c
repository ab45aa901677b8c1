/* The growing text buffer: appends, formats, grows past its first block, and
 * hands its text over. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "util/textbuf.h"

static void appends_and_formats_in_order(void **state) {
    (void)state;
    textbuf tb = {0};
    tb_append(&tb, "{\"n\":", 5);
    tb_printf(&tb, "%d,\"s\":\"%s\"}", 42, "x");
    size_t len;
    char *text = tb_take(&tb, &len);
    assert_string_equal(text, "{\"n\":42,\"s\":\"x\"}");
    assert_int_equal(len, strlen(text));
    assert_null(tb.buf); /* handed over: tb is empty again */
    free(text);
}

static void grows_far_past_its_first_block(void **state) {
    (void)state;
    textbuf tb = {0};
    for (int i = 0; i < 10000; i++) tb_printf(&tb, "%04d", i % 10000);
    tb_append(&tb, "!", 1);
    size_t len;
    char *text = tb_take(&tb, &len);
    assert_int_equal(len, 40001);
    assert_memory_equal(text, "0000000100020003", 16);
    assert_memory_equal(text + 39996, "9999!", 5);
    free(text);
}

static void a_failed_buffer_gives_no_text(void **state) {
    (void)state;
    textbuf tb = {0};
    tb_append(&tb, "partial", 7);
    tb.failed = 1; /* as after a failed allocation */
    tb_append(&tb, "more", 4);
    size_t len = 99;
    assert_null(tb_take(&tb, &len));
    assert_int_equal(len, 0);
    tb_free(&tb); /* an empty buffer frees fine */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(appends_and_formats_in_order),
        cmocka_unit_test(grows_far_past_its_first_block),
        cmocka_unit_test(a_failed_buffer_gives_no_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

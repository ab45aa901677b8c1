/* store/pack: history records go in packed and come out byte for byte; plain
 * values (old data, small records) pass through untouched; a damaged or
 * unknown packed value is an error, never garbage or an overrun. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/pack.h"

/* A case.created event as the commit writes it (ids and times of its own). */
static const char EVENT[] =
    "{\"seq\":4711,\"type\":\"case.created\",\"at\":1801234567,\"case_id\":\"C0000004711\","
    "\"order_id\":\"ord-99\",\"merchant_id\":\"m7\",\"data\":{\"case_id\":\"C0000004711\","
    "\"type\":\"return\",\"status\":\"awaiting_customer\",\"stage\":\"awaiting_shipment\","
    "\"order_id\":\"ord-99\",\"sku\":\"mug-1\",\"qty\":1,\"buyer_id\":\"zed\",\"merchant_id\":\"m7\","
    "\"channel\":\"web\",\"reason\":\"no_reason\",\"description\":\"a chip on the rim\",\"opened\":false,"
    "\"photos\":[],\"queue\":\"after_sales\",\"priority\":3,\"skills\":[],\"assignee\":null,"
    "\"escalated\":false,\"created_at\":1801234567,\"updated_at\":1801234567,\"first_response_at\":null,"
    "\"resolved_at\":null,\"closed_at\":null,\"sla\":{\"first_response_due\":null,\"resolution_due\":"
    "1801456000,\"business\":true,\"breached\":[]},\"decision\":{\"outcome\":\"approve\",\"reason_code\":"
    "\"no_reason_return\",\"message\":\"no_reason_return: unused item within the 7-day window\","
    "\"policy_version\":\"0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0\","
    "\"module\":\"returns\",\"function\":\"evaluate\",\"at\":1801234567},\"refund\":{\"approved_cents\":0,"
    "\"refunded_cents\":0,\"shipping_paid_by\":\"buyer\"},\"compensation\":null,\"survey\":{\"due_at\":null,"
    "\"csat\":null,\"nps\":null,\"comment\":null},\"shipments\":[]}}";

static pack_ctx *pc;

static int setup(void **state) {
    (void)state;
    pc = pack_ctx_new();
    return pc ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    pack_ctx_free(pc);
    return 0;
}

static void a_record_round_trips_and_shrinks(void **state) {
    (void)state;
    unsigned char *packed;
    size_t plen;
    assert_int_equal(pack_value(pc, EVENT, strlen(EVENT), &packed, &plen), 1);
    assert_true(pack_is_packed(packed, plen));
    assert_int_equal(packed[0], PACK_TAG_V1);
    /* the dictionary knows the shape: far less than half the text */
    assert_true(plen * 3 < strlen(EVENT));
    unpack_buf b = UNPACK_BUF_INIT;
    const char *text;
    size_t len;
    assert_int_equal(unpack_value(&b, packed, plen, &text, &len), 0);
    assert_int_equal(len, strlen(EVENT));
    assert_memory_equal(text, EVENT, len);
    assert_int_equal(text[len], '\0');
    /* the buffer is reused: a second value replaces the first */
    assert_int_equal(unpack_value(&b, packed, plen, &text, &len), 0);
    assert_memory_equal(text, EVENT, len);
    unpack_buf_free(&b);
    free(packed);
}

static void small_values_stay_plain_and_plain_values_pass_through(void **state) {
    (void)state;
    static const char small[] = "{\"seq\":1,\"type\":\"x\"}";
    unsigned char *packed = (unsigned char *)"sentinel";
    size_t plen = 99;
    assert_int_equal(pack_value(pc, small, strlen(small), &packed, &plen), 0);
    assert_null(packed);
    assert_int_equal(plen, 0);
    unpack_buf b = UNPACK_BUF_INIT;
    const char *text;
    size_t len;
    /* what was stored before packing existed reads as it is, without a copy */
    assert_int_equal(unpack_value(&b, EVENT, strlen(EVENT), &text, &len), 0);
    assert_ptr_equal(text, EVENT);
    assert_int_equal(len, strlen(EVENT));
    assert_false(pack_is_packed(EVENT, strlen(EVENT)));
    assert_int_equal(unpack_value(&b, "", 0, &text, &len), 0);
    assert_int_equal(len, 0);
    unpack_buf_free(&b);
}

static void damaged_and_unknown_values_fail(void **state) {
    (void)state;
    unsigned char *packed;
    size_t plen;
    assert_int_equal(pack_value(pc, EVENT, strlen(EVENT), &packed, &plen), 1);
    unpack_buf b = UNPACK_BUF_INIT;
    const char *text;
    size_t len;
    /* cut short at every length */
    for (size_t cut = 1; cut < plen; cut++) assert_int_equal(unpack_value(&b, packed, cut, &text, &len), -1);
    /* a tag this build does not know */
    packed[0] = 0x02;
    assert_int_equal(unpack_value(&b, packed, plen, &text, &len), -1);
    packed[0] = PACK_TAG_V1;
    /* flipped bytes in the body: an error or other text of the stated
     * length, never an overrun (ASan watches) */
    for (size_t i = 1; i < plen; i++) {
        packed[i] ^= 0x5a;
        if (unpack_value(&b, packed, plen, &text, &len) == 0) assert_int_equal(len, strlen(EVENT));
        packed[i] ^= 0x5a;
    }
    unpack_buf_free(&b);
    free(packed);
}

/* Text with nothing in common with the dictionary still round-trips (and a
 * value packing does not shrink is left plain). */
static void any_text_round_trips(void **state) {
    (void)state;
    char text[4096];
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < sizeof text; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        text[i] = (char)(' ' + x % 95);
    }
    text[0] = '{';
    for (size_t n = PACK_MIN; n <= sizeof text; n += 997) {
        unsigned char *packed;
        size_t plen;
        int rc = pack_value(pc, text, n, &packed, &plen);
        assert_true(rc == 0 || rc == 1);
        if (rc == 0) continue;
        assert_true(plen < n);
        unpack_buf b = UNPACK_BUF_INIT;
        const char *out;
        size_t len;
        assert_int_equal(unpack_value(&b, packed, plen, &out, &len), 0);
        assert_int_equal(len, n);
        assert_memory_equal(out, text, n);
        unpack_buf_free(&b);
        free(packed);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_record_round_trips_and_shrinks),
        cmocka_unit_test(small_values_stay_plain_and_plain_values_pass_through),
        cmocka_unit_test(damaged_and_unknown_values_fail),
        cmocka_unit_test(any_text_round_trips),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

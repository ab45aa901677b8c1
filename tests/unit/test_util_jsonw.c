/* util/jsonw: the streaming JSON writer every stored document goes through.
 *
 * The rules (jsonw.h): the writer places commas and colons; strings are
 * escaped; bytes that are not valid UTF-8 become U+FFFD, so whatever the input
 * the text is valid JSON that Jansson reads back; nesting deeper than
 * JSONW_MAX_DEPTH fails the writer; raw values are checked before they are
 * spliced in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "util/jsonw.h"

#define FFFD "\xEF\xBF\xBD"

typedef struct {
    textbuf tb;
    jsonw w;
    emitter *e;
} writer;

static void writer_init(writer *x) {
    x->tb = (textbuf){0};
    jsonw_init(&x->w, &x->tb);
    x->e = jsonw_emitter(&x->w);
}

/* The text written (caller frees), or NULL when the writer failed. */
static char *writer_take(writer *x) { return tb_take(&x->tb, NULL); }

/* The quoted form of len bytes of s. */
static char *quote(const char *s, size_t len) {
    textbuf tb = {0};
    jsonw_quote(&tb, s, len);
    char *out = tb_take(&tb, NULL);
    assert_non_null(out);
    return out;
}

/* Rule: the text Jansson reads back is exactly the string; checked with the
 * default flags, as every reader of stored documents uses them. */
static void assert_parses_to(const char *quoted, const char *want, size_t want_len) {
    json_error_t jerr;
    json_t *v = json_loads(quoted, JSON_DECODE_ANY, &jerr);
    if (v == NULL) fail_msg("%s does not parse: %s", quoted, jerr.text);
    assert_true(json_is_string(v));
    assert_int_equal(json_string_length(v), want_len);
    assert_memory_equal(json_string_value(v), want, want_len);
    json_decref(v);
}

static void expect_quote(const char *in, size_t len, const char *want) {
    char *q = quote(in, len);
    assert_string_equal(q, want);
    free(q);
}

/* ---- structure ---- */

static void writer_places_commas_and_colons(void **state) {
    (void)state;
    writer x;
    writer_init(&x);
    emitter *e = x.e;
    emit_object(e);
    emit_kstr(e, "a", "x");
    emit_kint(e, "b", -42);
    emit_key(e, "c");
    emit_array(e);
    emit_int(e, 1);
    emit_bool(e, 1);
    emit_null(e);
    emit_object(e);
    emit_object_end(e);
    emit_array(e);
    emit_array_end(e);
    emit_object(e);
    emit_kbool(e, "f", 0);
    emit_object_end(e);
    emit_array_end(e);
    emit_knull(e, "d");
    emit_kopt(e, "none", AS_NONE);
    emit_kopt(e, "some", 7);
    emit_kstr(e, "nul", NULL);
    emit_kint(e, "min", INT64_MIN + 1);
    emit_kint(e, "max", INT64_MAX);
    emit_object_end(e);
    char *text = writer_take(&x);
    assert_string_equal(text, "{\"a\":\"x\",\"b\":-42,\"c\":[1,true,null,{},[],{\"f\":false}],\"d\":null,"
                              "\"none\":null,\"some\":7,\"nul\":null,\"min\":-9223372036854775807,"
                              "\"max\":9223372036854775807}");
    json_t *v = json_loads(text, 0, NULL);
    assert_non_null(v);
    json_decref(v);
    free(text);
}

/* A document may be a bare array or scalar; an array of arrays separates
 * each level's values on its own. */
static void writer_separates_values_per_level(void **state) {
    (void)state;
    writer x;
    writer_init(&x);
    emit_array(x.e);
    emit_array(x.e);
    emit_int(x.e, 1);
    emit_int(x.e, 2);
    emit_array_end(x.e);
    emit_array(x.e);
    emit_array_end(x.e);
    emit_str(x.e, "z");
    emit_array_end(x.e);
    char *text = writer_take(&x);
    assert_string_equal(text, "[[1,2],[],\"z\"]");
    free(text);

    writer_init(&x);
    emit_int(x.e, 5);
    text = writer_take(&x);
    assert_string_equal(text, "5");
    free(text);
}

/* Keys are strings like any other: escaped and made valid UTF-8. */
static void keys_are_escaped(void **state) {
    (void)state;
    writer x;
    writer_init(&x);
    emit_object(x.e);
    emit_kint(x.e, "a\"b\\c\n\xff", 1);
    emit_object_end(x.e);
    char *text = writer_take(&x);
    assert_string_equal(text, "{\"a\\\"b\\\\c\\n" FFFD "\":1}");
    json_t *v = json_loads(text, 0, NULL);
    assert_non_null(v);
    assert_non_null(json_object_get(v, "a\"b\\c\n" FFFD));
    json_decref(v);
    free(text);
}

/* ---- escaping ---- */

static void quotes_backslashes_and_controls_are_escaped(void **state) {
    (void)state;
    expect_quote("", 0, "\"\"");
    expect_quote("plain / text", 12, "\"plain / text\"");
    expect_quote("say \"hi\"", 8, "\"say \\\"hi\\\"\"");
    expect_quote("C:\\dir", 6, "\"C:\\\\dir\"");
    expect_quote("a\nb\tc\rd", 7, "\"a\\nb\\tc\\rd\"");
    expect_quote("\x01\x08\x0b\x0c\x1f", 5, "\"\\u0001\\u0008\\u000b\\u000c\\u001f\"");
    expect_quote("\x7f", 1, "\"\x7f\""); /* DEL is not a control JSON must escape */
    /* every control character round-trips through Jansson */
    for (int c = 1; c < 0x20; c++) {
        char in[3] = {'x', (char)c, 'y'};
        char *q = quote(in, 3);
        assert_parses_to(q, in, 3);
        free(q);
    }
}

/* ---- invalid UTF-8 ---- */

static void valid_utf8_is_kept_byte_for_byte(void **state) {
    (void)state;
    const char *in = "\xC2\xA9 \xE4\xB8\xAD\xE6\x96\x87 \xF0\x9F\x98\x80 \xEF\xBF\xBF \xF4\x8F\xBF\xBF \xED\x9F\xBF";
    char *want = malloc(strlen(in) + 3);
    assert_non_null(want);
    sprintf(want, "\"%s\"", in);
    expect_quote(in, strlen(in), want);
    free(want);
}

/* Each class of invalid sequence: every byte that starts no character is one
 * U+FFFD, the bytes around it are kept, and Jansson reads the result. */
static void invalid_utf8_becomes_replacement_characters(void **state) {
    (void)state;
    static const struct {
        const char *what, *in, *want;
    } cases[] = {
        {"stray continuation", "a\x80z", "a" FFFD "z"},
        {"stray continuations", "\xBF\x80", FFFD FFFD},
        {"overlong 2-byte (C0/C1 lead)", "\xC0\xAF\xC1\xBF", FFFD FFFD FFFD FFFD},
        {"overlong 3-byte", "\xE0\x80\xAF", FFFD FFFD FFFD},
        {"overlong 4-byte", "\xF0\x80\x80\xAF", FFFD FFFD FFFD FFFD},
        {"high surrogate", "\xED\xA0\x80", FFFD FFFD FFFD},
        {"low surrogate", "\xED\xBF\xBF", FFFD FFFD FFFD},
        {"above U+10FFFF (F4 90)", "\xF4\x90\x80\x80", FFFD FFFD FFFD FFFD},
        {"above U+10FFFF (F5 lead)", "\xF5\x80\x80\x80", FFFD FFFD FFFD FFFD},
        {"FE and FF", "\xFE\xFF", FFFD FFFD},
        {"truncated 2-byte at end", "ok\xC3", "ok" FFFD},
        {"truncated 3-byte at end", "\xE4\xB8", FFFD FFFD},
        {"truncated 4-byte at end", "\xF0\x9F\x98", FFFD FFFD FFFD},
        {"truncated 3-byte before ASCII", "\xE4\xB8z", FFFD FFFD "z"},
        {"lead followed by a lead", "\xE4\xE4\xB8\xAD", FFFD "\xE4\xB8\xAD"},
        {"invalid byte next to escapes", "\"\xFF\\", "\\\"" FFFD "\\\\"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *q = quote(cases[i].in, strlen(cases[i].in));
        char want[64];
        snprintf(want, sizeof want, "\"%s\"", cases[i].want);
        if (strcmp(q, want) != 0) fail_msg("%s: got %s, want %s", cases[i].what, q, want);
        json_t *v = json_loads(q, JSON_DECODE_ANY, NULL);
        if (v == NULL) fail_msg("%s: %s does not parse", cases[i].what, q);
        json_decref(v);
        free(q);
    }
}

/* Rule: a NUL byte cannot reach a reader (Jansson refuses \u0000 unless told
 * otherwise, and every reader of stored text uses the default flags): like a
 * byte that is not UTF-8, it is replaced. */
static void nul_bytes_are_replaced(void **state) {
    (void)state;
    char *q = quote("a\0b", 3);
    assert_string_equal(q, "\"a" FFFD "b\"");
    assert_parses_to(q, "a" FFFD "b", 5);
    free(q);
}

/* Property: for any bytes (fixed seed), the quoted text parses with
 * Jansson's default flags, and quoting what it decodes to gives the same text
 * again (valid UTF-8 passes byte for byte). */
static void any_bytes_quote_to_valid_json(void **state) {
    (void)state;
    srand(20260101);
    static const unsigned char interesting[] = {0x00, 0x01, 0x1f, '"', '\\', 'a', 0x7f, 0x80, 0xbf, 0xc0,
                                                0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff};
    for (int round = 0; round < 5000; round++) {
        unsigned char in[24];
        size_t n = (size_t)(rand() % (int)sizeof in);
        for (size_t i = 0; i < n; i++)
            in[i] = rand() % 2 ? interesting[rand() % (int)sizeof interesting] : (unsigned char)(rand() % 256);
        char *q = quote((const char *)in, n);
        json_error_t jerr;
        json_t *v = json_loads(q, JSON_DECODE_ANY, &jerr);
        if (v == NULL) fail_msg("round %d: %s does not parse: %s", round, q, jerr.text);
        char *again = quote(json_string_value(v), json_string_length(v));
        assert_string_equal(again, q);
        free(again);
        json_decref(v);
        free(q);
    }
}

/* ---- depth ---- */

static void depth_limit_fails_the_writer(void **state) {
    (void)state;
    writer x;
    writer_init(&x);
    for (int i = 0; i < JSONW_MAX_DEPTH; i++) emit_array(x.e);
    for (int i = 0; i < JSONW_MAX_DEPTH; i++) emit_array_end(x.e);
    char *text = writer_take(&x);
    assert_non_null(text); /* exactly the limit is fine */
    assert_int_equal(strlen(text), 2 * JSONW_MAX_DEPTH);
    json_t *v = json_loads(text, 0, NULL);
    assert_non_null(v);
    json_decref(v);
    free(text);

    writer_init(&x);
    emit_object(x.e);
    for (int i = 0; i < JSONW_MAX_DEPTH; i++) {
        emit_key(x.e, "k");
        emit_object(x.e);
    }
    for (int i = 0; i <= JSONW_MAX_DEPTH; i++) emit_object_end(x.e);
    assert_true(x.tb.failed);
    assert_null(writer_take(&x));
}

/* ---- raw values ---- */

static void raw_values_are_spliced_in_place(void **state) {
    (void)state;
    writer x;
    writer_init(&x);
    emit_object(x.e);
    emit_key(x.e, "q");
    x.e->ops->raw(x.e, "[{\"id\":\"csat\"},2]", 17);
    emit_kint(x.e, "n", 1);
    emit_key(x.e, "list");
    emit_array(x.e);
    x.e->ops->raw(x.e, "null", 4);
    x.e->ops->raw(x.e, "\"s\"", 3);
    x.e->ops->raw(x.e, "1.5", 3);
    emit_array_end(x.e);
    emit_object_end(x.e);
    char *text = writer_take(&x);
    assert_string_equal(text, "{\"q\":[{\"id\":\"csat\"},2],\"n\":1,\"list\":[null,\"s\",1.5]}");
    free(text);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(writer_places_commas_and_colons),
        cmocka_unit_test(writer_separates_values_per_level),
        cmocka_unit_test(keys_are_escaped),
        cmocka_unit_test(quotes_backslashes_and_controls_are_escaped),
        cmocka_unit_test(valid_utf8_is_kept_byte_for_byte),
        cmocka_unit_test(invalid_utf8_becomes_replacement_characters),
        cmocka_unit_test(nul_bytes_are_replaced),
        cmocka_unit_test(any_bytes_quote_to_valid_json),
        cmocka_unit_test(depth_limit_fails_the_writer),
        cmocka_unit_test(raw_values_are_spliced_in_place),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* api/request: reading and validating request bodies, the common error
 * answers, and PII masking. Every validation error names the field. */
#include <stdio.h>
#include <string.h>

#include "api/api.h"

json_t *req_json_body(http_request *req) {
    size_t len;
    const char *body = http_request_body(req, &len);
    json_error_t jerr;
    json_t *root = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        json_t *d = json_pack("{s:i,s:i,s:i}", "line", jerr.line, "column", jerr.column,
                              "position", jerr.position);
        char msg[300];
        snprintf(msg, sizeof msg, "invalid JSON at line %d, column %d: %s", jerr.line,
                 jerr.column, jerr.text);
        http_respond_error(req, 400, "invalid_json", msg, d);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        http_respond_error(req, 400, "invalid_json", "the body must be a JSON object", NULL);
        return NULL;
    }
    return root;
}

void reply_invalid(http_request *req, const char *field, const char *message) {
    char msg[400];
    snprintf(msg, sizeof msg, "%s: %s", field, message);
    http_respond_error(req, 400, "invalid_field", msg, json_pack("{s:s}", "field", field));
}

void reply_not_found(http_request *req, const char *what) {
    char msg[200];
    snprintf(msg, sizeof msg, "%s not found", what);
    http_respond_error(req, 404, "not_found", msg, NULL);
}

void reply_forbidden(http_request *req, const char *message) {
    http_respond_error(req, 403, "forbidden", message, NULL);
}

int id_valid(const char *id) {
    size_t n = strlen(id);
    if (n == 0 || n > 128) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == ':' || c == '-';
        if (!ok) return 0;
    }
    return 1;
}

int req_string(http_request *req, json_t *obj, const char *field, int required,
               const char **out) {
    json_t *v = json_object_get(obj, field);
    *out = NULL;
    if (v == NULL || json_is_null(v)) {
        if (!required) return 0;
        reply_invalid(req, field, "is required");
        return -1;
    }
    if (!json_is_string(v)) {
        reply_invalid(req, field, "must be a string");
        return -1;
    }
    *out = json_string_value(v);
    if (required && **out == '\0') {
        reply_invalid(req, field, "must not be empty");
        return -1;
    }
    return 0;
}

int req_id(http_request *req, json_t *obj, const char *field, int required, const char **out) {
    if (req_string(req, obj, field, required, out) != 0) return -1;
    if (*out != NULL && !id_valid(*out)) {
        reply_invalid(req, field, "must be 1-128 characters of A-Z a-z 0-9 . _ : -");
        return -1;
    }
    return 0;
}

int req_int(http_request *req, json_t *obj, const char *field, int required, int64_t min,
            int64_t max, int64_t *out, int *present) {
    json_t *v = json_object_get(obj, field);
    if (present) *present = 0;
    if (v == NULL || json_is_null(v)) {
        if (!required) return 0;
        reply_invalid(req, field, "is required");
        return -1;
    }
    if (!json_is_integer(v)) {
        reply_invalid(req, field, "must be an integer");
        return -1;
    }
    int64_t n = json_integer_value(v);
    if (n < min || n > max) {
        char msg[120];
        snprintf(msg, sizeof msg, "must be between %lld and %lld", (long long)min,
                 (long long)max);
        reply_invalid(req, field, msg);
        return -1;
    }
    *out = n;
    if (present) *present = 1;
    return 0;
}

int req_bool(http_request *req, json_t *obj, const char *field, int *out) {
    json_t *v = json_object_get(obj, field);
    if (v == NULL || json_is_null(v)) return 0;
    if (!json_is_boolean(v)) {
        reply_invalid(req, field, "must be true or false");
        return -1;
    }
    *out = json_is_true(v);
    return 0;
}

/* Bytes of the UTF-8 character at p (the stored text is valid UTF-8: Jansson
 * checked it on the way in), so a cut never splits a character. */
static size_t utf8_char_len(const char *p) {
    size_t n = 1;
    while (p[n] != '\0' && ((unsigned char)p[n] & 0xC0) == 0x80) n++;
    return n;
}

static size_t utf8_count(const char *s) {
    size_t n = 0;
    for (; *s; s += utf8_char_len(s)) n++;
    return n;
}

/* The byte offset of character number `chars` of s. */
static size_t utf8_offset(const char *s, size_t chars) {
    const char *p = s;
    while (chars-- > 0 && *p) p += utf8_char_len(p);
    return (size_t)(p - s);
}

/* 13812345678 -> 138****5678: 3 characters in front and 4 at the end, for a
 * number of 11 or more; a shorter one keeps only its last 2, so a mask always
 * hides more than it shows. */
static void mask_phone(const char *in, char *out, size_t outlen) {
    size_t n = utf8_count(in);
    size_t head = n >= 11 ? 3 : 0, tail = n >= 11 ? 4 : n >= 8 ? 2 : 0;
    size_t head_bytes = utf8_offset(in, head);
    const char *tail_at = in + utf8_offset(in, n - tail);
    snprintf(out, outlen, "%.*s****%s", (int)head_bytes, in, tail_at);
}

/* jane@example.com -> j***@example.com: the first character and the domain. */
static void mask_email(const char *in, char *out, size_t outlen) {
    const char *at = strchr(in, '@');
    if (at == NULL || at == in) {
        snprintf(out, outlen, "***");
        return;
    }
    snprintf(out, outlen, "%.*s***%s", (int)utf8_char_len(in), in, at);
}

/* Replaces a PII member with its mask; if the mask cannot be stored the
 * member goes, so a failure never shows the original. */
static void mask_member(json_t *obj, const char *field, void (*mask)(const char *, char *, size_t)) {
    const char *v = json_string_value(json_object_get(obj, field));
    if (v == NULL) return;
    char masked[300];
    mask(v, masked, sizeof masked);
    if (json_object_set_new(obj, field, json_string(masked)) != 0) json_object_del(obj, field);
}

void mask_order_pii(json_t *order, const principal *who) {
    if (who->role == ROLE_ADMIN) return;
    json_t *buyer = json_object_get(order, "buyer");
    if (!json_is_object(buyer)) return;
    mask_member(buyer, "phone", mask_phone);
    mask_member(buyer, "email", mask_email);
}

/* api/request: reading request bodies and query strings, and the error
 * answers. Domain errors become HTTP answers through one table. */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "case/machine.h"
#include "util/jsonw.h"

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

/* The allowed actions of the case (the `allowed` list of a 409). */
static json_t *allowed_of(const as_case *c, int none) {
    if (none || c == NULL) return json_array();
    textbuf tb = {0};
    jsonw w;
    jsonw_init(&w, &tb);
    case_machine_allowed(c->type, c->status, c->stage, jsonw_emitter(&w));
    json_t *a = tb.failed ? NULL : json_loadb(tb.buf, tb.len, 0, NULL);
    tb_free(&tb);
    return a ? a : json_array();
}

static json_t *all_actions(void) {
    textbuf tb = {0};
    jsonw w;
    jsonw_init(&w, &tb);
    case_machine_actions(jsonw_emitter(&w));
    json_t *a = tb.failed ? NULL : json_loadb(tb.buf, tb.len, 0, NULL);
    tb_free(&tb);
    return a ? a : json_array();
}

/* as_errcode -> HTTP status and error code (SPEC section 3). */
static const struct {
    int status;
    const char *code;
} error_map[] = {
    [AS_OK] = {500, "internal"},
    [AS_EINVAL] = {400, "invalid_field"},
    [AS_EUNKNOWN] = {400, "unknown_field"},
    [AS_ENOTFOUND] = {404, "not_found"},
    [AS_EFORBIDDEN] = {403, "forbidden"},
    [AS_ETRANSITION] = {409, "invalid_transition"},
    [AS_ECLAIMED] = {409, "already_claimed"},
    [AS_EPOLICY] = {422, "policy_error"},
    [AS_ENOMEM] = {503, "unavailable"},
};

void reply_error(http_request *req, const as_error *err) {
    int status = error_map[err->code].status;
    const char *code = error_map[err->code].code;
    json_t *d = json_object();
    if (err->field[0]) json_object_set_new(d, "field", json_string(err->field));
    switch (err->code) {
    case AS_EUNKNOWN:
        if (!strcmp(err->field, "action")) {
            code = "unknown_action";
            json_object_set_new(d, "allowed", all_actions());
        }
        break;
    case AS_EINVAL:
        if (err->limit != AS_NONE && !strcmp(err->field, "amount_cents"))
            json_object_set_new(d, strstr(err->message, "not yet refunded") ? "remaining_cents" : "max_cents",
                                json_integer(err->limit));
        break;
    case AS_ETRANSITION:
        json_object_del(d, "field");
        json_object_set_new(d, "allowed", allowed_of(err->kase, err->no_actions));
        if (err->kase) {
            json_object_set_new(d, "status", json_string(case_status_name(err->kase->status)));
            json_object_set_new(d, "stage", json_string(case_stage_name(err->kase->stage)));
        }
        break;
    case AS_ECLAIMED: {
        json_t *holders = json_array();
        char list[sizeof err->holders];
        snprintf(list, sizeof list, "%s", err->holders);
        for (char *save, *id = strtok_r(list, ",", &save); id; id = strtok_r(NULL, ",", &save))
            json_array_append_new(holders, json_string(id));
        json_object_set_new(d, "claimed_by", holders);
        break;
    }
    case AS_ENOMEM: http_response_header(req, "Retry-After", "1"); break;
    default: break;
    }
    http_respond_error(req, status, code, err->message, d);
}

void reply_store_error(http_request *req, int err) {
    switch (err) {
    case STORE_EFULL:
        http_respond_error(req, 507, "storage_full",
                           "the data store is full and cannot grow; nothing was written", NULL);
        break;
    case STORE_ECLOSED:
        http_respond_error(req, 503, "unavailable", "the server is shutting down", NULL);
        break;
    case STORE_ENOMEM:
        http_respond_error(req, 503, "unavailable", "the server ran out of memory; nothing was written, "
                           "retry shortly", NULL);
        break;
    case STORE_EINVAL:
        http_respond_error(req, 400, "invalid_field", "an id is too long to be stored", NULL);
        break;
    default:
        http_respond_error(req, 500, "storage_error", store_strerror(err), NULL);
    }
}

int req_query_known(http_request *req, const char *const *known) {
    const char *q = http_request_query(req);
    while (q && *q) {
        size_t len = strcspn(q, "&");
        size_t name_len = strcspn(q, "=&");
        if (name_len > 0) {
            int ok = 0;
            for (const char *const *k = known; *k && !ok; k++)
                ok = strlen(*k) == name_len && strncmp(*k, q, name_len) == 0;
            if (!ok) {
                char name[64];
                snprintf(name, sizeof name, "%.*s", (int)(name_len < 60 ? name_len : 60), q);
                char msg[600], list[400] = "";
                size_t n = 0;
                for (const char *const *k = known; *k && n < sizeof list; k++)
                    n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", n ? ", " : "", *k);
                if (known[0] == NULL) snprintf(list, sizeof list, "none");
                snprintf(msg, sizeof msg, "%s is not a query parameter of this endpoint (it takes: %s)", name, list);
                http_respond_error(req, 400, "unknown_parameter", msg, json_pack("{s:s}", "field", name));
                return -1;
            }
        }
        q += len;
        if (*q == '&') q++;
    }
    return 0;
}

int req_no_query(http_request *req) {
    static const char *const none[] = {NULL};
    return req_query_known(req, none);
}

int req_string(http_request *req, json_t *obj, const char *field, int required, const char **out) {
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
    if (*out != NULL && !as_id_valid(*out)) {
        reply_invalid(req, field, "must be 1-128 characters of A-Z a-z 0-9 . _ : -");
        return -1;
    }
    return 0;
}

int req_int(http_request *req, json_t *obj, const char *field, int required, int64_t min, int64_t max, int64_t *out,
            int *present) {
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
        snprintf(msg, sizeof msg, "must be between %lld and %lld", (long long)min, (long long)max);
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

int req_only_known(http_request *req, const json_t *obj, const char *const *known) {
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        int ok = 0;
        for (const char *const *k = known; *k && !ok; k++) ok = strcmp(*k, key) == 0;
        if (!ok) {
            char msg[300];
            snprintf(msg, sizeof msg, "%.64s is not a member of this request", key);
            http_respond_error(req, 400, "unknown_field", msg, json_pack("{s:s}", "field", key));
            return -1;
        }
    }
    return 0;
}

int req_no_body(http_request *req) {
    size_t len;
    const char *body = http_request_body(req, &len);
    size_t i = 0;
    while (body && i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n')) i++;
    if (body == NULL || i == len) return 0; /* nothing, or only blanks */
    json_t *in = req_json_body(req);
    if (in == NULL) return -1;
    static const char *const none[] = {NULL};
    int rc = req_only_known(req, in, none);
    json_decref(in);
    return rc;
}

int req_sources(http_request *req, const json_t *obj, int required) {
    json_t *src = json_object_get(obj, "sources");
    if (src == NULL && !required) return 0;
    if (!json_is_object(src)) {
        reply_invalid(req, "sources", "must be an object of file name to source text (or null to leave a file out)");
        return -1;
    }
    const char *name;
    json_t *text;
    json_object_foreach(src, name, text) {
        if (!json_is_string(text) && !json_is_null(text)) {
            char field[300];
            snprintf(field, sizeof field, "sources.%s", name);
            reply_invalid(req, field, "must be the file's source text (a string), or null to leave it out");
            return -1;
        }
    }
    return 0;
}

/* case/input: the request bodies of the case API read into typed inputs.
 *
 * Strict: every member must be one the request takes (a typo is an error
 * naming it, never silently ignored), every value of its type and within its
 * bounds, and each error names its field. Strings are borrowed from the
 * parsed body. */
#include <stdio.h>
#include <string.h>

#include "case/domain.h"

#define TEXT_MAX 20000    /* description */
#define MESSAGE_MAX 16384 /* reply and note bodies (docs/api.md, "Limits") */
#define SHORT_MAX 2000    /* reasons, resolutions, inspection notes */
#define LABEL_MAX 256     /* carriers, tracking numbers */
#define PHOTOS_MAX 20
#define PHOTO_URL_MAX 2048
#define COMMENT_MAX 5000

/* Every member of obj must be named in known (NULL-terminated). */
static int only_known(const json_t *obj, const char *const *known, const char *what, as_error *err) {
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        int ok = 0;
        for (const char *const *k = known; *k && !ok; k++) ok = strcmp(*k, key) == 0;
        if (!ok) {
            char list[400] = "";
            size_t len = 0;
            for (const char *const *k = known; *k; k++) {
                int w = snprintf(list + len, sizeof list - len, "%s%s", len ? ", " : "", *k);
                if (w < 0 || (size_t)w >= sizeof list - len) break;
                len += (size_t)w;
            }
            return as_fail(err, AS_EUNKNOWN, key, "%s is not a member of %s (it takes: %s)", key, what, list);
        }
    }
    return 0;
}

/* A string member: absent or null is NULL (an error if required). */
static int get_string(const json_t *obj, const char *field, int required, size_t max, const char **out,
                      as_error *err) {
    json_t *v = json_object_get(obj, field);
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return required ? as_fail(err, AS_EINVAL, field, "%s: is required", field) : 0;
    if (!json_is_string(v)) return as_fail(err, AS_EINVAL, field, "%s: must be a string", field);
    if (json_string_length(v) > max)
        return as_fail(err, AS_EINVAL, field, "%s: is longer than %zu bytes", field, max);
    if (memchr(json_string_value(v), '\0', json_string_length(v)))
        return as_fail(err, AS_EINVAL, field, "%s: must not contain NUL characters", field);
    *out = json_string_value(v);
    if (required && **out == '\0') return as_fail(err, AS_EINVAL, field, "%s: must not be empty", field);
    return 0;
}

static int get_id(const json_t *obj, const char *field, int required, const char **out, as_error *err) {
    if (get_string(obj, field, required, AS_ID_MAX, out, err) != 0) return -1;
    if (*out && !as_id_valid(*out))
        return as_fail(err, AS_EINVAL, field, "%s: must be 1-128 characters of A-Z a-z 0-9 . _ : -", field);
    return 0;
}

static int get_int(const json_t *obj, const char *field, int required, int64_t min, int64_t max, int64_t *out,
                   as_error *err) {
    json_t *v = json_object_get(obj, field);
    *out = AS_NONE;
    if (v == NULL || json_is_null(v))
        return required ? as_fail(err, AS_EINVAL, field, "%s: is required", field) : 0;
    if (!json_is_integer(v)) return as_fail(err, AS_EINVAL, field, "%s: must be an integer", field);
    int64_t n = json_integer_value(v);
    if (n < min || n > max)
        return as_fail(err, AS_EINVAL, field, "%s: must be between %lld and %lld", field, (long long)min,
                       (long long)max);
    *out = n;
    return 0;
}

static int get_bool(const json_t *obj, const char *field, int *out, as_error *err) {
    json_t *v = json_object_get(obj, field);
    if (v == NULL || json_is_null(v)) return 0;
    if (!json_is_boolean(v)) return as_fail(err, AS_EINVAL, field, "%s: must be true or false", field);
    *out = json_is_true(v);
    return 0;
}

/* A member of a closed vocabulary: the error lists the values. */
static int get_enum(const json_t *obj, const char *field, int (*from)(const char *), const char *names,
                    int *out, as_error *err) {
    const char *s;
    if (get_string(obj, field, 1, 64, &s, err) != 0) return -1;
    *out = from(s);
    if (*out < 0) return as_fail(err, AS_EINVAL, field, "%s: must be one of: %s", field, names);
    return 0;
}

static int get_photos(const json_t *in, const char **buf, size_t cap, case_input *ci, as_error *err) {
    json_t *photos = json_object_get(in, "photos");
    if (photos == NULL || json_is_null(photos)) return 0;
    size_t max = cap < PHOTOS_MAX ? cap : PHOTOS_MAX;
    if (!json_is_array(photos) || json_array_size(photos) > max)
        return as_fail(err, AS_EINVAL, "photos", "photos: must be an array of at most %d URLs", PHOTOS_MAX);
    size_t i;
    json_t *p;
    json_array_foreach(photos, i, p) {
        if (!json_is_string(p) || json_string_length(p) == 0 || json_string_length(p) > PHOTO_URL_MAX ||
            memchr(json_string_value(p), '\0', json_string_length(p))) {
            char field[32];
            snprintf(field, sizeof field, "photos[%zu]", i);
            return as_fail(err, AS_EINVAL, field, "%s: must be a URL string of at most %d bytes", field,
                           PHOTO_URL_MAX);
        }
        buf[i] = json_string_value(p);
    }
    ci->photos = buf;
    ci->nphotos = json_array_size(photos);
    return 0;
}

int case_input_parse(case_input *ci, const json_t *in, const char **photos_buf, size_t photos_cap,
                     as_error *err) {
    static const char *const known[] = {"type", "order_id", "buyer_id", "merchant_id", "sku", "qty",
                                        "reason", "description", "channel", "opened", "photos", NULL};
    memset(ci, 0, sizeof *ci);
    int type, reason, channel;
    if (get_enum(in, "type", case_type_from_name, case_type_names(), &type, err) != 0) return -1;
    ci->type = (case_type)type;
    if (get_id(in, "order_id", 0, &ci->order_id, err) != 0 || get_id(in, "buyer_id", 0, &ci->buyer_id, err) != 0 ||
        get_id(in, "merchant_id", 0, &ci->merchant_id, err) != 0 ||
        get_string(in, "sku", 0, AS_SKU_MAX, &ci->sku, err) != 0 ||
        get_enum(in, "reason", case_reason_from_name, case_reason_names(), &reason, err) != 0 ||
        get_enum(in, "channel", case_channel_from_name, case_channel_names(), &channel, err) != 0 ||
        get_string(in, "description", 0, TEXT_MAX, &ci->description, err) != 0 ||
        get_int(in, "qty", 0, 1, 1000000, &ci->qty, err) != 0 || get_bool(in, "opened", &ci->opened, err) != 0 ||
        get_photos(in, photos_buf, photos_cap, ci, err) != 0 || only_known(in, known, "a case", err) != 0)
        return -1;
    ci->reason = (case_reason)reason;
    ci->channel = (case_channel)channel;
    if (ci->order_id == NULL && case_type_needs_decision(ci->type))
        return as_fail(err, AS_EINVAL, "order_id", "order_id: is required for a %s case", case_type_name(ci->type));
    if (ci->order_id == NULL && ci->buyer_id == NULL)
        return as_fail(err, AS_EINVAL, "buyer_id", "buyer_id: order_id or buyer_id is required");
    return 0;
}

/* The members each action takes besides "action" (NULL-terminated lists). */
static const char *const *action_members(case_action a) {
    static const char *const with_reason[] = {"action", "reason", NULL};
    static const char *const approve[] = {"action", "reason", "amount_cents", NULL};
    static const char *const shipment[] = {"action", "carrier", "tracking_no", NULL};
    static const char *const with_notes[] = {"action", "notes", NULL};
    static const char *const inspect[] = {"action", "result", "notes", "amount_cents", NULL};
    static const char *const refund[] = {"action", "amount_cents", NULL};
    static const char *const resolve[] = {"action", "resolution", NULL};
    static const char *const reply[] = {"action", "by", "body", NULL};
    static const char *const note[] = {"action", "body", NULL};
    static const char *const assign[] = {"action", "agent_id", NULL};
    switch (a) {
    case ACT_APPROVE: return approve;
    case ACT_SHIP_BACK:
    case ACT_SHIP_TO_CUSTOMER: return shipment;
    case ACT_RECEIVE:
    case ACT_REPAIR_DONE: return with_notes;
    case ACT_INSPECT: return inspect;
    case ACT_REFUND: return refund;
    case ACT_RESOLVE: return resolve;
    case ACT_REPLY: return reply;
    case ACT_NOTE: return note;
    case ACT_ASSIGN: return assign;
    default: return with_reason; /* reject, cancel, close, reopen, escalate */
    }
}

int action_input_parse(action_input *ai, const json_t *in, as_error *err) {
    memset(ai, 0, sizeof *ai);
    ai->amount_cents = AS_NONE;
    const char *name;
    if (get_string(in, "action", 1, 64, &name, err) != 0) return -1;
    int a = case_action_from_name(name);
    if (a < 0) return as_fail(err, AS_EUNKNOWN, "action", "action: '%s' is not an action of the case lifecycle", name);
    ai->action = (case_action)a;
    ai->args = in;
    const char *result = NULL;
    if (only_known(in, action_members(ai->action), name, err) != 0 ||
        get_string(in, "reason", 0, SHORT_MAX, &ai->reason, err) != 0 ||
        get_string(in, "carrier", 0, LABEL_MAX, &ai->carrier, err) != 0 ||
        get_string(in, "tracking_no", 0, LABEL_MAX, &ai->tracking_no, err) != 0 ||
        get_string(in, "notes", 0, SHORT_MAX, &ai->notes, err) != 0 ||
        get_string(in, "by", 0, 16, &ai->by, err) != 0 ||
        get_string(in, "body", 0, MESSAGE_MAX, &ai->body, err) != 0 ||
        get_id(in, "agent_id", 0, &ai->agent_id, err) != 0 ||
        get_string(in, "resolution", 0, SHORT_MAX, &ai->resolution, err) != 0 ||
        get_int(in, "amount_cents", 0, 1, INT64_MAX / 4, &ai->amount_cents, err) != 0 ||
        get_string(in, "result", ai->action == ACT_INSPECT, 16, &result, err) != 0)
        return -1;
    if (result) {
        if (strcmp(result, "pass") == 0) ai->variant = VAR_PASS;
        else if (strcmp(result, "fail") == 0) ai->variant = VAR_FAIL;
        else return as_fail(err, AS_EINVAL, "result", "result: must be pass or fail");
    }
    if (ai->by && strcmp(ai->by, "agent") != 0 && strcmp(ai->by, "customer") != 0)
        return as_fail(err, AS_EINVAL, "by", "by: must be agent or customer");
    return 0;
}

/* A required member: present and not empty. */
static int need(const char *v, const char *field, as_error *err) {
    if (v && v[0]) return 0;
    return as_fail(err, AS_EINVAL, field, v ? "%s: must not be empty" : "%s: is required", field);
}

int action_input_require(const action_input *ai, as_error *err) {
    switch (ai->action) {
    case ACT_SHIP_BACK:
    case ACT_SHIP_TO_CUSTOMER: return need(ai->carrier, "carrier", err) || need(ai->tracking_no, "tracking_no", err) ? -1 : 0;
    case ACT_REFUND:
        return ai->amount_cents == AS_NONE ? as_fail(err, AS_EINVAL, "amount_cents", "amount_cents: is required") : 0;
    case ACT_RESOLVE: return need(ai->resolution, "resolution", err);
    case ACT_REOPEN:
    case ACT_ESCALATE: return need(ai->reason, "reason", err);
    case ACT_REPLY: return need(ai->by, "by", err) || need(ai->body, "body", err) ? -1 : 0;
    case ACT_NOTE: return need(ai->body, "body", err);
    case ACT_ASSIGN: return need(ai->agent_id, "agent_id", err);
    default: return 0;
    }
}

int survey_answer_parse(survey_answer *sa, const json_t *in, as_error *err) {
    static const char *const known[] = {"csat", "nps", "comment", NULL};
    memset(sa, 0, sizeof *sa);
    if (get_int(in, "csat", 1, 1, 5, &sa->csat, err) != 0 || get_int(in, "nps", 0, 0, 10, &sa->nps, err) != 0 ||
        get_string(in, "comment", 0, COMMENT_MAX, &sa->comment, err) != 0 ||
        only_known(in, known, "a survey answer", err) != 0)
        return -1;
    return 0;
}

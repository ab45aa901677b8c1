/* api/decide: how the core asks the policies and records what they said.
 *
 * Policies see views of the case and order (no PII, the order line attached
 * as case.item) and a read-only ctx. Every call leaves a timeline note: a
 * "decision" with module, function, policy version, inputs and output, or a
 * "policy.error" when the policy failed, looped or broke a cap; the caller
 * then falls back to a safe default (manual review) so no case is lost. */
#include <string.h>

#include "api/api.h"
#include "api/decide.h"
#include "time/calendar.h"

static json_t *customer_cb(void *ud, const char *buyer_id) {
    return customer_profile((server *)ud, buyer_id);
}

void policy_ctx_init(server *s, policy_ctx *ctx, const char *merchant_id, json_t *log) {
    ctx->now = server_now(s);
    ctx->merchant_id = merchant_id;
    ctx->customer = customer_cb;
    ctx->ud = s;
    ctx->log = log;
}

/* The order line a case is about: the one with its sku, or the only one. */
const json_t *order_item(const json_t *order, const char *sku) {
    json_t *items = json_object_get(order, "items");
    if (sku == NULL) return json_array_size(items) == 1 ? json_array_get(items, 0) : NULL;
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
        const char *s = json_string_value(json_object_get(it, "sku"));
        if (s && strcmp(s, sku) == 0) return it;
    }
    return NULL;
}

static json_t *view_of(const json_t *v);

/* An object without its null members: a policy sees them as nil, absent, and
 * its decision record keeps exactly what it saw, smaller. */
static json_t *object_view(const json_t *o) {
    json_t *v = json_object();
    const char *k;
    json_t *m;
    json_object_foreach((json_t *)o, k, m) {
        if (json_is_null(m)) continue;
        if (v == NULL || json_object_set_new(v, k, view_of(m)) != 0) {
            json_decref(v);
            return NULL;
        }
    }
    return v;
}

/* A copy the case can no longer change: objects and arrays are new, scalars
 * shared (nothing here changes a scalar in place; members are replaced). */
static json_t *view_of(const json_t *v) {
    if (json_is_object(v)) return object_view(v);
    if (!json_is_array(v)) return json_incref((json_t *)v);
    json_t *a = json_array();
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) {
        if (a == NULL || json_array_append_new(a, view_of(x)) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

json_t *policy_case_view(const json_t *kase, const json_t *order) {
    json_t *v = view_of(kase);
    if (v == NULL) return NULL;
    const json_t *item = order ? order_item(order, json_string_value(json_object_get(kase, "sku")))
                               : NULL;
    if (item) json_object_set_new(v, "item", view_of(item));
    if (!json_is_true(json_object_get(v, "escalated")))
        json_object_set_new(v, "escalated", json_false());
    if (!json_is_true(json_object_get(v, "followup")))
        json_object_set_new(v, "followup", json_false());
    return v;
}

json_t *policy_order_view(const json_t *order) {
    if (order == NULL) return json_null();
    json_t *v = view_of(order);
    if (v == NULL) return NULL;
    json_object_del(v, "case_ids");
    json_t *buyer = json_object_get(v, "buyer");
    if (json_is_object(buyer)) {
        json_object_del(buyer, "phone");
        json_object_del(buyer, "email");
    }
    return v;
}

static void note(json_t *notes, const char *type, json_t *data) {
    json_array_append_new(notes, json_pack("{s:s,s:o}", "type", type, "data", data));
}

/* A policy answered, but not what the core can use: a policy.error note that
 * names the version, like one for a policy that failed. */
static void answer_error(server *s, json_t *notes, const char *module, const char *fn, const char *err) {
    note(notes, "policy.error", json_pack("{s:s,s:s,s:s,s:s}", "module", module, "function", fn,
                                          "policy_version", policy_set_version(s->policies), "error", err));
}

json_t *decide_call(server *s, const char *merchant, const char *module, const char *fn,
                    json_t *const *args, int nargs, json_t *notes) {
    json_t *logs = json_array();
    policy_ctx ctx;
    policy_ctx_init(s, &ctx, merchant, logs);
    json_t *result = NULL;
    char err[1024] = "";
    int rc = policy_call(s->policies, merchant, module, fn, args, nargs, &ctx, &result, err,
                         sizeof err);
    json_t *inputs = json_array();
    for (int i = 0; i < nargs; i++) json_array_append(inputs, args[i]);
    const char *version = policy_set_version(s->policies);
    if (rc != 0) {
        note(notes, "policy.error",
             json_pack("{s:s,s:s,s:s,s:s,s:o,s:o}", "module", module, "function", fn,
                       "policy_version", version, "error", err, "inputs", inputs, "logs", logs));
        return NULL;
    }
    note(notes, "decision",
         json_pack("{s:s,s:s,s:s,s:o,s:O,s:o}", "module", module, "function", fn,
                   "policy_version", version, "inputs", inputs, "output", result, "logs", logs));
    return result;
}

/* A string field of a policy result, or NULL. */
static const char *result_str(const json_t *r, const char *field) {
    return json_string_value(json_object_get(r, field));
}

static int outcome_valid(const char *o) {
    return o && (!strcmp(o, "approve") || !strcmp(o, "reject") || !strcmp(o, "review"));
}

/* The shadow set decides too; its answer only goes on the timeline. */
static void shadow_eligibility(server *s, const char *merchant, json_t *const *args, json_t *notes) {
    if (s->shadow == NULL) return;
    policy_set *active = s->policies;
    json_t *shadow_notes = json_array();
    s->policies = s->shadow;
    json_decref(decide_call(s, merchant, "returns", "evaluate", args, 2, shadow_notes));
    s->policies = active;
    size_t i;
    json_t *n;
    json_array_foreach(shadow_notes, i, n) {
        const char *type = json_string_value(json_object_get(n, "type"));
        json_array_append_new(notes, json_pack("{s:s,s:O}", "type",
                                               !strcmp(type, "decision") ? "shadow.decision" : "shadow.error",
                                               "data", json_object_get(n, "data")));
    }
    json_decref(shadow_notes);
}

json_t *decide_eligibility(server *s, const json_t *kase, const json_t *order, json_t *notes) {
    const char *merchant = json_string_value(json_object_get(kase, "merchant_id"));
    json_t *args[2] = {policy_case_view(kase, order), policy_order_view(order)};
    json_t *r = decide_call(s, merchant, "returns", "evaluate", args, 2, notes);
    shadow_eligibility(s, merchant, args, notes);
    json_decref(args[0]);
    json_decref(args[1]);
    const char *outcome = result_str(r, "outcome");
    json_t *d;
    if (!outcome_valid(outcome)) {
        if (r != NULL) answer_error(s, notes, "returns", "evaluate", "outcome must be approve, reject or review");
        d = json_pack("{s:s,s:s,s:s}", "outcome", "review", "reason_code", "policy_error",
                      "message", "the eligibility policy failed; the case waits for a person");
    } else {
        d = json_pack("{s:s,s:s?,s:s?,s:s?}", "outcome", outcome, "reason_code",
                      result_str(r, "reason_code"), "message", result_str(r, "message"),
                      "shipping_paid_by", result_str(r, "shipping_paid_by"));
    }
    json_decref(r);
    json_object_set_new(d, "policy_version", json_string(policy_set_version(s->policies)));
    json_object_set_new(d, "module", json_string("returns"));
    json_object_set_new(d, "function", json_string("evaluate"));
    json_object_set_new(d, "at", json_integer(server_now(s)));
    return d;
}

int decide_refund(server *s, const json_t *kase, const json_t *order, json_t *notes,
                  int64_t *amount) {
    const char *merchant = json_string_value(json_object_get(kase, "merchant_id"));
    json_t *args[2] = {policy_case_view(kase, order), policy_order_view(order)};
    json_t *r = decide_call(s, merchant, "compensation", "refund", args, 2, notes);
    json_decref(args[0]);
    json_decref(args[1]);
    json_t *a = json_object_get(r, "amount_cents");
    int ok = json_is_integer(a) && json_integer_value(a) >= 0;
    if (ok) *amount = json_integer_value(a);
    else if (r != NULL)
        answer_error(s, notes, "compensation", "refund", "amount_cents must be a non-negative integer");
    json_decref(r);
    return ok ? 0 : -1;
}

/* Queue when routing fails: the spec's default routing, in C. */
static const char *fallback_queue(const char *type) {
    if (!strcmp(type, "consultation") || !strcmp(type, "logistics")) return "customer_service";
    if (!strcmp(type, "repair")) return "tech_support";
    if (!strcmp(type, "complaint")) return "quality";
    return "after_sales";
}

void decide_route(server *s, json_t *kase, const json_t *order, json_t *notes) {
    const char *merchant = json_string_value(json_object_get(kase, "merchant_id"));
    json_t *args[1] = {policy_case_view(kase, order)};
    json_t *r = decide_call(s, merchant, "routing", "route", args, 1, notes);
    json_decref(args[0]);
    const char *queue = result_str(r, "queue");
    json_t *prio = json_object_get(r, "priority");
    json_int_t p = json_is_integer(prio) ? json_integer_value(prio) : 3;
    if (p < 1) p = 1;
    if (p > 5) p = 5;
    if (queue == NULL || !id_valid(queue))
        queue = fallback_queue(json_string_value(json_object_get(kase, "type")));
    json_object_set_new(kase, "queue", json_string(queue));
    json_object_set_new(kase, "priority", json_integer(p));
    json_t *skills = json_object_get(r, "skills");
    json_object_set_new(kase, "skills", json_is_array(skills) ? json_deep_copy(skills) : json_array());
    json_decref(r);
}

/* Due instants from sla.targets; business targets run on sla.calendar. */
void decide_sla(server *s, json_t *kase, const json_t *order, json_t *notes) {
    const char *merchant = json_string_value(json_object_get(kase, "merchant_id"));
    json_t *args[1] = {policy_case_view(kase, order)};
    json_t *r = decide_call(s, merchant, "sla", "targets", args, 1, notes);
    json_decref(args[0]);
    int business = json_is_true(json_object_get(r, "business"));
    int64_t start = json_integer_value(json_object_get(kase, "created_at"));
    const calendar *cal = NULL;
    if (business) {
        char err[256];
        cal = policy_calendar(s->policies, merchant, err, sizeof err);
        if (err[0]) answer_error(s, notes, "sla", "calendar", err);
    }
    json_t *sla = json_object_get(kase, "sla");
    const char *fields[2][2] = {{"first_response", "first_response_due"},
                                {"resolution", "resolution_due"}};
    for (int i = 0; i < 2; i++) {
        json_t *secs = json_object_get(r, fields[i][0]);
        if (!json_is_integer(secs) || json_integer_value(secs) <= 0) continue;
        int64_t n = json_integer_value(secs);
        int64_t due = cal ? calendar_add_business_seconds(cal, start, n)
                          : n > INT64_MAX - start ? CALENDAR_NEVER : start + n;
        /* a target never reached (a calendar without working time left, a
         * target past the last second) is no target: null, no timer */
        if (due != CALENDAR_NEVER) json_object_set_new(sla, fields[i][1], json_integer(due));
    }
    json_object_set_new(sla, "business", json_boolean(business && cal != NULL));
    json_decref(r);
}

void decide_compensation(server *s, json_t *kase, const json_t *order, json_t *notes) {
    const char *merchant = json_string_value(json_object_get(kase, "merchant_id"));
    if (!policy_has(s->policies, merchant, "compensation", "compensate")) return;
    json_t *args[2] = {policy_case_view(kase, order), policy_order_view(order)};
    json_t *r = decide_call(s, merchant, "compensation", "compensate", args, 2, notes);
    json_decref(args[0]);
    json_decref(args[1]);
    json_t *coupon = json_object_get(r, "coupon_cents");
    if (json_is_integer(coupon) && json_integer_value(coupon) > 0)
        json_object_set_new(kase, "compensation",
                            json_pack("{s:O,s:s?}", "coupon_cents", coupon, "reason",
                                      result_str(r, "reason")));
    json_decref(r);
}

void decide_survey(server *s, json_t *kase, json_t *notes) {
    const char *merchant = json_string_value(json_object_get(kase, "merchant_id"));
    json_t *survey = json_object_get(kase, "survey");
    if (!json_is_object(survey) || !policy_has(s->policies, merchant, "survey", "plan")) return;
    /* one survey per case: a case resolved again after a reopen is not asked twice */
    if (json_is_integer(json_object_get(survey, "sent_at")) || json_is_integer(json_object_get(survey, "csat")))
        return;
    json_t *args[1] = {policy_case_view(kase, NULL)};
    json_t *r = decide_call(s, merchant, "survey", "plan", args, 1, notes);
    json_decref(args[0]);
    json_t *after = json_object_get(r, "send_after");
    int64_t now = server_now(s);
    if (json_is_integer(after) && json_integer_value(after) >= 0 && json_integer_value(after) <= INT64_MAX - now) {
        json_object_set_new(survey, "due_at", json_integer(now + json_integer_value(after)));
        json_object_set(survey, "questions", json_is_array(json_object_get(r, "questions"))
                                                 ? json_object_get(r, "questions") : json_null());
    }
    json_decref(r);
}

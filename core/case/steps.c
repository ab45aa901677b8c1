/* case/steps: the policy-driven steps the operations share: routing, SLA
 * targets, goodwill, the survey plan, the refund amount, and assignment. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "case/internal.h"

int64_t clamp_priority(int64_t p) { return p < 1 ? 1 : p > 5 ? 5 : p; }

/* Queue when routing fails: the spec's default routing. */
static const char *fallback_queue(const as_case *c) {
    if (c->followup) return "quality";
    switch (c->type) {
    case CASE_CONSULTATION:
    case CASE_LOGISTICS: return "customer_service";
    case CASE_REPAIR: return "tech_support";
    case CASE_COMPLAINT: return "quality";
    default: return "after_sales";
    }
}

void step_route(decide_req *q, as_case *c) {
    static const decide_arg args[] = {ARG_CASE};
    policy_result r;
    int ok = decide_call(q, "routing", "route", args, 1, NULL, SCHEMA_ROUTE, NFIELDS(SCHEMA_ROUTE), &r) == 0;
    const char *queue = ok && r.f[RT_QUEUE].present ? r.f[RT_QUEUE].s : NULL;
    if (queue && !as_id_valid(queue)) {
        decide_answer_error(q, "routing", "route", "queue '%.64s' is not a queue name (A-Z a-z 0-9 . _ : -)", queue);
        queue = NULL;
    }
    AS_IDSET(c->queue, queue ? queue : fallback_queue(c));
    c->priority = clamp_priority(ok && r.f[RT_PRIORITY].present ? r.f[RT_PRIORITY].i : 3);
    free(c->skills);
    c->skills = NULL;
    c->nskills = 0;
    const policy_fval *sk = ok ? &r.f[RT_SKILLS] : NULL;
    if (sk && sk->n > 0 && (c->skills = calloc(sk->n, sizeof *c->skills)) != NULL) {
        for (size_t i = 0; i < sk->n; i++)
            if (as_id_valid(sk->list[i])) AS_IDSET(c->skills[c->nskills++], sk->list[i]);
    } else if (sk && sk->n > 0) {
        q->ch->failed = 1;
    }
    policy_result_free(&r);
}

void step_sla(decide_req *q, as_case *c) {
    static const decide_arg args[] = {ARG_CASE};
    policy_result r;
    if (decide_call(q, "sla", "targets", args, 1, NULL, SCHEMA_TARGETS, NFIELDS(SCHEMA_TARGETS), &r) != 0) return;
    int business = r.f[SL_BUSINESS].present && r.f[SL_BUSINESS].b;
    const calendar *cal = NULL;
    if (business) {
        char err[256] = "";
        cal = policy_calendar(q->d->policies, q->merchant, err, sizeof err);
        if (err[0]) decide_answer_error(q, "sla", "calendar", "%s", err);
    }
    int64_t *due[2] = {&c->sla.first_response_due, &c->sla.resolution_due};
    int fields[2] = {SL_FIRST_RESPONSE, SL_RESOLUTION};
    for (int i = 0; i < 2; i++) {
        const policy_fval *v = &r.f[fields[i]];
        if (!v->present || v->i <= 0) continue;
        int64_t at = cal ? calendar_add_business_seconds(cal, c->created_at, v->i)
                         : v->i > INT64_MAX - c->created_at ? CALENDAR_NEVER : c->created_at + v->i;
        /* a target never reached (a calendar without working time left, a
         * target past the last second) is no target: null, no timer */
        if (at != CALENDAR_NEVER) *due[i] = at;
    }
    c->sla.business = business && cal != NULL;
    policy_result_free(&r);
}

void step_compensate(decide_req *q, as_case *c) {
    static const decide_arg args[] = {ARG_CASE, ARG_ORDER};
    if (!decide_has(q, "compensation", "compensate")) return;
    policy_result r;
    if (decide_call(q, "compensation", "compensate", args, q->order ? 2 : 1, NULL, SCHEMA_COMPENSATE,
                    NFIELDS(SCHEMA_COMPENSATE), &r) != 0)
        return;
    if (r.f[CP_COUPON].present && r.f[CP_COUPON].i > 0) {
        c->compensation.coupon_cents = r.f[CP_COUPON].i;
        if (as_strset(&c->compensation.reason, r.f[CP_REASON].s) != 0) q->ch->failed = 1;
    }
    policy_result_free(&r);
}

void step_survey_plan(decide_req *q, as_case *c) {
    static const decide_arg args[] = {ARG_CASE};
    as_survey *sv = &c->survey;
    /* one survey per case: a case resolved again after a reopen is not asked twice */
    if (sv->sent_at != AS_NONE || sv->csat != AS_NONE || !decide_has(q, "survey", "plan")) return;
    policy_result r;
    if (decide_call(q, "survey", "plan", args, 1, NULL, SCHEMA_PLAN, NFIELDS(SCHEMA_PLAN), &r) != 0) return;
    if (!r.nil && r.f[PL_SEND_AFTER].present && r.f[PL_SEND_AFTER].i >= 0 &&
        r.f[PL_SEND_AFTER].i <= INT64_MAX - q->d->now) { /* a survey past the last second is none */
        sv->due_at = q->d->now + r.f[PL_SEND_AFTER].i;
        json_t *out = json_loads(r.output, 0, NULL);
        json_t *questions = json_object_get(out, "questions");
        free(sv->questions_json);
        sv->questions_json = json_is_array(questions) ? json_dumps(questions, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(out);
    }
    policy_result_free(&r);
}

int step_refund_amount(decide_req *q, int64_t *amount) {
    static const decide_arg args[] = {ARG_CASE, ARG_ORDER};
    policy_result r;
    if (decide_call(q, "compensation", "refund", args, q->order ? 2 : 1, NULL, SCHEMA_REFUND,
                    NFIELDS(SCHEMA_REFUND), &r) != 0)
        return -1;
    int ok = r.f[RF_AMOUNT].present && r.f[RF_AMOUNT].i >= 0;
    if (ok) *amount = r.f[RF_AMOUNT].i;
    else decide_answer_error(q, "compensation", "refund", "amount_cents must be a non-negative integer");
    policy_result_free(&r);
    return ok ? 0 : -1;
}

void step_assign(const as_decider *d, as_changes *ch, const as_actor *who, as_case *c, const char *by) {
    if (d->agents == NULL) return;
    const as_agent *a = agents_pick(d->agents, c->queue, c->skills, c->nskills);
    const char *now = a ? a->agent_id : "";
    if (strcmp(now, c->assignee) == 0) return;
    members_w m;
    emitter *e = mw_begin(&m);
    emit_key(e, "agent_id");
    emit_str(e, a ? a->agent_id : NULL);
    emit_key(e, "from");
    emit_str(e, c->assignee[0] ? c->assignee : NULL);
    emit_kstr(e, "by", by);
    note_from(ch, "assignment", who, d->now, &m);
    AS_IDSET(c->assignee, now);
}

int64_t risk_rule(const as_decider *d, const char *merchant, const char *name, int64_t dflt) {
    json_t *rules = NULL;
    char err[256];
    policy_ctx ctx = {.now = d->now, .merchant_id = merchant};
    int64_t v = dflt;
    if (policy_value(d->policies, merchant, "risk", "rules", &ctx, &rules, err, sizeof err) == 0) {
        json_t *x = json_object_get(rules, name);
        if (json_is_integer(x) && json_integer_value(x) > 0) v = json_integer_value(x);
    }
    json_decref(rules);
    return v;
}

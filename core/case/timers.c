/* case/timers: the due-timers that move cases with time, and firing them.
 *
 * A case's timers are derived from the case itself, like its indexes: an SLA
 * target not met yet, a survey not sent yet, a resolved case not closed yet.
 * The commit diffs the timers of the case before and after a change, so a
 * timer disappears by itself when its reason does (an agent replied, the
 * case was resolved). Firing one is an operation like an action: it runs as
 * of the timer's due time (or of the case's last change, if that came later:
 * a timer re-armed in the past must not date its effects before what the
 * case already shows). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "case/internal.h"

#define AUTO_CLOSE_AFTER (7 * 86400)
/* An SLA target is met by an answer at or before its due instant ("within 2
 * hours" includes the 7200th second), so the breach fires the second after. */
#define BREACH_AFTER_DUE 1

static const char *const timer_names[TIMER__KINDS] = {
    [TIMER_FIRST_RESPONSE] = "first_response", [TIMER_RESOLUTION] = "resolution",
    [TIMER_SURVEY] = "survey", [TIMER_AUTO_CLOSE] = "auto_close",
    [TIMER_WARN_FIRST_RESPONSE] = "warn_first_response", [TIMER_WARN_RESOLUTION] = "warn_resolution",
    [TIMER_ESCALATION] = "escalation"};

const char *timer_kind_name(timer_kind k) { return k >= 0 && k < TIMER__KINDS ? timer_names[k] : NULL; }

int timer_kind_from_name(const char *name) {
    for (int k = 0; name && k < TIMER__KINDS; k++)
        if (strcmp(name, timer_names[k]) == 0) return k;
    return -1;
}

/* Adds the timer due `delay` seconds after `at`, unless that is past the
 * last representable second (a due stored by an earlier build as "never"):
 * the sum would wrap and fire at once. */
static void want(case_timer *out, int *n, timer_kind kind, int64_t at, int64_t delay) {
    if (at > INT64_MAX - delay) return;
    out[(*n)++] = (case_timer){kind, at + delay};
}

int case_timers(const as_case *c, case_timer out[CASE_TIMERS_MAX]) {
    int n = 0;
    if (c == NULL) return 0;
    if (case_status_active(c->status)) {
        int running[SLA__KINDS] = {
            c->sla.first_response_due != AS_NONE && c->first_response_at == AS_NONE &&
                !case_breached(c, SLA_FIRST_RESPONSE),
            c->sla.resolution_due != AS_NONE && !case_breached(c, SLA_RESOLUTION)};
        if (running[SLA_FIRST_RESPONSE])
            want(out, &n, TIMER_FIRST_RESPONSE, c->sla.first_response_due, BREACH_AFTER_DUE);
        if (running[SLA_RESOLUTION]) want(out, &n, TIMER_RESOLUTION, c->sla.resolution_due, BREACH_AFTER_DUE);
        /* every warning not sent yet has its timer, so a jump of the clock
         * still fires them in due order, before the breach */
        for (int i = 0; i < c->sla.nwarnings; i++) {
            const as_sla_warning *w = &c->sla.warnings[i];
            if (w->sent_at == AS_NONE && running[w->kind])
                want(out, &n, w->kind == SLA_FIRST_RESPONSE ? TIMER_WARN_FIRST_RESPONSE : TIMER_WARN_RESOLUTION,
                     w->due, 0);
        }
        if (c->sla.escalation_level >= 1 && c->sla.next_escalation_at != AS_NONE)
            want(out, &n, TIMER_ESCALATION, c->sla.next_escalation_at, 0);
    }
    if (c->status == ST_RESOLVED) {
        if (c->survey.due_at != AS_NONE && c->survey.sent_at == AS_NONE) want(out, &n, TIMER_SURVEY, c->survey.due_at, 0);
        if (c->resolved_at != AS_NONE) want(out, &n, TIMER_AUTO_CLOSE, c->resolved_at, AUTO_CLOSE_AFTER);
    }
    return n;
}

int case_wants_timer(const as_case *c, timer_kind kind, int64_t due) {
    case_timer set[CASE_TIMERS_MAX];
    int n = case_timers(c, set);
    for (int i = 0; i < n; i++)
        if (set[i].kind == kind && set[i].due == due) return 1;
    return 0;
}

int64_t case_timer_due(const as_case *c, timer_kind kind) {
    case_timer set[CASE_TIMERS_MAX];
    int n = case_timers(c, set);
    for (int i = 0; i < n; i++)
        if (set[i].kind == kind) return set[i].due;
    return -1;
}

/* The instant `after` seconds past `at`, or AS_NONE past the last second. */
static int64_t later(int64_t at, int64_t after) { return after > INT64_MAX - at ? AS_NONE : at + after; }

/* A level of the ladder reached: timeline sla.escalated and feed sla.escalated. */
static void record_escalation(decide_req *q, const as_case *c, int64_t level, const char *kind, int alert_merchant) {
    for (int pass = 0; pass < 2; pass++) {
        members_w m;
        emitter *e = mw_begin(&m);
        emit_kint(e, "level", level);
        emit_kstr(e, "kind", kind);
        emit_kint(e, "priority", c->priority);
        emit_kstr(e, "queue", c->queue[0] ? c->queue : NULL);
        emit_kbool(e, "alert_merchant", alert_merchant);
        emit_kopt(e, "next_at", c->sla.next_escalation_at);
        if (pass == 0) note_from(q->ch, "sla.escalated", NULL, q->d->now, &m);
        else event_from(q->ch, "sla.escalated", q->d->now, &m, EV_CASE_NONE);
    }
}

/* The first target the case missed (the ladder's cause), or NULL. */
static const char *first_breach(const as_case *c) {
    for (int k = 0; k < SLA__KINDS; k++)
        if (case_breached(c, (sla_kind)k)) return sla_kind_name((sla_kind)k);
    return NULL;
}

/* An SLA target passed: mark it, and let sla.on_breach escalate. An
 * escalation starts the ladder at level 1 (once per case); next_after arms
 * its next level. */
static void fire_breach(decide_req *q, as_case *c, sla_kind kind) {
    static const decide_arg args[] = {ARG_CASE, ARG_KIND};
    const char *name = sla_kind_name(kind);
    policy_result r;
    int ok = decide_call(q, "sla", "on_breach", args, 2, name, SCHEMA_ON_BREACH, NFIELDS(SCHEMA_ON_BREACH), &r) == 0;
    int escalated = 0;
    c->sla.breached |= 1u << kind;
    members_w m;
    emitter *e = mw_begin(&m);
    emit_kstr(e, "kind", name);
    note_from(q->ch, "sla.breached", NULL, q->d->now, &m);
    if (ok && r.f[BR_ESCALATE].present && r.f[BR_ESCALATE].b) {
        int64_t next = r.f[BR_PRIORITY].present ? r.f[BR_PRIORITY].i : (c->priority > 1 ? c->priority - 1 : 1);
        c->priority = clamp_priority(next);
        c->escalated = 1;
        const char *queue = r.f[BR_QUEUE].present ? r.f[BR_QUEUE].s : NULL;
        if (queue && as_id_valid(queue) && strcmp(queue, c->queue) != 0) {
            AS_IDSET(c->queue, queue);
            step_assign(q->d, q->ch, NULL, c, "sla_breach");
        }
        int started = c->sla.escalation_level == 0;
        if (started) {
            c->sla.escalation_level = 1;
            c->sla.escalated_at = q->d->now;
        }
        if (r.f[BR_NEXT_AFTER].present && r.f[BR_NEXT_AFTER].i > 0 && c->sla.next_escalation_at == AS_NONE)
            c->sla.next_escalation_at = later(q->d->now, r.f[BR_NEXT_AFTER].i);
        escalated = started;
    }
    if (ok) policy_result_free(&r);
    e = mw_begin(&m);
    emit_kstr(e, "kind", name);
    changes_alert(q->ch, "sla_breach", q->d->now, mw_take(&m), "sla_breach: case %s missed its %s target",
                  c->case_id, name);
    e = mw_begin(&m);
    emit_kstr(e, "kind", name);
    event_from(q->ch, "sla.breached", q->d->now, &m, EV_CASE_NONE);
    if (escalated) record_escalation(q, c, 1, name, 0); /* level 1, after the breach it follows */
}

/* The ladder's next level: sla.escalate(case, step) says what it does (a
 * priority, a queue, an alert to the merchant) and when the level after it
 * comes; nil, a failure or the last level ends the ladder. */
static void fire_escalation(decide_req *q, as_case *c) {
    static const decide_arg args[] = {ARG_CASE, ARG_STEP};
    int64_t level = c->sla.escalation_level + 1;
    c->sla.next_escalation_at = AS_NONE;
    if (level > SLA_ESCALATION_MAX || !decide_has(q, "sla", "escalate")) return;
    const char *kind = first_breach(c);
    escalation_step step = {level, kind, c->sla.escalated_at};
    q->step = &step;
    policy_result r;
    if (decide_call(q, "sla", "escalate", args, 2, NULL, SCHEMA_ESCALATE, NFIELDS(SCHEMA_ESCALATE), &r) != 0) return;
    if (r.nil) {
        policy_result_free(&r);
        return;
    }
    c->sla.escalation_level = level;
    c->escalated = 1;
    if (r.f[ES_PRIORITY].present) c->priority = clamp_priority(r.f[ES_PRIORITY].i);
    const char *queue = r.f[ES_QUEUE].present ? r.f[ES_QUEUE].s : NULL;
    if (queue && !as_id_valid(queue)) {
        decide_answer_error(q, "sla", "escalate", "queue '%.64s' is not a queue name (A-Z a-z 0-9 . _ : -)", queue);
    } else if (queue && strcmp(queue, c->queue) != 0) {
        AS_IDSET(c->queue, queue);
        step_assign(q->d, q->ch, NULL, c, "escalation");
    }
    if (r.f[ES_NEXT_AFTER].present && r.f[ES_NEXT_AFTER].i > 0 && level < SLA_ESCALATION_MAX)
        c->sla.next_escalation_at = later(q->d->now, r.f[ES_NEXT_AFTER].i);
    int alert = r.f[ES_ALERT_MERCHANT].present && r.f[ES_ALERT_MERCHANT].b;
    policy_result_free(&r);
    record_escalation(q, c, level, kind, alert);
    if (alert) {
        members_w m;
        emitter *e = mw_begin(&m);
        emit_kint(e, "level", level);
        emit_kstr(e, "kind", kind);
        changes_alert(q->ch, "sla_escalation", q->d->now, mw_take(&m),
                      "sla_escalation: case %s reached escalation level %lld%s%s", c->case_id, (long long)level,
                      kind ? " after missing its target: " : "", kind ? kind : "");
    }
}

/* The target's warnings due by now (sla.warnings): each sent once, with a
 * timeline entry, an alert and a feed event. */
static void fire_warnings(decide_req *q, as_case *c, sla_kind kind) {
    const char *name = sla_kind_name(kind);
    int64_t target = kind == SLA_FIRST_RESPONSE ? c->sla.first_response_due : c->sla.resolution_due;
    for (int i = 0; i < c->sla.nwarnings; i++) {
        as_sla_warning *w = &c->sla.warnings[i];
        if (w->kind != kind || w->sent_at != AS_NONE || w->due > q->d->now) continue;
        w->sent_at = q->d->now;
        for (int pass = 0; pass < 3; pass++) {
            members_w m;
            emitter *e = mw_begin(&m);
            emit_kstr(e, "kind", name);
            emit_kint(e, "percent", w->percent);
            emit_kopt(e, "due_at", target);
            if (pass == 0) note_from(q->ch, "sla.warning", NULL, q->d->now, &m);
            else if (pass == 1) event_from(q->ch, "sla.warning", q->d->now, &m, EV_CASE_NONE);
            else
                changes_alert(q->ch, "sla_warning", q->d->now, mw_take(&m),
                              "sla_warning: case %s is at %lld%% of its %s target (due %lld)", c->case_id,
                              (long long)w->percent, name, (long long)target);
        }
    }
}

static void fire_survey(decide_req *q, as_case *c) {
    c->survey.sent_at = q->d->now;
    members_w m;
    mw_begin(&m);
    note_from(q->ch, "survey.sent", NULL, q->d->now, &m);
    emitter *e = mw_begin(&m);
    emit_kstr(e, "buyer_id", c->buyer_id[0] ? c->buyer_id : NULL);
    emit_key(e, "questions");
    if (c->survey.questions_json) e->ops->raw(e, c->survey.questions_json, strlen(c->survey.questions_json));
    else emit_null(e);
    event_from(q->ch, "survey.requested", q->d->now, &m, EV_CASE_NONE);
}

static void fire_auto_close(decide_req *q, as_case *c) {
    c->status = ST_CLOSED;
    c->stage = STG_CLOSED;
    c->closed_at = q->d->now;
    members_w m;
    emitter *e = mw_begin(&m);
    emit_kstr(e, "closed_by", "auto_close");
    note_from(q->ch, "status", NULL, q->d->now, &m);
    e = mw_begin(&m);
    emit_kstr(e, "action", "auto_close");
    emit_kstr(e, "status", "closed");
    emit_kstr(e, "stage", "closed");
    event_from(q->ch, "case.updated", q->d->now, &m, EV_CASE_MEMBER);
}

int case_fire_timer(const as_decider *d0, const as_case *c, timer_kind kind, int64_t due, as_changes *out) {
    as_decider d = *d0;
    d.now = due > c->updated_at ? due : c->updated_at;
    if (changes_begin_update(out, c) != 0) return -1;
    as_case *k = out->after;
    decide_req q;
    decide_begin(&q, &d, out, NULL, k, NULL);
    switch (kind) {
    case TIMER_FIRST_RESPONSE: fire_breach(&q, k, SLA_FIRST_RESPONSE); break;
    case TIMER_RESOLUTION: fire_breach(&q, k, SLA_RESOLUTION); break;
    case TIMER_SURVEY: fire_survey(&q, k); break;
    case TIMER_AUTO_CLOSE: fire_auto_close(&q, k); break;
    case TIMER_WARN_FIRST_RESPONSE: fire_warnings(&q, k, SLA_FIRST_RESPONSE); break;
    case TIMER_WARN_RESOLUTION: fire_warnings(&q, k, SLA_RESOLUTION); break;
    case TIMER_ESCALATION: fire_escalation(&q, k); break;
    default: break;
    }
    decide_end(&q);
    k->updated_at = d.now;
    if (out->failed) {
        changes_free(out);
        return -1;
    }
    return 0;
}

/* ---- surveys ---- */

static int survey_open(const as_case *c) {
    return c->survey.due_at != AS_NONE && c->survey.csat == AS_NONE &&
           (c->status == ST_RESOLVED || c->status == ST_CLOSED);
}

/* survey.on_answer; opens the follow-up (回访) it asks for. */
static void maybe_follow_up(decide_req *q, as_case *c) {
    static const decide_arg args[] = {ARG_CASE, ARG_ANSWER};
    policy_result r;
    if (decide_call(q, "survey", "on_answer", args, 2, NULL, SCHEMA_ON_ANSWER, NFIELDS(SCHEMA_ON_ANSWER), &r) != 0)
        return;
    if (r.f[AN_FOLLOWUP].present && r.f[AN_FOLLOWUP].b) {
        uint64_t seq = *q->d->next_case_seq;
        system_case sc = {.type = CASE_COMPLAINT, .reason = RS_OTHER, .followup = 1,
                          .description = r.f[AN_REASON].s, .queue = r.f[AN_QUEUE].s,
                          .buyer_id = c->buyer_id[0] ? c->buyer_id : NULL,
                          .merchant_id = c->merchant_id[0] ? c->merchant_id : NULL,
                          .parent_case_id = c->case_id, .sku = c->sku[0] ? c->sku : NULL, .order = q->order};
        if (case_open_system(q->d, &sc, q->ch) == 0) {
            case_id_format(seq, c->survey.followup_case_id);
            members_w m;
            emitter *e = mw_begin(&m);
            emit_kstr(e, "case_id", c->survey.followup_case_id);
            note_from(q->ch, "followup", q->who, q->d->now, &m);
        }
    }
    policy_result_free(&r);
}

int case_answer_survey(const as_decider *d, const as_case *c, const as_order *order, const survey_answer *sa,
                       const as_actor *who, as_changes *out, as_error *err) {
    changes_init(out);
    if (!survey_open(c)) {
        err->kase = c;
        err->no_actions = 1;
        return as_fail(err, AS_ETRANSITION, NULL, "the case has no open survey (it is not resolved, or was answered)");
    }
    if (changes_begin_update(out, c) != 0) return as_fail(err, AS_ENOMEM, NULL, "out of memory");
    as_case *k = out->after;
    k->survey.csat = sa->csat;
    k->survey.nps = sa->nps;
    k->survey.answered_at = d->now;
    if (as_strset(&k->survey.comment, sa->comment) != 0) out->failed = 1;
    members_w m;
    emitter *e = mw_begin(&m);
    emit_kint(e, "csat", sa->csat);
    emit_kopt(e, "nps", sa->nps);
    emit_kstr(e, "comment", sa->comment);
    note_from(out, "survey.answered", who, d->now, &m);
    decide_req q;
    decide_begin(&q, d, out, who, k, order);
    q.answer = sa;
    maybe_follow_up(&q, k);
    decide_end(&q);
    if (k->status == ST_RESOLVED) { /* SPEC: cases close ... when the survey is answered */
        k->status = ST_CLOSED;
        k->stage = STG_CLOSED;
        k->closed_at = d->now;
    }
    k->updated_at = d->now;
    e = mw_begin(&m);
    emit_kstr(e, "action", "survey_answered");
    emit_kstr(e, "status", case_status_name(k->status));
    emit_kstr(e, "stage", case_stage_name(k->stage));
    event_from(out, "case.updated", d->now, &m, EV_CASE_MEMBER);
    e = mw_begin(&m);
    emit_kstr(e, "merchant_id", k->merchant_id[0] ? k->merchant_id : NULL);
    emit_key(e, "answer");
    emit_object(e);
    emit_kint(e, "csat", sa->csat);
    emit_kopt(e, "nps", sa->nps);
    emit_kstr(e, "comment", sa->comment);
    emit_object_end(e);
    emit_kstr(e, "followup_case_id", k->survey.followup_case_id[0] ? k->survey.followup_case_id : NULL);
    event_from(out, "survey.answered", d->now, &m, EV_CASE_NONE);
    if (out->failed) {
        changes_free(out);
        return as_fail(err, AS_ENOMEM, NULL, "out of memory");
    }
    return 0;
}

/* ---- stalled parcels ---- */

int64_t order_stall_due(const as_decider *d, const as_order *o) {
    if (o == NULL || o->delivered_at != AS_NONE) return 0;
    const as_scan *newest = order_newest_scan(o);
    if (newest == NULL || o->stall_reported_for == newest->at) return 0;
    return newest->at + risk_rule(d, o->merchant_id, "stalled_parcel_hours", 48) * 3600;
}

int order_report_stall(const as_decider *d, const as_order *o, as_changes *out) {
    changes_init(out);
    int64_t due = order_stall_due(d, o);
    if (due == 0 || due > d->now) return 0; /* delivered or updated since */
    out->order_before = malloc(sizeof *out->order_before);
    out->order = malloc(sizeof *out->order);
    if (out->order_before == NULL || out->order == NULL || order_copy(out->order_before, o) != 0) {
        free(out->order_before);
        out->order_before = NULL;
        changes_free(out);
        return -1;
    }
    if (order_copy(out->order, o) != 0) {
        free(out->order);
        out->order = NULL;
        changes_free(out);
        return -1;
    }
    const as_scan *last = order_newest_scan(o);
    out->order->stall_reported_for = last->at;
    char msg[256];
    snprintf(msg, sizeof msg, "stalled_parcel: no tracking update since %lld (%s)", (long long)last->at,
             tracking_status_name(last->status));
    system_case sc = {.type = CASE_LOGISTICS, .reason = RS_LATE_DELIVERY, .description = msg, .order = out->order,
                      .sku = o->nitems == 1 ? o->items[0].sku : NULL};
    if (case_open_system(d, &sc, out) == 0) changes_alert(out->spawned, "stalled_parcel", d->now, NULL, "%s", msg);
    if (out->failed) {
        changes_free(out);
        return -1;
    }
    return 0;
}

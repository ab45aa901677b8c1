/* case/nps: the relationship survey, an NPS a buyer is asked outside any
 * case (domain.h, "relationship surveys").
 *
 * The policy decides when: survey.relationship(buyer, ctx) is asked when the
 * buyer is active with a merchant (an order created, a case opened) and no
 * round is planned; it answers {send_after, questions} or nil. The round's
 * timer sends it (feed survey.requested with kind "relationship"); the
 * buyer's answer (POST /v1/customers/{buyer_id}/nps) is stored once, with
 * the channel it came through, and feeds the survey answers index the KPI
 * report reads (case/indexes.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "case/internal.h"

#define COMMENT_MAX 5000

/* ---- the stored record ---- */

void nps_encode(const as_nps *n, emitter *e) {
    emit_object(e);
    emit_kstr(e, "buyer_id", n->buyer_id);
    emit_kstr(e, "merchant_id", n->merchant_id[0] ? n->merchant_id : NULL);
    emit_kopt(e, "due_at", n->due_at);
    emit_kopt(e, "sent_at", n->sent_at);
    emit_kopt(e, "answered_at", n->answered_at);
    emit_kopt(e, "nps", n->nps);
    emit_kstr(e, "comment", n->comment);
    emit_kstr(e, "channel", n->channel >= 0 ? case_channel_name((case_channel)n->channel) : NULL);
    emit_key(e, "questions");
    if (n->questions_json) e->ops->raw(e, n->questions_json, strlen(n->questions_json));
    else emit_null(e);
    emit_kint(e, "rounds", n->rounds);
    emit_kopt(e, "last_sent_at", n->last_sent_at);
    emit_kopt(e, "last_answered_at", n->last_answered_at);
    emit_kopt(e, "last_nps", n->last_nps);
    emit_kstr(e, "policy_version", n->policy_version[0] ? n->policy_version : NULL);
    emit_object_end(e);
}

char *nps_to_json(const as_nps *n, size_t *len) {
    textbuf tb = {0};
    jsonw w;
    jsonw_init(&w, &tb);
    nps_encode(n, jsonw_emitter(&w));
    return tb_take(&tb, len);
}

static int64_t opt_int(const json_t *o, const char *k) {
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : AS_NONE;
}

int nps_from_json(as_nps *n, const char *text, size_t len, char *err, size_t errlen) {
    nps_init(n);
    json_t *doc = json_loadb(text, len, 0, NULL);
    const char *buyer = json_string_value(json_object_get(doc, "buyer_id"));
    if (buyer == NULL) {
        json_decref(doc);
        snprintf(err, errlen, "a stored relationship survey without buyer_id");
        return -1;
    }
    AS_IDSET(n->buyer_id, buyer);
    AS_IDSET(n->merchant_id, json_string_value(json_object_get(doc, "merchant_id")));
    n->due_at = opt_int(doc, "due_at");
    n->sent_at = opt_int(doc, "sent_at");
    n->answered_at = opt_int(doc, "answered_at");
    n->nps = opt_int(doc, "nps");
    n->channel = case_channel_from_name(json_string_value(json_object_get(doc, "channel")));
    n->rounds = opt_int(doc, "rounds") == AS_NONE ? 0 : opt_int(doc, "rounds");
    n->last_sent_at = opt_int(doc, "last_sent_at");
    n->last_answered_at = opt_int(doc, "last_answered_at");
    n->last_nps = opt_int(doc, "last_nps");
    snprintf(n->policy_version, sizeof n->policy_version, "%s",
             json_string_value(json_object_get(doc, "policy_version")) ? json_string_value(json_object_get(doc, "policy_version")) : "");
    json_t *q = json_object_get(doc, "questions");
    int failed = as_strset(&n->comment, json_string_value(json_object_get(doc, "comment"))) != 0;
    if (!failed && q && !json_is_null(q) &&
        (n->questions_json = json_dumps(q, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY)) == NULL)
        failed = 1;
    json_decref(doc);
    if (failed) {
        nps_free(n);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

int64_t nps_timer_due(const as_nps *n) { return n && nps_planned(n) ? n->due_at : -1; }

/* ---- operations ---- */

/* out holds the survey before (a copy of cur, or none) and after. */
static int begin(const as_nps *cur, as_changes *out) {
    changes_init(out);
    out->nps = malloc(sizeof *out->nps);
    if (out->nps == NULL) return -1;
    nps_init(out->nps);
    if (cur == NULL) return 0;
    out->nps_before = malloc(sizeof *out->nps_before);
    if (out->nps_before == NULL || nps_copy(out->nps_before, cur) != 0) {
        free(out->nps_before);
        out->nps_before = NULL;
        changes_free(out);
        return -1;
    }
    if (nps_copy(out->nps, cur) != 0) {
        changes_free(out);
        return -1;
    }
    return 0;
}

int nps_plan(const as_decider *d, const as_nps *cur, const char *merchant_id, const char *buyer_id, as_changes *out) {
    static const decide_arg args[] = {ARG_BUYER};
    changes_init(out);
    if ((cur && nps_planned(cur)) || buyer_id == NULL || !buyer_id[0]) return 0;
    if (begin(cur, out) != 0) return -1;
    as_nps *n = out->nps;
    AS_IDSET(n->buyer_id, buyer_id);
    AS_IDSET(n->merchant_id, merchant_id ? merchant_id : "");
    if (n->sent_at != AS_NONE || n->answered_at != AS_NONE) { /* the round before ends */
        if (n->sent_at != AS_NONE) n->last_sent_at = n->sent_at;
        if (n->answered_at != AS_NONE) {
            n->last_answered_at = n->answered_at;
            n->last_nps = n->nps;
        }
    }
    n->due_at = n->sent_at = n->answered_at = n->nps = AS_NONE;
    n->channel = -1;
    free(n->comment);
    n->comment = NULL;
    decide_req q;
    decide_begin_buyer(&q, d, out, n);
    policy_result r;
    int planned = 0;
    if (decide_has(&q, "survey", "relationship") &&
        decide_call(&q, "survey", "relationship", args, 1, NULL, SCHEMA_RELATIONSHIP, NFIELDS(SCHEMA_RELATIONSHIP),
                    &r) == 0) {
        int64_t after = r.f[PL_SEND_AFTER].present ? r.f[PL_SEND_AFTER].i : -1;
        if (!r.nil && after >= 0 && after <= INT64_MAX - d->now) {
            n->due_at = d->now + after;
            json_t *doc = json_loads(r.output, 0, NULL);
            json_t *questions = json_object_get(doc, "questions");
            free(n->questions_json);
            n->questions_json = json_is_array(questions) ? json_dumps(questions, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
            json_decref(doc);
            snprintf(n->policy_version, sizeof n->policy_version, "%s", policy_set_version(d->policies));
            planned = 1;
        }
        policy_result_free(&r);
    }
    decide_end(&q);
    if (!planned) { /* nothing planned: nothing to store (the round before stays as it was) */
        changes_free(out);
        return 0;
    }
    if (out->failed) {
        changes_free(out);
        return -1;
    }
    return 0;
}

static void survey_event(as_changes *out, const char *type, int64_t at, const as_nps *n, int answer) {
    members_w m;
    emitter *e = mw_begin(&m);
    emit_kstr(e, "kind", "relationship");
    emit_kstr(e, "buyer_id", n->buyer_id);
    emit_kstr(e, "merchant_id", n->merchant_id[0] ? n->merchant_id : NULL);
    if (answer) {
        emit_key(e, "answer");
        emit_object(e);
        emit_kint(e, "nps", n->nps);
        emit_kstr(e, "comment", n->comment);
        emit_kstr(e, "channel", n->channel >= 0 ? case_channel_name((case_channel)n->channel) : NULL);
        emit_object_end(e);
    } else {
        emit_key(e, "questions");
        if (n->questions_json) e->ops->raw(e, n->questions_json, strlen(n->questions_json));
        else emit_null(e);
    }
    event_from(out, type, at, &m, EV_CASE_NONE);
}

int nps_fire(const as_decider *d, const as_nps *cur, int64_t due, as_changes *out) {
    changes_init(out);
    if (cur == NULL || !nps_planned(cur) || cur->due_at != due) return 0; /* answered, or planned again */
    if (begin(cur, out) != 0) return -1;
    as_nps *n = out->nps;
    n->sent_at = d->now;
    n->rounds++;
    survey_event(out, "survey.requested", d->now, n, 0);
    if (out->failed) {
        changes_free(out);
        return -1;
    }
    return 0;
}

int nps_answer(const as_decider *d, const as_nps *cur, const nps_answer_input *in, const as_actor *who,
               as_changes *out, as_error *err) {
    (void)who;
    changes_init(out);
    if (cur == NULL || !nps_open(cur)) {
        err->no_actions = 1;
        return as_fail(err, AS_ETRANSITION, NULL,
                       "the buyer has no open relationship survey (none planned, or this round was answered)");
    }
    if (begin(cur, out) != 0) return as_fail(err, AS_ENOMEM, NULL, "out of memory");
    as_nps *n = out->nps;
    n->answered_at = d->now;
    n->nps = in->nps;
    n->channel = in->channel;
    if (as_strset(&n->comment, in->comment) != 0) out->failed = 1;
    survey_event(out, "survey.answered", d->now, n, 1);
    if (out->failed) {
        changes_free(out);
        return as_fail(err, AS_ENOMEM, NULL, "out of memory");
    }
    return 0;
}

int nps_answer_parse(nps_answer_input *in, const json_t *body, as_error *err) {
    static const char *const known[] = {"nps", "comment", "channel", "merchant_id"};
    memset(in, 0, sizeof *in);
    in->channel = -1;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)body, key, v) {
        size_t i = 0;
        while (i < sizeof known / sizeof *known && strcmp(key, known[i]) != 0) i++;
        if (i == sizeof known / sizeof *known)
            return as_fail(err, AS_EUNKNOWN, key, "%s is not a member of a relationship survey answer (it takes: "
                                                  "nps, comment, channel, merchant_id)", key);
    }
    v = json_object_get(body, "nps");
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 10)
        return as_fail(err, AS_EINVAL, "nps", "nps: is required: an integer from 0 to 10");
    in->nps = json_integer_value(v);
    v = json_object_get(body, "comment");
    if (v && !json_is_null(v)) {
        if (!json_is_string(v) || json_string_length(v) > COMMENT_MAX)
            return as_fail(err, AS_EINVAL, "comment", "comment: must be a string of at most %d bytes", COMMENT_MAX);
        in->comment = json_string_value(v);
    }
    v = json_object_get(body, "channel");
    if (v && !json_is_null(v)) {
        int ch = json_is_string(v) ? case_channel_from_name(json_string_value(v)) : -1;
        if (ch < 0) return as_fail(err, AS_EINVAL, "channel", "channel: must be one of: %s", case_channel_names());
        in->channel = ch;
    }
    v = json_object_get(body, "merchant_id");
    if (v && !json_is_null(v)) {
        if (!json_is_string(v) || !as_id_valid(json_string_value(v)))
            return as_fail(err, AS_EINVAL, "merchant_id", "merchant_id: must be 1-128 characters of A-Z a-z 0-9 . _ : -");
        in->merchant_id = json_string_value(v);
    }
    return 0;
}

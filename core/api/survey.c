/* api/survey: POST /v1/cases/{id}/survey, the customer's answer.
 *
 * A survey is open once planned (survey.due_at, set when the case was
 * resolved) and until answered. The answer is stored on the case, the case
 * closes (SPEC: "cases close ... when the survey is answered"), and
 * survey.on_answer may open a follow-up (回访) case for the quality team, all
 * in one batch. */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/casework.h"
#include "api/decide.h"
#include "api/timers.h"
#include "case/case.h"

static int parse_answer(http_request *req, json_t *in, json_t **answer) {
    int64_t csat, nps = 0;
    int has_nps = 0;
    const char *comment;
    if (req_int(req, in, "csat", 1, 1, 5, &csat, NULL) != 0 ||
        req_int(req, in, "nps", 0, 0, 10, &nps, &has_nps) != 0 ||
        req_string(req, in, "comment", 0, &comment) != 0)
        return -1;
    if (comment && strlen(comment) > 5000) {
        reply_invalid(req, "comment", "is longer than 5000 bytes");
        return -1;
    }
    *answer = json_pack("{s:I,s:o,s:s?}", "csat", (json_int_t)csat, "nps",
                        has_nps ? json_integer(nps) : json_null(), "comment", comment);
    return 0;
}

static int survey_open(const json_t *kase) {
    json_t *survey = json_object_get(kase, "survey");
    const char *status = json_string_value(json_object_get(kase, "status"));
    return json_is_integer(json_object_get(survey, "due_at")) &&
           json_is_null(json_object_get(survey, "csat")) && status &&
           (!strcmp(status, "resolved") || !strcmp(status, "closed"));
}

/* Asks survey.on_answer; opens the follow-up it asks for. */
static void maybe_follow_up(server *s, store_batch *b, json_t *kase, json_t *answer, json_t *notes) {
    const char *merchant = json_string_value(json_object_get(kase, "merchant_id"));
    json_t *args[2] = {policy_case_view(kase, NULL), answer};
    json_t *r = decide_call(s, merchant, "survey", "on_answer", args, 2, notes);
    json_decref(args[0]);
    if (json_is_true(json_object_get(r, "followup"))) {
        case_seed seed = {.type = CASE_COMPLAINT, .reason = "other", .followup = 1,
                          .order_id = json_string_value(json_object_get(kase, "order_id")),
                          .buyer_id = json_string_value(json_object_get(kase, "buyer_id")),
                          .merchant_id = json_string_value(json_object_get(kase, "merchant_id")),
                          .sku = json_string_value(json_object_get(kase, "sku")),
                          .description = json_string_value(json_object_get(r, "reason")),
                          .queue = json_string_value(json_object_get(r, "queue")),
                          .parent_case_id = json_string_value(json_object_get(kase, "case_id"))};
        json_t *f = case_open_system(s, b, &seed);
        if (f) {
            json_object_set(json_object_get(kase, "survey"), "followup_case_id", json_object_get(f, "case_id"));
            json_array_append_new(notes, json_pack("{s:s,s:{s:O}}", "type", "followup", "data", "case_id",
                                                   json_object_get(f, "case_id")));
        }
        json_decref(f);
    }
    json_decref(r);
}

void h_case_survey(server *s, http_request *req, const route_params *p, const principal *who) {
    if (idem_replay(s, req, who)) return;
    json_t *in = req_json_body(req), *answer = NULL, *kase = NULL;
    if (in == NULL || parse_answer(req, in, &answer) != 0 ||
        (kase = case_load_for(s, req, who, route_param(p, "id"), 1)) == NULL) {
        json_decref(in);
        json_decref(answer);
        return;
    }
    timers_catch_up(s, kase); /* a survey sent or a case closed by now, first */
    if (!survey_open(kase)) {
        http_respond_error(req, 409, "invalid_transition",
                           "the case has no open survey (it is not resolved, or was answered)",
                           json_pack("{s:[],s:O,s:O}", "allowed", "status", json_object_get(kase, "status"),
                                     "stage", json_object_get(kase, "stage")));
    } else {
        json_t *before = json_deep_copy(kase), *notes = json_array();
        int64_t now = server_now(s);
        json_t *survey = json_object_get(kase, "survey");
        json_object_update(survey, answer);
        json_object_set_new(survey, "answered_at", json_integer(now));
        store_batch *b = store_batch_new(s->db);
        maybe_follow_up(s, b, kase, answer, notes);
        if (!strcmp(json_string_value(json_object_get(kase, "status")), "resolved")) {
            json_object_set_new(kase, "status", json_string("closed"));
            json_object_set_new(kase, "stage", json_string("closed"));
            json_object_set_new(kase, "closed_at", json_integer(now));
        }
        json_object_set_new(kase, "updated_at", json_integer(now));
        const char *id = json_string_value(json_object_get(kase, "case_id"));
        free(case_save(s, b, before, kase));
        timeline_append(s, b, id, "survey.answered", who, json_deep_copy(answer));
        timeline_notes(s, b, id, who, notes);
        /* the case changed (answer, and closed if it was resolved): like an action */
        event_append(s, b, "case.updated", kase,
                     json_pack("{s:s,s:O,s:O,s:O}", "action", "survey_answered", "status",
                               json_object_get(kase, "status"), "stage", json_object_get(kase, "stage"),
                               "case", kase));
        event_append(s, b, "survey.answered", kase,
                     json_pack("{s:O,s:O,s:O}", "merchant_id", json_object_get(kase, "merchant_id"), "answer",
                               answer, "followup_case_id", json_object_get(survey, "followup_case_id")
                                   ? json_object_get(survey, "followup_case_id") : json_null()));
        json_incref(kase);
        commit_and_reply(s, b, req, who, 200, kase);
        json_decref(notes);
        json_decref(before);
    }
    json_decref(kase);
    json_decref(answer);
    json_decref(in);
}

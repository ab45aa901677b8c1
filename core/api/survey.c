/* api/survey: POST /v1/cases/{id}/survey, the customer's answer.
 *
 * The survey is open once planned (survey.due_at, set when the case was
 * resolved) and until answered; the answer closes a resolved case and may
 * open a follow-up (case/timers.c, case_answer_survey). */
#include "api/api.h"

void h_case_survey(server *s, http_request *req, const route_params *p, const principal *who) {
    if (idem_replay(s, req, who)) return;
    json_t *in = req_json_body(req);
    if (in == NULL) return;
    survey_answer sa;
    as_error err = {0};
    as_case c;
    case_init(&c);
    if (survey_answer_parse(&sa, in, &err) != 0) {
        reply_error(req, &err);
    } else if (case_load_for(s, req, who, route_param(p, "id"), 1, &c) == 0) {
        timers_catch_up(s, &c); /* a survey sent or a case closed by now, first */
        as_decider d;
        live_decider(s, &d, clock_now(&s->clock));
        as_actor actor = actor_of(who);
        as_changes ch;
        as_order order;
        int has_order = c.order_id[0] && order_load(s->db, c.order_id, 1, &order) == 0;
        if (!has_order) order_init(&order);
        if (case_answer_survey(&d, &c, has_order ? &order : NULL, &sa, &actor, &ch, &err) != 0) {
            reply_error(req, &err);
        } else {
            changes_reply(s, req, who, &d, &ch, 200);
            changes_free(&ch);
        }
        order_free(&order);
    }
    case_free(&c);
    json_decref(in);
}

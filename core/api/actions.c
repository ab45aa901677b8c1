/* api/actions: POST /v1/cases/{id}/actions.
 *
 * Parse the action, load the case as the latest writes left it, fire any of
 * its timers already due (what was due happened before this action), load
 * its order and claims ledger, run the action (case/act.c), and answer the
 * updated case once durable. */
#include "api/api.h"

void h_case_action(server *s, http_request *req, const route_params *p, const principal *who) {
    if (idem_replay(s, req, who)) return;
    json_t *in = req_json_body(req);
    if (in == NULL) return;
    action_input ai;
    as_error err = {0};
    as_case c;
    case_init(&c);
    if (action_input_parse(&ai, in, &err) != 0) {
        reply_error(req, &err);
    } else if (case_load_for(s, req, who, route_param(p, "id"), 1, &c) == 0) {
        timers_catch_up(s, &c);
        as_order order;
        as_ledger ledger;
        order_init(&order);
        ledger_init(&ledger);
        int rc = 0;
        if (c.order_id[0] && (rc = order_load(s->db, c.order_id, 1, &order)) == 0)
            rc = ledger_load(s->db, c.order_id, &ledger);
        if (rc == STORE_ENOTFOUND) rc = 0; /* an order replaced away: the case goes on without it */
        if (rc != 0) {
            reply_store_error(req, rc);
        } else {
            as_decider d;
            live_decider(s, &d, clock_now(&s->clock));
            as_actor actor = actor_of(who);
            as_changes ch;
            if (case_act(&d, &c, order.order_id[0] ? &order : NULL, &ledger, &ai, &actor, &ch, &err) != 0) {
                reply_error(req, &err);
            } else {
                changes_reply(s, req, who, &d, &ch, 200);
                changes_free(&ch);
            }
        }
        order_free(&order);
        ledger_free(&ledger);
    }
    case_free(&c);
    json_decref(in);
}

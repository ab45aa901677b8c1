/* api/cases: POST /v1/cases, opening a case.
 *
 * Parse the body into a case input, bind it to the caller's tenancy, load
 * its order and the order's claims ledger (pending writes included: two
 * claims on one line in quick succession each see the other), run the
 * opening (case/open.c), and answer 201 with the case once it is durable. */
#include <string.h>

#include "api/api.h"

#define PHOTOS_MAX 20

/* The order (and its ledger) a case input names, if the caller may see it;
 * answers and returns -1 otherwise. */
static int load_order_for(server *s, http_request *req, const principal *who, const char *order_id,
                          as_order *order, as_ledger *ledger) {
    int rc = order_load(s->db, order_id, 1, order);
    if (rc == 0 && !principal_sees_merchant(who, order->merchant_id)) {
        order_free(order);
        rc = STORE_ENOTFOUND;
    }
    if (rc == 0 && (rc = ledger_load(s->db, order_id, ledger)) != 0) order_free(order);
    if (rc == STORE_ENOTFOUND) reply_not_found(req, "order");
    else if (rc != 0) reply_store_error(req, rc);
    return rc == 0 ? 0 : -1;
}

/* A case without an order belongs to the merchant the token is bound to. */
static int bind_merchant(http_request *req, const principal *who, case_input *ci) {
    if (ci->order_id || who->merchant == NULL) return 0;
    if (ci->merchant_id && strcmp(ci->merchant_id, who->merchant) != 0) {
        reply_forbidden(req, "this token is bound to another merchant");
        return -1;
    }
    ci->merchant_id = who->merchant;
    return 0;
}

void h_case_create(server *s, http_request *req, const route_params *p, const principal *who) {
    (void)p;
    if (idem_replay(s, req, who)) return;
    json_t *in = req_json_body(req);
    if (in == NULL) return;
    const char *photos[PHOTOS_MAX];
    case_input ci;
    as_error err = {0};
    as_order order;
    as_ledger ledger;
    order_init(&order);
    ledger_init(&ledger);
    if (case_input_parse(&ci, in, photos, PHOTOS_MAX, &err) != 0) {
        reply_error(req, &err);
    } else if (bind_merchant(req, who, &ci) == 0 &&
               (ci.order_id == NULL || load_order_for(s, req, who, ci.order_id, &order, &ledger) == 0)) {
        as_decider d;
        live_decider(s, &d, clock_now(&s->clock));
        as_actor actor = actor_of(who);
        as_changes ch;
        if (case_open(&d, &ci, ci.order_id ? &order : NULL, &ledger, &actor, s->seqs.next_case++, &ch, &err) != 0) {
            reply_error(req, &err);
        } else {
            changes_reply(s, req, who, &d, &ch, 201);
            changes_free(&ch);
        }
    }
    order_free(&order);
    ledger_free(&ledger);
    json_decref(in);
}

/* api/orders: orders, their logistics updates and current prices.
 *
 * The order operations are the domain's (case/orders.c); here: who may
 * write (the platform's service tokens and admins, not agents), tenancy, and
 * the answer: the order with its cases' ids (from the case index), phone and
 * email masked for every role but admin. */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "case/codec.h"
#include "util/jsonw.h"

#define CASE_IDS_MAX 1000 /* an answer lists at most this many; GET /v1/cases?order_id= pages the rest */

/* {order members, "case_ids":[...]} as text (malloc'd), or NULL. */
static char *order_answer(server *s, const as_order *o, const principal *who) {
    textbuf tb = {0};
    jsonw w;
    jsonw_init(&w, &tb);
    emitter *e = jsonw_emitter(&w);
    emit_object(e);
    order_encode_members(o, e, who->role == ROLE_ADMIN ? 0 : ORDER_MASK_PII);
    emit_key(e, "case_ids");
    emit_array(e);
    store_key prefix;
    case_index_prefix(&prefix, "order_id", o->order_id);
    store_read *rd;
    store_iter *it;
    size_t n = 0;
    int more = 0;
    if (!prefix.overflow && store_read_begin(s->db, &rd) == 0) {
        if (store_iter_open(rd, DB_INDEX, prefix.buf, prefix.len, NULL, 0, 0, &it) == 0) {
            const void *k, *v;
            size_t klen, vlen;
            while (store_iter_next(it, &k, &klen, &v, &vlen) == 1) {
                if (n == CASE_IDS_MAX) {
                    more = 1;
                    break;
                }
                as_case_id id;
                case_id_format(key_get_u64((const unsigned char *)k + klen - 8), id);
                emit_str(e, id);
                n++;
            }
            store_iter_close(it);
        }
        store_read_end(rd);
    }
    emit_array_end(e);
    if (more) emit_kbool(e, "case_ids_truncated", 1);
    emit_object_end(e);
    return tb_take(&tb, NULL);
}

static int may_write_orders(http_request *req, const principal *who) {
    if (who->role == ROLE_AGENT) {
        reply_forbidden(req, "agents may read orders; the platform (service) writes them");
        return 0;
    }
    return 1;
}

/* Writes the order change and answers the order once durable. */
static void commit_order(server *s, http_request *req, const principal *who, as_decider *d, as_changes *ch,
                         int status) {
    store_batch *b = store_batch_new(s->db);
    changes_into(s, b, d, ch);
    if (ch->order_before == NULL) nps_activity(s, b, d, ch->order->merchant_id, ch->order->buyer_id); /* a new order */
    commit_and_reply_text(s, b, req, who, status, order_answer(s, ch->order, who));
}

/* The order if the caller may see it (latest or durable); answers 404
 * otherwise. */
static int order_load_for(server *s, http_request *req, const principal *who, const char *id, int latest,
                          as_order *o) {
    int rc = order_load(s->db, id, latest, o);
    if (rc == 0 && !principal_sees_merchant(who, o->merchant_id)) {
        order_free(o);
        rc = STORE_ENOTFOUND;
    }
    if (rc == STORE_ENOTFOUND) reply_not_found(req, "order");
    else if (rc != 0) reply_store_error(req, rc);
    return rc == 0 ? 0 : -1;
}

void h_order_put(server *s, http_request *req, const route_params *p, const principal *who) {
    (void)p;
    if (!may_write_orders(req, who) || idem_replay(s, req, who)) return;
    json_t *in = req_json_body(req);
    if (in == NULL) return;
    as_order o, old;
    as_error err = {0};
    order_init(&old);
    if (order_input_parse(&o, in, &err) != 0) {
        reply_error(req, &err);
        json_decref(in);
        return;
    }
    int rc = order_load(s->db, o.order_id, 1, &old);
    if (rc != 0 && rc != STORE_ENOTFOUND) {
        reply_store_error(req, rc);
    } else if (!principal_sees_merchant(who, o.merchant_id)) {
        reply_forbidden(req, "this token is bound to another merchant");
    } else if (rc == 0 && !principal_sees_merchant(who, old.merchant_id)) {
        reply_not_found(req, "order"); /* another merchant's order: no hint that it exists */
    } else {
        as_decider d;
        live_decider(s, &d, clock_now(&s->clock));
        as_changes ch;
        int exists = rc == 0;
        as_ledger ledger;
        ledger_init(&ledger);
        if (exists && (rc = ledger_load(s->db, o.order_id, &ledger)) != 0) {
            reply_store_error(req, rc);
        } else if (order_put(&d, &o, exists ? &old : NULL, exists && order_has_cases(s->db, o.order_id), &ledger, &ch,
                             &err) != 0) {
            reply_error(req, &err);
        } else {
            commit_order(s, req, who, &d, &ch, exists ? 200 : 201);
            changes_free(&ch);
        }
        ledger_free(&ledger);
    }
    order_free(&o);
    order_free(&old);
    json_decref(in);
}

void h_order_get(server *s, http_request *req, const route_params *p, const principal *who) {
    static const char *const none[] = {NULL};
    as_order o;
    if (req_query_known(req, none) != 0 || order_load_for(s, req, who, route_param(p, "id"), 0, &o) != 0) return;
    size_t len;
    char *text = order_answer(s, &o, who);
    len = text ? strlen(text) : 0;
    if (text) http_respond(req, 200, "application/json", text, len);
    else http_respond_error(req, 503, "unavailable", "out of memory", NULL);
    free(text);
    order_free(&o);
}

void h_order_tracking(server *s, http_request *req, const route_params *p, const principal *who) {
    if (!may_write_orders(req, who) || idem_replay(s, req, who)) return;
    json_t *in = req_json_body(req);
    if (in == NULL) return;
    scan_input si;
    as_error err = {0};
    as_order o;
    if (scan_input_parse(&si, in, &err) != 0) {
        reply_error(req, &err);
    } else if (order_load_for(s, req, who, route_param(p, "id"), 1, &o) == 0) {
        as_decider d;
        live_decider(s, &d, clock_now(&s->clock));
        as_changes ch;
        if (order_track(&d, &o, &si, &ch, &err) != 0) {
            reply_error(req, &err);
        } else {
            commit_order(s, req, who, &d, &ch, 200);
            changes_free(&ch);
        }
        order_free(&o);
    }
    json_decref(in);
}

void h_order_price(server *s, http_request *req, const route_params *p, const principal *who) {
    if (!may_write_orders(req, who) || idem_replay(s, req, who)) return;
    json_t *in = req_json_body(req);
    if (in == NULL) return;
    int64_t price, at;
    as_error err = {0};
    as_order o;
    if (price_input_parse(&price, &at, in, &err) != 0) {
        reply_error(req, &err);
    } else if (order_load_for(s, req, who, route_param(p, "id"), 1, &o) == 0) {
        as_decider d;
        live_decider(s, &d, clock_now(&s->clock));
        as_changes ch;
        if (order_set_price(&d, &o, route_param(p, "sku"), price, at, &ch, &err) != 0) {
            reply_error(req, &err);
        } else {
            commit_order(s, req, who, &d, &ch, 200);
            changes_free(&ch);
        }
        order_free(&o);
    }
    json_decref(in);
}

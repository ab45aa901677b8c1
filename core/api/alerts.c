/* api/alerts: risk warnings (GET /v1/alerts) and the proactive logistics case.
 *
 * An alert is stored under 'a' | seq in DB_INDEX, where seq is the sequence of
 * the alert.raised feed event written with it, so the list and the feed agree.
 * Kinds: sla_breach (a case missed a target), complaint_spike (complaints per
 * sku or per merchant in 24 h reached risk.rules' threshold; raised once, by
 * the complaint that reaches it), stalled_parcel (no tracking update for
 * risk.rules.stalled_parcel_hours: the server also opens a logistics case).
 * A stalled parcel is watched by an order timer (kind "stall"), derived from
 * the order's tracking like case timers are derived from cases. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/alerts.h"
#include "api/casework.h"
#include "case/case.h"

#define IDX_ALERT 'a'
#define DAY 86400
#define IDX_COMPLAINTS 'k'
#define COMPLAINTS_KEPT 256 /* thresholds above this never fire */
#define ALERTS_DEFAULT 50
#define ALERTS_MAX 200

/* risk.rules.<name> as an integer, or dflt. */
static int64_t risk_rule(server *s, const char *merchant, const char *name, int64_t dflt) {
    json_t *rules = NULL;
    char err[256];
    policy_ctx ctx;
    policy_ctx_init(s, &ctx, merchant, NULL);
    int64_t v = dflt;
    if (policy_value(s->policies, merchant, "risk", "rules", &ctx, &rules, err, sizeof err) == 0) {
        json_t *x = json_object_get(rules, name);
        if (json_is_integer(x) && json_integer_value(x) > 0) v = json_integer_value(x);
    }
    json_decref(rules);
    return v;
}

void alert_raise(server *s, store_batch *b, const char *kind, const json_t *about, const char *message,
                 json_t *data) {
    uint64_t seq = s->next_event_seq++; /* the alert's id; its feed event gets its own seq at commit */
    json_t *alert = json_pack("{s:I,s:s,s:I,s:O?,s:O?,s:O?,s:O?,s:s,s:o}", "alert_id", (json_int_t)seq,
                              "kind", kind, "at", (json_int_t)server_now(s), "merchant_id",
                              json_object_get(about, "merchant_id"), "case_id", json_object_get(about, "case_id"),
                              "order_id", json_object_get(about, "order_id"), "sku", json_object_get(about, "sku"),
                              "message", message, "data", data ? data : json_object());
    if (alert == NULL) {
        batch_poison(b);
        return;
    }
    event_append(s, b, "alert.raised", alert, json_incref(alert));
    store_key k;
    key_init(&k);
    key_u8(&k, IDX_ALERT);
    key_u64(&k, seq);
    char *text = json_dumps(alert, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (text) store_batch_put(b, DB_INDEX, k.buf, k.len, text, strlen(text));
    else batch_poison(b);
    free(text);
    json_decref(alert);
}

/* Recent complaints per scope: 'k' | scope | merchant | sku? -> the be64
 * times of its latest complaints, oldest first (at most COMPLAINTS_KEPT).
 * Updated read-modify-write through the batch and the pending overlay, so
 * concurrent complaints each see the ones before them, and counting a window
 * costs one record however busy the sku is. */
static int64_t complaints_add(store_batch *b, const char *scope, const char *merchant,
                              const char *sku, int64_t now, int64_t since) {
    store_key k;
    key_init(&k);
    key_u8(&k, IDX_COMPLAINTS);
    key_str(&k, scope);
    key_str(&k, merchant);
    if (sku) key_str(&k, sku);
    if (k.overflow) return 0;
    unsigned char times[COMPLAINTS_KEPT * 8];
    size_t n = 0;
    char *old;
    size_t olen;
    int rc = store_batch_get_latest(b, DB_INDEX, k.buf, k.len, &old, &olen);
    if (rc != 0 && rc != STORE_ENOTFOUND) { /* unread is not empty: never overwrite the window */
        store_batch_fail(b, rc);
        return 0;
    }
    if (rc == 0) {
        for (size_t off = 0; off + 8 <= olen; off += 8) { /* keep the window, newest KEPT - 1 */
            if ((int64_t)key_get_u64(old + off) <= since) continue; /* exactly 24 h old: out */
            if (n == COMPLAINTS_KEPT - 1) {
                memmove(times, times + 8, (n - 1) * 8);
                n--;
            }
            memcpy(times + n++ * 8, old + off, 8);
        }
        free(old);
    }
    for (int i = 0; i < 8; i++) times[n * 8 + (size_t)i] = (unsigned char)((uint64_t)now >> (56 - 8 * i));
    n++;
    store_batch_put(b, DB_INDEX, k.buf, k.len, times, n * 8);
    return (int64_t)n;
}

static void spike_alert(server *s, store_batch *b, const json_t *kase, const char *scope,
                        const char *what, int64_t count, int64_t threshold) {
    char msg[256];
    snprintf(msg, sizeof msg, "complaint_spike: %lld complaints about %s %s in 24 h", (long long)count,
             scope, what);
    alert_raise(s, b, "complaint_spike", kase, msg,
                json_pack("{s:s,s:I,s:I}", "scope", scope, "count", (json_int_t)count, "threshold",
                          (json_int_t)threshold));
}

/* A complaint counts toward its sku's and its merchant's rolling day; the one
 * that brings a count to risk.rules' threshold raises the alert (once: the
 * counts are exact, so only one complaint reaches it). Survey follow-ups are
 * the platform's own cases, not complaints from buyers, and do not count. */
void alerts_on_case_created(server *s, store_batch *b, const json_t *kase) {
    if (strcmp(json_string_value(json_object_get(kase, "type")), "complaint") != 0 ||
        json_is_true(json_object_get(kase, "followup")))
        return;
    const char *merchant = json_string_value(json_object_get(kase, "merchant_id"));
    const char *sku = json_string_value(json_object_get(kase, "sku"));
    if (merchant == NULL) return;
    int64_t now = server_now(s), since = now - DAY;
    int64_t sku_limit = risk_rule(s, merchant, "complaints_per_sku_24h", 5);
    int64_t merchant_limit = risk_rule(s, merchant, "complaints_per_merchant_24h", 20);
    if (sku) {
        int64_t n = complaints_add(b, "sku", merchant, sku, now, since);
        if (n == sku_limit) spike_alert(s, b, kase, "sku", sku, n, sku_limit);
    }
    int64_t n = complaints_add(b, "merchant", merchant, NULL, now, since);
    if (n == merchant_limit) spike_alert(s, b, kase, "merchant", merchant, n, merchant_limit);
}

/* The tracking update with the latest `at`, whatever order updates came in
 * (a carrier may report an older scan late), or NULL. */
static const json_t *newest_update(const json_t *order) {
    const json_t *newest = NULL;
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(order, "tracking"), i, t) {
        if (newest == NULL || json_integer_value(json_object_get(t, "at")) >
                                  json_integer_value(json_object_get(newest, "at")))
            newest = t;
    }
    return newest;
}

/* The instant an order's parcel counts as stalled, or 0 if it is not watched:
 * delivered parcels and parcels already reported are not. */
static int64_t stall_due(server *s, const json_t *order) {
    if (order == NULL || json_is_integer(json_object_get(order, "delivered_at"))) return 0;
    const json_t *newest = newest_update(order);
    if (newest == NULL) return 0;
    int64_t last = json_integer_value(json_object_get(newest, "at"));
    if (json_integer_value(json_object_get(order, "stall_reported_for")) == last) return 0;
    const char *merchant = json_string_value(json_object_get(order, "merchant_id"));
    return last + risk_rule(s, merchant, "stalled_parcel_hours", 48) * 3600;
}

static void stall_key(store_key *k, int64_t due, const char *order_id) {
    key_init(k);
    key_u64(k, (uint64_t)due);
    key_str(k, "stall");
    key_str(k, order_id);
}

void alerts_watch_order(server *s, store_batch *b, const json_t *before, const json_t *after) {
    int64_t was = stall_due(s, before), now = stall_due(s, after);
    if (was == now) return;
    const char *id = json_string_value(json_object_get(after, "order_id"));
    store_key k;
    if (was) {
        stall_key(&k, was, id);
        store_batch_del(b, DB_TIMERS, k.buf, k.len);
    }
    if (now) {
        stall_key(&k, now, id);
        store_batch_put(b, DB_TIMERS, k.buf, k.len, "", 0);
    }
}

void alerts_fire_stall(server *s, store_batch *b, const char *order_id) {
    json_t *order = rec_load(s, DB_ORDERS, order_id, 1);
    int64_t due = stall_due(s, order);
    if (due == 0 || due > server_now(s)) { /* delivered or updated since */
        json_decref(order);
        return;
    }
    json_t *before = json_deep_copy(order);
    const json_t *last = newest_update(order);
    json_object_set(order, "stall_reported_for", json_object_get(last, "at"));
    json_t *items = json_object_get(order, "items");
    char msg[256];
    snprintf(msg, sizeof msg, "stalled_parcel: no tracking update since %lld (%s)",
             (long long)json_integer_value(json_object_get(last, "at")),
             json_string_value(json_object_get(last, "status")));
    case_seed seed = {.type = CASE_LOGISTICS, .reason = "late_delivery", .description = msg,
                      .order_id = order_id, .buyer_id = json_string_value(json_object_get(order, "buyer_id")),
                      .merchant_id = json_string_value(json_object_get(order, "merchant_id")),
                      .sku = json_array_size(items) == 1
                                 ? json_string_value(json_object_get(json_array_get(items, 0), "sku")) : NULL,
                      .order = order};
    json_t *kase = case_open_system(s, b, &seed); /* saves the order, marked and with the case id */
    if (kase == NULL) rec_put(b, DB_ORDERS, order_id, order);
    alert_raise(s, b, "stalled_parcel", kase ? kase : order, msg, NULL);
    alerts_watch_order(s, b, before, order);
    json_decref(kase);
    json_decref(before);
    json_decref(order);
}

void h_alerts(server *s, http_request *req, const route_params *p, const principal *who) {
    (void)p;
    char num[32], kind[64] = "";
    int64_t limit = ALERTS_DEFAULT;
    if (http_query_param(req, "limit", num, sizeof num) == 1) {
        char *end;
        limit = strtoll(num, &end, 10);
        if (*end != '\0' || limit < 1 || limit > ALERTS_MAX) {
            reply_invalid(req, "limit", "must be an integer from 1 to 200");
            return;
        }
    }
    http_query_param(req, "kind", kind, sizeof kind);
    store_key prefix;
    key_init(&prefix);
    key_u8(&prefix, IDX_ALERT);
    json_t *alerts = json_array();
    store_read *rd;
    store_iter *it = NULL;
    int rc = store_read_begin(s->db, &rd);
    if (rc == 0) {
        rc = store_iter_open(rd, DB_INDEX, prefix.buf, prefix.len, NULL, 0, 1, &it);
        const void *k, *v;
        size_t klen, vlen;
        while (rc == 0 && (int64_t)json_array_size(alerts) < limit &&
               (rc = store_iter_next(it, &k, &klen, &v, &vlen)) == 1) {
            rc = 0;
            json_t *a = json_loadb(v, vlen, 0, NULL);
            const char *ak = json_string_value(json_object_get(a, "kind"));
            if (a && principal_sees_merchant(who, json_string_value(json_object_get(a, "merchant_id"))) &&
                (!kind[0] || (ak && !strcmp(ak, kind))))
                json_array_append_new(alerts, a);
            else
                json_decref(a);
        }
        if (it) store_iter_close(it);
        store_read_end(rd);
    }
    if (rc < 0) {
        json_decref(alerts);
        reply_store_error(req, rc);
        return;
    }
    http_respond_json(req, 200, json_pack("{s:o}", "alerts", alerts));
}

/* case/risk: risk warnings on returns, beside the complaint spikes of
 * open.c.
 *
 * Each is a rolling window of entries kept by the commit ('r' | scope | a |
 * b, case/records.h) and a threshold in risk.rules; the change that brings a
 * count to its threshold raises the alert once (counts include pending
 * writes, so concurrent opens cannot both reach it):
 *   return_spike     buyer returns of one sku of a merchant in 24 h
 *                    (returns_per_sku_24h), or of the merchant
 *                    (returns_per_merchant_24h)
 *   serial_returner  returns in 30 days to one merchant by buyers whose orders
 *                    give the same phone, or the same address (compared by
 *                    hash), reaching
 *                    serial_returns_30d from at least serial_returner_buyers
 *                    different buyer ids: one person behind several accounts
 * No phone or address is stored in a window: the alert names the contact
 * masked, and the buyer ids. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "case/codec.h"
#include "case/indexes.h"
#include "case/internal.h"

#define DAY 86400
#define SERIAL_WINDOW (30 * DAY)

static as_window *window_add(as_changes *ch, const char *scope, const char *a, const char *b, const char *tag,
                             int64_t at, int64_t span, int64_t keep) {
    if (ch->nwindows == CHANGES_WINDOWS_MAX) return NULL;
    as_window *w = &ch->windows[ch->nwindows++];
    memset(w, 0, sizeof *w);
    snprintf(w->scope, sizeof w->scope, "%s", scope);
    snprintf(w->a, sizeof w->a, "%s", a);
    snprintf(w->b, sizeof w->b, "%s", b);
    AS_IDSET(w->tag, tag);
    w->at = at;
    w->span = span;
    w->keep = keep > 0 && keep < INT32_MAX ? (int)keep : 0;
    return w;
}

static int window_read(const as_decider *d, const as_window *w, as_window_count *out) {
    memset(out, 0, sizeof *out);
    return d->reads->window(d->reads->ud, w->scope, w->a, w->b, w->at - w->span, w->tag, out);
}

static void return_spikes(const as_decider *d, const as_case *c, const json_t *rules, as_changes *ch) {
    struct {
        const char *scope, *rule, *sku;
        int64_t dflt;
    } scopes[] = {{"sku", "returns_per_sku_24h", c->sku, 10}, {"merchant", "returns_per_merchant_24h", "", 50}};
    for (size_t i = 0; i < 2; i++) {
        if (i == 0 && !c->sku[0]) continue;
        char scope[24];
        snprintf(scope, sizeof scope, "return_%s", scopes[i].scope);
        int64_t limit = risk_rule_of(rules, scopes[i].rule, scopes[i].dflt);
        /* the alert fires when a return makes the count exactly `limit`:
         * entries beyond the newest `limit` can never change that */
        as_window *w = window_add(ch, scope, c->merchant_id, scopes[i].sku, "", d->now, DAY, limit);
        as_window_count wc;
        if (w == NULL || window_read(d, w, &wc) != 0) continue;
        int64_t n = wc.count + 1;
        if (n != limit) continue;
        members_w m;
        emitter *e = mw_begin(&m);
        emit_kstr(e, "scope", scopes[i].scope);
        emit_kint(e, "count", n);
        emit_kint(e, "threshold", limit);
        changes_alert(ch, "return_spike", d->now, mw_take(&m), "return_spike: %lld returns of %s %s in 24 h",
                      (long long)n, scopes[i].scope, i == 0 ? c->sku : c->merchant_id);
    }
}

static void serial_returner(const as_decider *d, const as_case *c, const json_t *rules, const char *kind,
                            const char *value, as_changes *ch) {
    char hash[65], scope[24], masked[300];
    if (value == NULL || contact_hash(kind, value, hash) != 0) return;
    snprintf(scope, sizeof scope, "return_%s", kind);
    /* per merchant: the alert names buyer ids, and a merchant sees its own buyers only */
    /* all the window's entries: distinct buyers among older ones count too */
    as_window *w = window_add(ch, scope, hash, c->merchant_id, c->buyer_id, d->now, SERIAL_WINDOW, 0);
    as_window_count wc;
    if (w == NULL || window_read(d, w, &wc) != 0) return;
    int64_t limit = risk_rule_of(rules, "serial_returns_30d", 6);
    int64_t buyers = risk_rule_of(rules, "serial_returner_buyers", 2);
    int was = wc.count >= limit && wc.distinct >= buyers;
    int64_t count = wc.count + 1, distinct = wc.distinct + !wc.has_tag;
    if (was || count < limit || distinct < buyers) return;
    if (!strcmp(kind, "phone")) mask_phone(value, masked, sizeof masked);
    else mask_address(value, masked, sizeof masked);
    members_w m;
    emitter *e = mw_begin(&m);
    emit_kstr(e, "contact", kind);
    emit_kstr(e, "masked", masked);
    emit_kint(e, "returns", count);
    emit_kint(e, "buyers", distinct);
    emit_kint(e, "threshold", limit);
    emit_kint(e, "min_buyers", buyers);
    emit_key(e, "buyer_ids");
    emit_array(e);
    int listed = 0;
    for (int i = 0; i < wc.ntags; i++, listed++) emit_str(e, wc.tags[i]);
    if (!wc.has_tag && listed < WINDOW_TAGS_MAX) emit_str(e, c->buyer_id);
    emit_array_end(e);
    changes_alert(ch, "serial_returner", d->now, mw_take(&m),
                  "serial_returner: %lld returns in 30 days by %lld buyers sharing %s %s", (long long)count,
                  (long long)distinct, !strcmp(kind, "phone") ? "a phone" : "an address", masked);
}

void risk_on_return(const as_decider *d, const as_case *c, const as_order *o, as_changes *ch) {
    if (c->type != CASE_RETURN || c->channel == CH_SYSTEM || !c->merchant_id[0] || d->reads == NULL ||
        d->reads->window == NULL)
        return;
    json_t *rules = risk_rules(d, c->merchant_id);
    return_spikes(d, c, rules, ch);
    if (o && c->buyer_id[0]) {
        serial_returner(d, c, rules, "phone", o->buyer.phone, ch);
        serial_returner(d, c, rules, "address", o->buyer.address, ch);
    }
    json_decref(rules);
}

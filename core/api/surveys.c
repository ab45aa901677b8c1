/* api/surveys: relationship surveys (an NPS per buyer outside any case) and
 * the survey answers of both kinds.
 *
 *   GET  /v1/customers/{buyer_id}/nps   the buyer's relationship surveys
 *   POST /v1/customers/{buyer_id}/nps   the buyer's answer {nps, comment?, channel?, merchant_id?}
 *   GET  /v1/surveys                    answers newest first: case surveys and
 *                                       relationship surveys, with their channel
 *
 * A buyer's activity (an order created, a case opened) lets survey.relationship
 * plan the next round (nps_activity, in the batch of that activity); the round's
 * timer sends it (timers.c). Tenancy as everywhere: a bound token sees and
 * answers its merchant's surveys only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "case/indexes.h"
#include "util/jsonw.h"

#define ANSWERS_DEFAULT 50
#define ANSWERS_MAX 200
#define SCAN_BUDGET 5000

void nps_activity(server *s, store_batch *b, as_decider *d, const char *merchant_id, const char *buyer_id) {
    if (buyer_id == NULL || !buyer_id[0]) return;
    if (nps_known_planned(b, buyer_id, merchant_id ? merchant_id : "")) return; /* nothing to plan */
    as_nps cur;
    int rc = nps_load(s->db, b, buyer_id, merchant_id ? merchant_id : "", &cur);
    if ((rc != 0 && rc != STORE_ENOTFOUND) || (rc == 0 && nps_planned(&cur))) {
        nps_free(&cur);
        return;
    }
    as_changes ch;
    if (nps_plan(d, rc == 0 ? &cur : NULL, merchant_id, buyer_id, &ch) != 0) store_batch_fail(b, STORE_ENOMEM);
    else if (ch.nps) changes_into(s, b, d, &ch);
    changes_free(&ch);
    nps_free(&cur);
}

void nps_fire_due(server *s, store_batch *b, const char *id, int64_t at) {
    as_id buyer, merchant;
    as_nps cur;
    if (nps_timer_id(id, buyer, merchant) != 0 || nps_load(s->db, b, buyer, merchant, &cur) != 0) return;
    as_decider d;
    live_decider(s, &d, at);
    as_changes ch;
    if (nps_fire(&d, &cur, at, &ch) != 0) store_batch_fail(b, STORE_ENOMEM);
    else if (ch.nps) changes_into(s, b, &d, &ch);
    changes_free(&ch);
    nps_free(&cur);
}

/* GET /v1/customers/{buyer_id}/nps: {buyer_id, surveys:[...]}, one per
 * merchant the caller sees (merchant_id null: the platform's). */
void h_nps_get(server *s, http_request *req, const route_params *p, const principal *who) {
    static const char *const none[] = {NULL};
    if (req_query_known(req, none) != 0) return;
    const char *buyer = route_param(p, "buyer_id");
    store_key prefix;
    key_init(&prefix);
    key_u8(&prefix, IDX_NPS);
    key_str(&prefix, buyer);
    textbuf tb = {0};
    tb_append(&tb, "{\"buyer_id\":", 12);
    jsonw_quote(&tb, buyer, strlen(buyer));
    tb_append(&tb, ",\"surveys\":[", 12);
    store_read *rd;
    store_iter *it;
    int rc = prefix.overflow ? 0 : store_read_begin(s->db, &rd), listed = 0;
    if (!prefix.overflow && rc == 0) {
        if ((rc = store_iter_open(rd, DB_INDEX, prefix.buf, prefix.len, NULL, 0, 0, &it)) == 0) {
            const void *k, *v;
            size_t klen, vlen;
            while (store_iter_next(it, &k, &klen, &v, &vlen) == 1) {
                const char *merchant = (const char *)k + prefix.len;
                if (klen <= prefix.len || memchr(merchant, 0, klen - prefix.len) == NULL) continue;
                if (!principal_sees_merchant(who, merchant[0] ? merchant : NULL)) continue;
                if (listed++) tb_append(&tb, ",", 1);
                tb_append(&tb, v, vlen);
            }
            store_iter_close(it);
        }
        store_read_end(rd);
    }
    tb_append(&tb, "]}", 2);
    if (rc != 0) reply_store_error(req, rc);
    else if (tb.failed) http_respond_error(req, 503, "unavailable", "out of memory", NULL);
    else http_respond(req, 200, "application/json", tb.buf, tb.len);
    tb_free(&tb);
}

/* POST /v1/customers/{buyer_id}/nps: the answer to the buyer's open round
 * with the token's merchant (or merchant_id; none: the platform's). 404 when
 * the buyer has no such survey, 409 when it has no open round. */
void h_nps_answer(server *s, http_request *req, const route_params *p, const principal *who) {
    if (idem_replay(s, req, who)) return;
    json_t *in = req_json_body(req);
    if (in == NULL) return;
    nps_answer_input ai;
    as_error err = {0};
    as_nps cur;
    nps_init(&cur);
    const char *buyer = route_param(p, "buyer_id");
    int rc;
    if (nps_answer_parse(&ai, in, &err) != 0) {
        reply_error(req, &err);
    } else if (who->merchant && ai.merchant_id && strcmp(ai.merchant_id, who->merchant) != 0) {
        reply_not_found(req, "relationship survey");
    } else if ((rc = nps_load(s->db, NULL, buyer, who->merchant ? who->merchant : ai.merchant_id ? ai.merchant_id : "",
                              &cur)) != 0) {
        if (rc == STORE_ENOTFOUND) reply_not_found(req, "relationship survey");
        else reply_store_error(req, rc);
    } else {
        as_decider d;
        live_decider(s, &d, clock_now(&s->clock));
        as_actor actor = actor_of(who);
        as_changes ch;
        if (nps_answer(&d, &cur, &ai, &actor, &ch, &err) != 0) {
            reply_error(req, &err);
        } else {
            store_batch *b = store_batch_new(s->db);
            changes_into(s, b, &d, &ch);
            commit_and_reply_text(s, b, req, who, 200, nps_to_json(ch.nps, NULL));
            changes_free(&ch);
        }
    }
    nps_free(&cur);
    json_decref(in);
}

/* ---- answers ---- */

/* 1 if member k of a is the string want ("" matches anything). */
static int member_is(const json_t *a, const char *k, const char *want) {
    const char *v = json_string_value(json_object_get(a, k));
    return !want[0] || (v && !strcmp(v, want));
}

static int hexval(char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1; }

static int query_time(http_request *req, const char *name, int64_t dflt, int64_t *out) {
    char num[32];
    *out = dflt;
    int rc = http_query_param(req, name, num, sizeof num);
    if (rc == 0 || (rc == 1 && !num[0])) return 0;
    char *end;
    long long v = rc == 1 ? strtoll(num, &end, 10) : -1;
    if (rc < 0 || *end || v < 0 || v > ((int64_t)1 << 40)) {
        reply_invalid(req, name, "must be unix seconds (an integer from 0 to 2^40)");
        return -1;
    }
    *out = v;
    return 0;
}

/* GET /v1/surveys?from=&to=&kind=&channel=&merchant_id=&limit=&cursor=:
 * survey answers answered in [from, to), newest first. */
void h_survey_answers(server *s, http_request *req, const route_params *p, const principal *who) {
    static const char *const known[] = {"from", "to", "kind", "channel", "merchant_id", "limit", "cursor", NULL};
    (void)p;
    int64_t from, to, limit = ANSWERS_DEFAULT;
    char kind[32] = "", channel[32] = "", merchant[AS_ID_MAX + 1] = "", num[32], cursor[2 * STORE_KEY_MAX + 1] = "";
    if (req_query_known(req, known) != 0 || query_time(req, "from", 0, &from) != 0 ||
        query_time(req, "to", (int64_t)1 << 40, &to) != 0)
        return;
    if (http_query_param(req, "kind", kind, sizeof kind) < 0 || (kind[0] && strcmp(kind, "case") && strcmp(kind, "relationship"))) {
        reply_invalid(req, "kind", "must be case or relationship");
        return;
    }
    if (http_query_param(req, "channel", channel, sizeof channel) < 0 || (channel[0] && case_channel_from_name(channel) < 0)) {
        char msg[200];
        snprintf(msg, sizeof msg, "must be one of: %s", case_channel_names());
        reply_invalid(req, "channel", msg);
        return;
    }
    if (http_query_param(req, "merchant_id", merchant, sizeof merchant) < 0) {
        reply_invalid(req, "merchant_id", "is too long");
        return;
    }
    if (http_query_param(req, "limit", num, sizeof num) == 1 && num[0]) {
        char *end;
        limit = strtoll(num, &end, 10);
        if (*end || limit < 1 || limit > ANSWERS_MAX) {
            reply_invalid(req, "limit", "must be an integer from 1 to 200");
            return;
        }
    }
    store_key prefix, start;
    answers_prefix(&prefix);
    start = prefix;
    int crc = http_query_param(req, "cursor", cursor, sizeof cursor);
    size_t clen = crc == 1 ? strlen(cursor) : 0;
    if (crc < 0 || clen % 2 || clen > 2 * (STORE_KEY_MAX - 1)) {
        reply_invalid(req, "cursor", "is not a cursor this server handed out");
        return;
    }
    for (size_t i = 0; i < clen; i += 2) {
        int hi = hexval(cursor[i]), lo = hexval(cursor[i + 1]);
        if (hi < 0 || lo < 0) {
            reply_invalid(req, "cursor", "is not a cursor this server handed out");
            return;
        }
        unsigned char byte = (unsigned char)(hi * 16 + lo);
        key_raw(&start, &byte, 1);
    }
    if (!clen) key_u64(&start, (uint64_t)to); /* every key before `to`: longer keys of `to` sort after it */
    if (who->merchant) {
        if (merchant[0] && strcmp(merchant, who->merchant) != 0) {
            http_respond_json(req, 200, json_pack("{s:[],s:n}", "answers", "next_cursor"));
            return;
        }
        snprintf(merchant, sizeof merchant, "%s", who->merchant);
    }
    textbuf tb = {0};
    tb_append(&tb, "{\"answers\":[", 12);
    store_read *rd;
    store_iter *it = NULL;
    int rc = store_read_begin(s->db, &rd), listed = 0, scanned = 0, began = rc == 0;
    char next[2 * STORE_KEY_MAX + 1] = "";
    if (rc == 0) rc = store_iter_open(rd, DB_INDEX, prefix.buf, prefix.len, start.buf, start.len, 1, &it);
    const void *k, *v;
    size_t klen, vlen;
    while (rc == 0 && (rc = store_iter_next(it, &k, &klen, &v, &vlen)) == 1) {
        rc = 0;
        if (klen < prefix.len + 8) continue;
        int64_t at = (int64_t)key_get_u64((const unsigned char *)k + prefix.len);
        if (at < from) break;
        if (at >= to) continue;
        if (listed == limit || ++scanned > SCAN_BUDGET) { /* resume at this entry */
            for (size_t i = prefix.len; i < klen; i++)
                snprintf(next + 2 * (i - prefix.len), 3, "%02x", ((const unsigned char *)k)[i]);
            break;
        }
        json_t *a = json_loadb(v, vlen, 0, NULL);
        int ok = a && member_is(a, "kind", kind) && member_is(a, "channel", channel) &&
                 member_is(a, "merchant_id", merchant) &&
                 principal_sees_merchant(who, json_string_value(json_object_get(a, "merchant_id")));
        json_decref(a);
        if (!ok) continue;
        if (listed++) tb_append(&tb, ",", 1);
        tb_append(&tb, v, vlen);
    }
    if (it) store_iter_close(it);
    if (began) store_read_end(rd);
    tb_append(&tb, "],\"next_cursor\":", 16);
    if (next[0]) jsonw_quote(&tb, next, strlen(next));
    else tb_append(&tb, "null", 4);
    tb_append(&tb, "}", 1);
    if (rc < 0) reply_store_error(req, rc);
    else if (tb.failed) http_respond_error(req, 503, "unavailable", "out of memory", NULL);
    else http_respond(req, 200, "application/json", tb.buf, tb.len);
    tb_free(&tb);
}

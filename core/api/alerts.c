/* api/alerts: GET /v1/alerts, the risk warnings.
 *
 * Alerts are raised by the domain (complaint spikes when a case opens,
 * stalled parcels and SLA breaches when timers fire) and stored under 'a' |
 * the seq of their alert.raised feed event (case/commit.c), so the list and
 * the feed agree; this lists them newest first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"

#define ALERTS_DEFAULT 50
#define ALERTS_MAX 200

void h_alerts(server *s, http_request *req, const route_params *p, const principal *who) {
    (void)p;
    static const char *const known[] = {"limit", "kind", NULL};
    if (req_query_known(req, known) != 0) return;
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

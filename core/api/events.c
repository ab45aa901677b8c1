/* api/events: GET /v1/events, the durable ordered feed.
 *
 * Events are written in the same transaction as the change they report, keyed
 * by a global sequence the store assigns at commit, in commit order and
 * without gaps; reading after=SEQ resumes exactly (at-least-once for a
 * consumer that stores the last seq it processed). A page ends at the highest
 * seq the loop knows durable, and a poll already there answers at once. */
#include <stdlib.h>

#include "api/api.h"

#define EVENTS_DEFAULT 100
#define EVENTS_MAX 1000

static int query_u64(http_request *req, const char *name, uint64_t dflt, uint64_t max,
                     uint64_t *out) {
    char num[32];
    *out = dflt;
    int rc = http_query_param(req, name, num, sizeof num);
    if (rc == 0 || (rc == 1 && num[0] == '\0')) return 0;
    char *end;
    unsigned long long n = rc == 1 ? strtoull(num, &end, 10) : 0;
    if (rc < 0 || *end != '\0' || n > max) {
        reply_invalid(req, name, "must be a non-negative integer in range");
        return -1;
    }
    *out = n;
    return 0;
}

void h_events(server *s, http_request *req, const route_params *p, const principal *who) {
    (void)p;
    if (who->role == ROLE_AGENT) {
        reply_forbidden(req, "the feed is for the platform (service) and admins");
        return;
    }
    static const char *const known[] = {"after", "limit", NULL};
    uint64_t after, limit;
    if (req_query_known(req, known) != 0 || query_u64(req, "after", 0, UINT64_MAX - 1, &after) != 0 ||
        query_u64(req, "limit", EVENTS_DEFAULT, EVENTS_MAX, &limit) != 0)
        return;
    if (limit == 0) limit = EVENTS_DEFAULT;
    uint64_t head = store_seq_durable(s->db, DB_EVENTS);
    if (after >= head) { /* nothing newer: the usual poll of a consumer that keeps up */
        http_respond_json(req, 200, json_pack("{s:[],s:I}", "events", "next_after", (json_int_t)after));
        return;
    }
    store_key from;
    key_init(&from);
    key_u64(&from, after + 1);
    json_t *events = json_array();
    store_read *rd;
    store_iter *it = NULL;
    uint64_t last = after;
    int rc = store_read_begin(s->db, &rd);
    if (rc == 0) {
        rc = store_iter_open(rd, DB_EVENTS, NULL, 0, from.buf, from.len, 0, &it);
        const void *k, *v;
        size_t klen, vlen;
        while (rc == 0 && json_array_size(events) < limit &&
               (rc = store_iter_next(it, &k, &klen, &v, &vlen)) == 1) {
            rc = 0;
            if (key_get_u64(k) > head) break; /* committed, its batch not yet completed */
            json_t *ev = json_loadb(v, vlen, 0, NULL);
            if (ev == NULL) continue;
            if (who->merchant) { /* a bound token reads only its merchant's events */
                const char *m = json_string_value(json_object_get(ev, "merchant_id"));
                if (!principal_sees_merchant(who, m)) {
                    last = key_get_u64(k);
                    json_decref(ev);
                    continue;
                }
            }
            last = key_get_u64(k);
            json_array_append_new(events, ev);
        }
        if (it) store_iter_close(it);
        store_read_end(rd);
    }
    if (rc < 0) {
        json_decref(events);
        reply_store_error(req, rc);
        return;
    }
    http_respond_json(req, 200, json_pack("{s:o,s:I}", "events", events, "next_after", (json_int_t)last));
}

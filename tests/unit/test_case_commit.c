/* case/commit: a change set into a real store in one batch, read back
 * (commit.h, records.h).
 *
 * Each test opens a store in a temporary directory on its own loop, runs the
 * domain operations with the repository's policies (AS_POLICIES_DIR), commits
 * their change sets, runs the loop until the commit callback, and reads what
 * was written: the case text, its 'c' indexes, its timers, its timeline with
 * inputs_seq resolved, the feed in order, the claims ledger, agent loads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>

#include "case/codec.h"
#include "case/commit.h"
#include "case/migrate.h"
#include "case/records.h"
#include "store/keys.h"
#include "test_store_util.h"

#ifndef AS_POLICIES_DIR
#error "AS_POLICIES_DIR must name the repository's policies directory (CMakeLists.txt)"
#endif

#define HOUR 3600
#define DAY 86400
#define NOW 1773108000 /* Tue 2026-03-10 10:00 +08:00 */

typedef struct {
    store_fixture sf;
    policy_set *ps;
    as_agents agents;
    as_seqs seqs;
    as_reads reads;
} world;

static int customer_of(void *ud, const char *merchant_id, const char *buyer_id, as_customer *out) {
    return customer_read(((world *)ud)->sf.s, merchant_id, buyer_id, NOW, 0, out);
}

static int64_t complaints_of(void *ud, const char *merchant_id, const char *sku, int64_t since) {
    return complaints_count(((world *)ud)->sf.s, merchant_id, sku, since);
}

static void agent_add(world *w, const char *id, const char *queue, int64_t load) {
    as_agent a = {0};
    AS_IDSET(a.agent_id, id);
    a.queues = calloc(1, sizeof *a.queues);
    AS_IDSET(a.queues[0], queue);
    a.nqueues = 1;
    a.capacity = 10;
    a.online = 1;
    a.load = load;
    assert_int_equal(agents_put(&w->agents, &a), 0);
}

static int setup(void **state) {
    world *w = calloc(1, sizeof *w);
    fixture_up(&w->sf, 0, 0);
    policy_config cfg = {.dir = AS_POLICIES_DIR};
    char err[1024];
    if (policy_set_load(&cfg, &w->ps, err, sizeof err) != 0) fail_msg("policies: %s", err);
    agents_init(&w->agents);
    agent_add(w, "a-after", "after_sales", 3);
    agent_add(w, "a-quality", "quality", 0);
    agent_add(w, "a-cs", "customer_service", 0);
    assert_int_equal(seqs_load(w->sf.s, &w->seqs), 0);
    assert_int_equal(w->seqs.next_case, 1);
    w->reads = (as_reads){.ud = w, .customer = customer_of, .complaints = complaints_of};
    *state = w;
    return 0;
}

static int teardown(void **state) {
    world *w = *state;
    fixture_down(&w->sf);
    policy_set_free(w->ps);
    agents_free(&w->agents);
    free(w);
    return 0;
}

static as_decider decider(world *w, int64_t now) {
    return (as_decider){.policies = w->ps, .now = now, .reads = &w->reads, .agents = &w->agents,
                        .next_case_seq = &w->seqs.next_case};
}

/* Commits ch (with the sequences) and waits for the callback; returns the
 * case text changes_commit answered (caller frees). */
static char *commit(world *w, const as_decider *d, const as_changes *ch) {
    commit_ctx cc = {w->sf.s, &w->seqs, &w->agents, d, 0};
    store_batch *b = store_batch_new(w->sf.s);
    size_t len = 0;
    char *text = changes_commit(&cc, b, ch, &len);
    seqs_put(b, &w->seqs);
    assert_int_equal(commit_wait(&w->sf, b), 0);
    if (text) assert_int_equal(strlen(text), len);
    return text;
}

/* Every committed value under prefix, in key order (keys too), parsed. */
typedef struct {
    size_t n;
    json_t *vals[64];
    unsigned char keys[64][STORE_KEY_MAX];
    size_t klens[64];
} scan;

static void scan_prefix(world *w, store_db db, const store_key *prefix, scan *out) {
    memset(out, 0, sizeof *out);
    store_read *rd;
    store_iter *it;
    assert_int_equal(store_read_begin(w->sf.s, &rd), 0);
    assert_int_equal(store_iter_open(rd, db, prefix ? prefix->buf : NULL, prefix ? prefix->len : 0, NULL, 0, 0, &it),
                     0);
    const void *k, *v;
    size_t klen, vlen;
    while (store_iter_next(it, &k, &klen, &v, &vlen) == 1) {
        assert_true(out->n < 64);
        memcpy(out->keys[out->n], k, klen);
        out->klens[out->n] = klen;
        const char *text;
        size_t len;
        assert_int_equal(store_read_text(rd, v, vlen, &text, &len), 0); /* as readers see it */
        out->vals[out->n++] = json_loadb(text, len, 0, NULL);
    }
    store_iter_close(it);
    store_read_end(rd);
}

/* The timeline of a case: each stored record holds one change's entries, one
 * JSON object a line; every entry is listed with its record's key. */
static void scan_timeline(world *w, const store_key *prefix, scan *out) {
    memset(out, 0, sizeof *out);
    store_read *rd;
    store_iter *it;
    assert_int_equal(store_read_begin(w->sf.s, &rd), 0);
    assert_int_equal(store_iter_open(rd, DB_TIMELINE, prefix->buf, prefix->len, NULL, 0, 0, &it), 0);
    const void *k, *v;
    size_t klen, vlen;
    while (store_iter_next(it, &k, &klen, &v, &vlen) == 1) {
        const char *text;
        size_t len;
        assert_int_equal(store_read_text(rd, v, vlen, &text, &len), 0); /* packed: see store/pack.h */
        for (const char *p = text, *end = p + len; p < end;) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t n = (size_t)((nl ? nl : end) - p);
            assert_true(out->n < 64);
            memcpy(out->keys[out->n], k, klen);
            out->klens[out->n] = klen;
            out->vals[out->n++] = json_loadb(p, n, 0, NULL);
            p += n + 1;
        }
    }
    store_iter_close(it);
    store_read_end(rd);
}

static void scan_free(scan *s) {
    for (size_t i = 0; i < s->n; i++) json_decref(s->vals[i]);
}

static int index_has(world *w, const char *field, const char *value, const as_case *c) {
    store_key k;
    case_index_prefix(&k, field, value);
    key_u64(&k, c->seq);
    char *v = read_committed(w->sf.s, DB_INDEX, k.buf, k.len);
    if (v == NULL) return 0;
    unsigned char want[8];
    for (int i = 0; i < 8; i++) want[i] = (unsigned char)((uint64_t)c->created_at >> (56 - 8 * i));
    assert_memory_equal(v, want, 8); /* value: created_at be64 | type */
    assert_string_equal(v + 8, case_type_name(c->type));
    free(v);
    return 1;
}

static int timer_has(world *w, int64_t due, const char *kind, const char *id) {
    store_key k;
    key_init(&k);
    key_u64(&k, (uint64_t)due);
    key_str(&k, kind);
    key_str(&k, id);
    char *v = read_committed(w->sf.s, DB_TIMERS, k.buf, k.len);
    free(v);
    return v != NULL;
}

static char *stored_case(world *w, const char *case_id) {
    store_key k;
    key_init(&k);
    key_str(&k, case_id);
    return read_committed(w->sf.s, DB_CASES, k.buf, k.len);
}

/* The timeline of a case: seqs consecutive from `first`, types as the
 * change set's notes, and each decision's inputs_seq the seq of its
 * request's policy.inputs entry. */
static void check_timeline(world *w, const as_changes *ch, uint64_t first, size_t skip) {
    store_key prefix;
    key_init(&prefix);
    key_str(&prefix, ch->after->case_id);
    scan s;
    scan_timeline(w, &prefix, &s);
    assert_int_equal(s.n, skip + ch->nnotes);
    for (size_t i = 0; i < ch->nnotes; i++) {
        json_t *e = s.vals[skip + i];
        assert_non_null(e);
        uint64_t seq = first + i;
        assert_int_equal(json_integer_value(json_object_get(e, "seq")), (json_int_t)seq);
        assert_int_equal(key_get_u64(s.keys[skip + i] + prefix.len), first); /* one record per change */
        assert_string_equal(json_string_value(json_object_get(e, "type")), ch->notes[i].type);
        assert_int_equal(json_integer_value(json_object_get(e, "at")), ch->notes[i].at);
        json_t *inputs = json_object_get(json_object_get(e, "data"), "inputs_seq");
        if (ch->notes[i].inputs_ref >= 0) {
            assert_int_equal(json_integer_value(inputs), (json_int_t)(first + (uint64_t)ch->notes[i].inputs_ref));
            assert_string_equal(ch->notes[ch->notes[i].inputs_ref].type, "policy.inputs");
        } else {
            assert_null(inputs);
        }
    }
    scan_free(&s);
}

/* Order O-1: delivered two days ago, one line A (1000 x 2), shipping 800. */
static void the_order(as_order *o) {
    order_init(o);
    AS_IDSET(o->order_id, "O-1");
    AS_IDSET(o->buyer_id, "B-1");
    AS_IDSET(o->merchant_id, "M-1");
    o->paid_at = NOW - 3 * DAY;
    o->delivered_at = NOW - 2 * DAY;
    o->shipping_cents = 800;
    o->items = calloc(1, sizeof *o->items);
    o->items[0] = (as_item){.sku = "A", .category = "apparel", .price_cents = 1000, .qty = 2};
    o->nitems = 1;
}

static void act_json(world *w, int64_t now, const as_case *c, const as_order *o, const as_ledger *l, const char *body,
                     as_changes *out) {
    json_t *in = json_loads(body, 0, NULL);
    action_input ai;
    as_error err = {0};
    assert_int_equal(action_input_parse(&ai, in, &err), 0);
    as_decider d = decider(w, now);
    static const as_actor agent = {"agent", "a-after"};
    if (case_act(&d, c, o, l, &ai, &agent, out, &err) != 0) fail_msg("%s: %s", body, err.message);
    json_decref(in);
}

/* Rule: the order, the case and everything derived from them land in one
 * batch; an action moves the indexes and timers with the case and goes on
 * numbering the timeline and the feed; a case that ends frees its agent. */
static void a_return_from_open_to_resolved(void **state) {
    world *w = *state;
    as_order order, *o = &order;
    the_order(o);
    as_decider d = decider(w, NOW);
    as_error err = {0};

    /* the order */
    as_order in;
    assert_int_equal(order_copy(&in, o), 0);
    as_changes och;
    assert_int_equal(order_put(&d, &in, NULL, 0, NULL, &och, &err), 0);
    assert_null(commit(w, &d, &och));
    changes_free(&och);
    as_order stored;
    assert_int_equal(order_load(w->sf.s, "O-1", 0, &stored), 0);
    assert_int_equal(stored.nitems, 1);
    order_free(&stored);
    assert_int_equal(order_has_cases(w->sf.s, "O-1"), 0);

    /* open */
    case_input ci = {.type = CASE_RETURN, .order_id = "O-1", .sku = "A", .qty = 1, .reason = RS_NO_REASON,
                     .channel = CH_APP};
    as_ledger ledger;
    assert_int_equal(ledger_load(w->sf.s, "O-1", &ledger), 0);
    assert_int_equal(ledger.n, 0);
    as_changes ch;
    uint64_t timeline0 = w->seqs.next_timeline;
    assert_int_equal(w->seqs.next_event, 1); /* feed seqs are the store's, given at commit: the counter numbers alerts */
    assert_int_equal(case_open(&d, &ci, o, &ledger, NULL, w->seqs.next_case++, &ch, &err), 0);
    ledger_free(&ledger);
    char *text = commit(w, &d, &ch);
    const as_case *c = ch.after;
    char *kept = stored_case(w, c->case_id);
    assert_string_equal(kept, text); /* what the API answers is what is stored */
    char *again = case_to_json(c, NULL);
    assert_string_equal(again, text);
    free(again);
    free(kept);
    as_case loaded;
    assert_int_equal(case_load(w->sf.s, c->case_id, 0, &loaded), 0);
    assert_int_equal(loaded.status, ST_AWAITING_CUSTOMER);
    case_free(&loaded);
    assert_int_equal(order_has_cases(w->sf.s, "O-1"), 1);

    /* indexes: one per field the case has a value for */
    assert_true(index_has(w, "status", "awaiting_customer", c));
    assert_true(index_has(w, "type", "return", c));
    assert_true(index_has(w, "queue", "after_sales", c));
    assert_true(index_has(w, "assignee", "a-after", c));
    assert_true(index_has(w, "buyer_id", "B-1", c));
    assert_true(index_has(w, "order_id", "O-1", c));
    assert_true(index_has(w, "merchant_id", "M-1", c));
    assert_true(index_has(w, "all", "", c));
    assert_false(index_has(w, "breached", "true", c));
    /* timers: the resolution target, one second after its due */
    assert_true(timer_has(w, c->sla.resolution_due + 1, "resolution", c->case_id));
    /* the agent's load, in the mirror and on disk */
    assert_int_equal(agents_find(&w->agents, "a-after")->load, 4);
    store_key ak;
    key_init(&ak);
    key_str(&ak, "a-after");
    char *agent_text = read_committed(w->sf.s, DB_AGENTS, ak.buf, ak.len);
    assert_non_null(strstr(agent_text, "\"load\":4"));
    free(agent_text);
    /* the timeline, with every decision pointing at the request's inputs */
    assert_int_equal(w->seqs.next_timeline, timeline0 + ch.nnotes);
    check_timeline(w, &ch, timeline0, 0);
    /* the feed: order.created, then case.created carrying the case */
    scan feed;
    scan_prefix(w, DB_EVENTS, NULL, &feed);
    assert_int_equal(feed.n, 2);
    assert_string_equal(json_string_value(json_object_get(feed.vals[0], "type")), "order.created");
    assert_int_equal(json_integer_value(json_object_get(feed.vals[0], "seq")), 1);
    assert_string_equal(json_string_value(json_object_get(feed.vals[1], "type")), "case.created");
    assert_int_equal(json_integer_value(json_object_get(feed.vals[1], "seq")), 2);
    assert_string_equal(json_string_value(json_object_get(feed.vals[1], "case_id")), c->case_id);
    assert_string_equal(json_string_value(json_object_get(feed.vals[1], "order_id")), "O-1");
    json_t *data = json_object_get(feed.vals[1], "data");
    char *data_text = json_dumps(data, JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_string_equal(data_text, text);
    free(data_text);
    scan_free(&feed);
    /* the claims ledger and the buyer's 30-day counts */
    assert_int_equal(ledger_load(w->sf.s, "O-1", &ledger), 0);
    assert_int_equal(ledger.n, 1);
    assert_int_equal(ledger.claims[0].qty, 1);
    assert_true(ledger.claims[0].active);
    as_customer cust;
    assert_int_equal(customer_read(w->sf.s, "M-1", "B-1", NOW, 0, &cust), 0);
    assert_int_equal(cust.cases_30d, 1);
    assert_int_equal(cust.returns_30d, 1);
    free(text);

    /* act: ship back; the status index moves, the timeline and feed go on */
    as_changes next;
    uint64_t timeline1 = w->seqs.next_timeline;
    act_json(w, NOW + HOUR, ch.after, o, &ledger, "{\"action\":\"ship_back\",\"carrier\":\"SF\",\"tracking_no\":\"1\"}",
             &next);
    ledger_free(&ledger);
    text = commit(w, &d, &next);
    const as_case *c2 = next.after;
    assert_false(index_has(w, "status", "awaiting_customer", c2));
    assert_true(index_has(w, "status", "in_progress", c2));
    assert_true(index_has(w, "type", "return", c2));
    check_timeline(w, &next, timeline1, ch.nnotes);
    scan_prefix(w, DB_EVENTS, NULL, &feed);
    assert_int_equal(feed.n, 3);
    assert_string_equal(json_string_value(json_object_get(feed.vals[2], "type")), "case.updated");
    data_text = json_dumps(json_object_get(json_object_get(feed.vals[2], "data"), "case"),
                           JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_string_equal(data_text, text);
    free(data_text);
    scan_free(&feed);
    free(text);
    changes_free(&ch);
    ch = next;

    /* through to the refund: the resolution timer goes, survey and auto-close come */
    const char *steps[] = {"{\"action\":\"receive\"}", "{\"action\":\"inspect\",\"result\":\"pass\"}",
                           "{\"action\":\"refund\",\"amount_cents\":1000}"};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(ledger_load(w->sf.s, "O-1", &ledger), 0);
        act_json(w, NOW + (int64_t)(2 + i) * HOUR, ch.after, o, &ledger, steps[i], &next);
        ledger_free(&ledger);
        free(commit(w, &d, &next));
        changes_free(&ch);
        ch = next;
    }
    c = ch.after;
    assert_int_equal(c->status, ST_RESOLVED);
    assert_false(timer_has(w, c->sla.resolution_due + 1, "resolution", c->case_id));
    assert_true(timer_has(w, c->survey.due_at, "survey", c->case_id));
    assert_true(timer_has(w, c->resolved_at + 7 * DAY, "auto_close", c->case_id));
    assert_int_equal(agents_find(&w->agents, "a-after")->load, 3); /* no longer active */
    assert_true(index_has(w, "status", "resolved", c));
    assert_int_equal(ledger_load(w->sf.s, "O-1", &ledger), 0);
    assert_false(ledger.claims[0].active);
    assert_int_equal(ledger.claims[0].refunded_cents, 1000);
    ledger_free(&ledger);
    scan_prefix(w, DB_EVENTS, NULL, &feed);
    assert_string_equal(json_string_value(json_object_get(feed.vals[feed.n - 2], "type")), "case.updated");
    assert_string_equal(json_string_value(json_object_get(feed.vals[feed.n - 1], "type")), "refund.requested");
    for (size_t i = 0; i < feed.n; i++) /* seqs are the keys, consecutive */
        assert_int_equal(json_integer_value(json_object_get(feed.vals[i], "seq")), (json_int_t)(i + 1));
    assert_int_equal(store_seq_durable(w->sf.s, DB_EVENTS), feed.n); /* the durable head the loop knows */
    scan_free(&feed);

    /* the sequences were stored with every batch */
    as_seqs back;
    assert_int_equal(seqs_load(w->sf.s, &back), 0);
    assert_memory_equal(&back, &w->seqs, sizeof back);
    changes_free(&ch);
    order_free(o);
}

/* Rule: a change that opened cases by itself stores them in the same batch,
 * before its own writes; an alert is stored under the seq of its
 * alert.raised event. */
static void spawned_cases_and_alerts(void **state) {
    world *w = *state;
    as_order order, *o = &order;
    the_order(o);
    o->delivered_at = AS_NONE;
    o->tracking = calloc(1, sizeof *o->tracking);
    int64_t scan_at = NOW - 3 * DAY;
    o->tracking[0] = (as_scan){TRK_IN_TRANSIT, scan_at, NULL, NULL, NULL};
    o->ntracking = 1;
    as_decider d = decider(w, NOW);
    as_error err = {0};
    as_order in;
    assert_int_equal(order_copy(&in, o), 0);
    as_changes och;
    assert_int_equal(order_put(&d, &in, NULL, 0, NULL, &och, &err), 0);
    free(commit(w, &d, &och));
    changes_free(&och);
    /* the stall watch is a timer of its own */
    store_key sk;
    key_init(&sk);
    key_u64(&sk, (uint64_t)(scan_at + 48 * HOUR));
    key_str(&sk, "stall");
    key_str(&sk, "O-1");
    char *watch = read_committed(w->sf.s, DB_TIMERS, sk.buf, sk.len);
    assert_non_null(watch);
    free(watch);

    as_changes ch;
    uint64_t seq = w->seqs.next_case;
    assert_int_equal(order_report_stall(&d, o, &ch), 0);
    assert_non_null(ch.spawned);
    assert_null(commit(w, &d, &ch)); /* no case of its own */
    as_case_id id;
    case_id_format(seq, id);
    char *kept = stored_case(w, id);
    assert_non_null(kept);
    assert_non_null(strstr(kept, "\"type\":\"logistics\""));
    free(kept);
    watch = read_committed(w->sf.s, DB_TIMERS, sk.buf, sk.len);
    assert_null(watch); /* reported: no longer watched */
    as_order after;
    assert_int_equal(order_load(w->sf.s, "O-1", 0, &after), 0);
    assert_int_equal(after.stall_reported_for, scan_at);
    order_free(&after);

    scan feed;
    scan_prefix(w, DB_EVENTS, NULL, &feed);
    assert_int_equal(feed.n, 3); /* order.created, then the logistics case and its alert */
    assert_string_equal(json_string_value(json_object_get(feed.vals[1], "type")), "case.created");
    assert_string_equal(json_string_value(json_object_get(feed.vals[1], "case_id")), id);
    assert_string_equal(json_string_value(json_object_get(feed.vals[2], "type")), "alert.raised");
    json_int_t alert_seq = json_integer_value(json_object_get(feed.vals[2], "seq"));
    json_t *alert = json_object_get(feed.vals[2], "data");
    assert_int_equal(alert_seq, 3); /* the feed's third event, numbered at commit */
    json_int_t alert_id = json_integer_value(json_object_get(alert, "alert_id"));
    assert_true(alert_id >= 1); /* alerts keep ids of their own */
    assert_string_equal(json_string_value(json_object_get(alert, "kind")), "stalled_parcel");
    assert_string_equal(json_string_value(json_object_get(alert, "case_id")), id);
    store_key ak;
    key_init(&ak);
    key_u8(&ak, IDX_ALERT);
    key_u64(&ak, (uint64_t)alert_id);
    char *stored_alert = read_committed(w->sf.s, DB_INDEX, ak.buf, ak.len);
    assert_non_null(stored_alert);
    char *alert_text = json_dumps(alert, JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_string_equal(stored_alert, alert_text);
    free(alert_text);
    free(stored_alert);
    scan_free(&feed);
    changes_free(&ch);
    order_free(o);
}

/* A change set that failed while it was built stores nothing. */
static void failed_change_set_fails_the_batch(void **state) {
    world *w = *state;
    as_changes ch;
    changes_init(&ch);
    ch.failed = 1;
    as_decider d = decider(w, NOW);
    commit_ctx cc = {w->sf.s, &w->seqs, &w->agents, &d, 0};
    store_batch *b = store_batch_new(w->sf.s);
    assert_null(changes_commit(&cc, b, &ch, NULL));
    assert_int_equal(commit_wait(&w->sf, b), STORE_ENOMEM);
}

/* A risk window keeps at most `keep` of its newest entries (a return spike's
 * threshold): a busy sku's window is rewritten at its threshold's size, not
 * at the bound, with every return. keep 0 is the bound. */
static void risk_window_keeps_its_newest(void **state) {
    world *w = *state;
    for (int i = 0; i < 10; i++) {
        as_window win = {.scope = "return_sku", .a = "M-1", .b = "A", .tag = {"B-1"}, .at = NOW + i,
                         .span = DAY, .keep = 3};
        as_window all = win;
        snprintf(all.b, sizeof all.b, "%s", "ALL");
        all.keep = 0;
        store_batch *b = store_batch_new(w->sf.s);
        risk_window_add(b, &win);
        risk_window_add(b, &all);
        assert_int_equal(commit_wait(&w->sf, b), 0);
    }
    as_window_count kept, every;
    assert_int_equal(risk_window_read(w->sf.s, "return_sku", "M-1", "A", NOW - 1, "", &kept), 0);
    assert_int_equal(risk_window_read(w->sf.s, "return_sku", "M-1", "ALL", NOW - 1, "", &every), 0);
    assert_int_equal(kept.count, 3);
    assert_int_equal(every.count, 10);
}

/* A directory of a newer schema (a build that stores what this one would
 * misread) is refused, not served; one of this build's passes. */
static void a_newer_schema_is_refused(void **state) {
    world *w = *state;
    migrate_report r;
    assert_int_equal(store_migrate(w->sf.s, &r), 0);
    assert_int_equal(r.to, AS_SCHEMA);
    char newer[16];
    int n = snprintf(newer, sizeof newer, "%d", AS_SCHEMA + 1);
    store_batch *b = store_batch_new(w->sf.s);
    store_batch_put(b, DB_META, "schema", 6, newer, (size_t)n);
    assert_int_equal(commit_wait(&w->sf, b), 0);
    assert_int_equal(store_migrate(w->sf.s, &r), STORE_EINVAL);
    assert_int_equal(r.from, AS_SCHEMA + 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_return_from_open_to_resolved, setup, teardown),
        cmocka_unit_test_setup_teardown(spawned_cases_and_alerts, setup, teardown),
        cmocka_unit_test_setup_teardown(failed_change_set_fails_the_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(risk_window_keeps_its_newest, setup, teardown),
        cmocka_unit_test_setup_teardown(a_newer_schema_is_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

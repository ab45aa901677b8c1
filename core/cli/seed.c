/* cli/seed: `aftersaled seed`, a data directory with N realistic cases.
 *
 *   aftersaled seed --data DIR --cases N [--merchants M] [--agents A] [--days D]
 *                   [--seed S] [--policies DIR] [--now UNIX] [--per-batch K]
 *
 * For measurements (scripts/bench --history N): a store as a server that had
 * served N cases over D days would hold. Everything goes through the domain
 * layer the server runs (case/domain.h) and one commit function
 * (case/commit.h): an order per case (order_put), the opening (case_open, the
 * policies deciding as of its created_at), then the case's life as agents and
 * buyers would act on it (reply, approve or reject a review, ship back,
 * receive, inspect, refund, resolve, the survey answer), each at a plausible
 * later time, and every timer the case wants up to the end of the period
 * fired in due order (case_fire_timer), as the server's rounds would have.
 * So the cases, their indexes, timers, timelines, the feed and whatever else
 * changes_commit derives are written exactly as the server writes them.
 * Steps that would fall after --now are not taken: recent cases stay open.
 *
 * Speed comes from the batch size, not from shortcuts: K cases (default 2000,
 * some 100,000 writes) go into one store batch, so one LMDB transaction and
 * one fsync carry thousands of changes, and the next batch is built while the
 * writer commits the last. Each commit rewrites every B-tree page it touches,
 * so fewer, larger batches write far less: 50k cases took 19.0 s and wrote
 * 7.8 GB at K=500, 20.5 s and 3.0 GB at K=2000 (20k cases at K=50: 7.7 GB);
 * the 1M store written at K=500 cost 570 GB of disk writes. Reads the rules
 * make (ctx.customer, complaint counts, risk
 * windows) see committed data and the batches in flight, as a live server's
 * do; the batch being built is invisible to them, so a buyer's 30-day counts
 * may lag by at most one batch.
 *
 * What the API layer adds beyond the domain is not reproduced: cases waiting
 * in a queue's backlog are not handed out when capacity frees (agents fill up
 * and later cases wait unassigned), and no idempotency records are kept. The
 * relationship survey (survey.relationship) is planned as the server plans it
 * on a buyer's new order and case.
 *
 * The data directory may hold data already: cases are numbered on from its
 * sequences. A server must not run on it meanwhile (one writer). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "case/codec.h"
#include "case/commit.h"
#include "case/kpi.h"
#include "case/migrate.h"
#include "case/records.h"
#include "cli/cli.h"
#include "util/log.h"

#define HOUR 3600
#define DAY 86400
#define FIRE_MAX 24 /* timers fired per case: a ladder of warnings and escalations */

typedef struct {
    const char *data, *policies;
    int64_t cases, merchants, agents, days, seed, now, per_batch;
} seed_args;

/* xorshift64*: reproducible for a given --seed, no global state. */
typedef struct {
    uint64_t s;
} rng;

static uint64_t rnd(rng *r) {
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545F4914F6CDD1DULL;
}

static int64_t rnd_in(rng *r, int64_t lo, int64_t hi) { return lo + (int64_t)(rnd(r) % (uint64_t)(hi - lo + 1)); }
static int chance(rng *r, int percent) { return (int)(rnd(r) % 100) < percent; }

typedef struct {
    seed_args a;
    rng r;
    uv_loop_t loop;
    store *db;
    policy_set *ps;
    as_agents agents;
    as_seqs seqs;
    as_reads reads;
    int64_t start, end; /* the period the cases are opened in */
    int64_t now;        /* the decision being made: ctx.customer's 30 days end here */
    store_batch *b;
    int inflight, failed_commits, commit_err;
    int64_t orders, opened, actions, fired, answered;
    int64_t refused[ACT__COUNT + 2]; /* actions the domain refused, by action (+ open, survey) */
    int64_t kpi_offset; /* the KPI aggregates' zone (case/kpi.h) */
} seeder;

/* ---- what the rules read: the store as a live server's reads see it ---- */

static int seed_customer(void *ud, const char *merchant_id, const char *buyer_id, as_customer *out) {
    seeder *sd = ud;
    return customer_read(sd->db, merchant_id, buyer_id, sd->now, 0, out);
}

static int64_t seed_complaints(void *ud, const char *merchant_id, const char *sku, int64_t since) {
    return complaints_count(((seeder *)ud)->db, merchant_id, sku, since);
}

static int seed_window(void *ud, const char *scope, const char *a, const char *b, int64_t since, const char *tag,
                       as_window_count *out) {
    return risk_window_read(((seeder *)ud)->db, scope, a, b, since, tag, out);
}

static as_decider decider_at(seeder *sd, int64_t now) {
    sd->now = now;
    return (as_decider){.policies = sd->ps, .now = now, .reads = &sd->reads, .agents = &sd->agents,
                        .next_case_seq = &sd->seqs.next_case};
}

/* The aggregates the commit keeps up (case/kpi.h) in the zone they have, or,
 * for a directory without them, built first in the zone of the set's default
 * calendar, as the server's start does: then a server started on the seeded
 * directory has nothing to rebuild. */
static int kpi_ready(seeder *sd) {
    int rc = kpi_meta_read(sd->db, &sd->kpi_offset);
    if (rc != STORE_ENOTFOUND) return rc;
    char err[256];
    const calendar *cal = policy_calendar(sd->ps, NULL, err, sizeof err);
    sd->kpi_offset = cal ? calendar_utc_offset(cal) : 0;
    kpi_rebuild_report r;
    return kpi_rebuild(sd->db, sd->kpi_offset, &r);
}

static void commit_into(seeder *sd, const as_decider *d, const as_changes *ch) {
    commit_ctx cc = {sd->db, &sd->seqs, &sd->agents, d, sd->kpi_offset};
    free(changes_commit(&cc, sd->b, ch, NULL));
}

static void on_committed(int status, void *ud) {
    seeder *sd = ud;
    sd->inflight--;
    if (status != 0) {
        sd->failed_commits++;
        sd->commit_err = status;
    }
}

/* Hands the batch to the writer and starts the next; at most two in flight,
 * so building the next overlaps the last one's commit. */
static void flush(seeder *sd, int last) {
    if (store_batch_ops(sd->b) > 0) {
        seqs_put(sd->b, &sd->seqs);
        sd->inflight++;
        store_submit(sd->b, on_committed, sd);
    } else {
        store_batch_free(sd->b);
    }
    sd->b = NULL;
    while (sd->inflight >= (last ? 1 : 2)) uv_run(&sd->loop, UV_RUN_ONCE);
    if (!last) sd->b = store_batch_new(sd->db);
}

/* ---- the people ---- */

static const char *const CATEGORIES[] = {"electronics", "apparel", "home", "beauty", "grocery"};
#define NCATEGORIES 5

static int put_agent(seeder *sd, int64_t i) {
    static const char *const queues[] = {"after_sales", "after_sales", "after_sales", "after_sales",
                                         "customer_service", "customer_service", "customer_service",
                                         "quality", "quality", "tech_support"};
    char id[32];
    snprintf(id, sizeof id, "agent-%04" PRId64, i + 1);
    as_agent a = {0};
    AS_IDSET(a.agent_id, id);
    a.name = strdup(id);
    a.queues = calloc(1, sizeof *a.queues);
    const char *q = queues[i % 10];
    int skilled = strcmp(q, "tech_support") == 0;
    a.skills = skilled ? calloc(NCATEGORIES, sizeof *a.skills) : NULL;
    if (a.name == NULL || a.queues == NULL || (skilled && a.skills == NULL)) {
        agent_free(&a);
        return -1;
    }
    AS_IDSET(a.queues[0], q);
    a.nqueues = 1;
    for (size_t k = 0; skilled && k < NCATEGORIES; k++) AS_IDSET(a.skills[a.nskills++], CATEGORIES[k]);
    a.capacity = 25;
    a.online = 1;
    as_agent *old = agents_find(&sd->agents, id);
    if (old) a.load = old->load; /* a data directory seeded before: keep its count */
    size_t len;
    char *text = agent_to_json(&a, &len);
    if (text == NULL || agents_put(&sd->agents, &a) != 0) {
        free(text);
        agent_free(&a);
        return -1;
    }
    store_key k;
    key_init(&k);
    key_str(&k, id);
    store_batch_put(sd->b, DB_AGENTS, k.buf, k.len, text, len);
    free(text);
    return 0;
}

/* ---- one case's life ---- */

/* The buyer was active with the merchant: a relationship survey round is
 * planned (as the server's api/surveys.c does on a new order or case), and
 * sent if its time came within the period. */
static void nps_activity(seeder *sd, const as_decider *d, const char *merchant_id, const char *buyer_id) {
    as_nps cur;
    int rc = nps_load(sd->db, sd->b, buyer_id, merchant_id, &cur);
    if ((rc != 0 && rc != STORE_ENOTFOUND) || (rc == 0 && nps_planned(&cur))) {
        if (rc == 0) nps_free(&cur);
        return;
    }
    as_changes ch;
    if (nps_plan(d, rc == 0 ? &cur : NULL, merchant_id, buyer_id, &ch) != 0) store_batch_fail(sd->b, STORE_ENOMEM);
    else if (ch.nps) {
        commit_into(sd, d, &ch);
        int64_t due = nps_timer_due(ch.nps);
        if (due >= 0 && due <= sd->end) {
            as_decider at = decider_at(sd, due);
            as_changes sent;
            if (nps_fire(&at, ch.nps, due, &sent) == 0 && sent.nps) commit_into(sd, &at, &sent);
            changes_free(&sent);
        }
    }
    changes_free(&ch);
    if (rc == 0) nps_free(&cur);
}

/* The order a case is about: one to three lines, paid some days before,
 * delivered before the case (bought by the buyer from the merchant). */
static int make_order(seeder *sd, const char *order_id, const char *buyer, const char *merchant, int64_t created,
                      as_order *out) {
    rng *r = &sd->r;
    int64_t paid = created - rnd_in(r, 2 * DAY, 20 * DAY);
    int64_t delivered = paid + rnd_in(r, DAY, 4 * DAY);
    if (delivered > created - HOUR) delivered = created - HOUR;
    json_t *items = json_array();
    int n = (int)rnd_in(r, 1, 3);
    for (int i = 0; i < n; i++) {
        char sku[32];
        snprintf(sku, sizeof sku, "sku-%03d-%d", (int)rnd_in(r, 1, 400), i);
        json_array_append_new(items, json_pack("{s:s,s:s,s:I,s:I,s:s}", "sku", sku, "category",
                                               CATEGORIES[rnd(r) % NCATEGORIES], "price_cents",
                                               (json_int_t)rnd_in(r, 500, 90000), "qty", (json_int_t)rnd_in(r, 1, 2),
                                               "title", "seeded item"));
    }
    json_t *buyer_obj = json_object();
    if (chance(r, 8)) json_object_set_new(buyer_obj, "tier", json_string("vip"));
    if (chance(r, 50)) json_object_set_new(buyer_obj, "lifetime_spend_cents", json_integer(rnd_in(r, 0, 3000000)));
    json_t *in = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:o,s:o}", "order_id", order_id, "buyer_id", buyer, "merchant_id",
                           merchant, "paid_at", (json_int_t)paid, "delivered_at", (json_int_t)delivered,
                           "shipping_cents", (json_int_t)(chance(r, 50) ? 0 : 800), "items", items, "buyer", buyer_obj);
    as_error err = {0};
    int rc = in ? order_input_parse(out, in, &err) : -1;
    json_decref(in);
    if (rc != 0) {
        fprintf(stderr, "aftersaled seed: order: %s\n", err.message);
        return -1;
    }
    as_decider d = decider_at(sd, delivered);
    as_changes ch;
    if (order_put(&d, out, NULL, 0, NULL, &ch, &err) != 0) {
        fprintf(stderr, "aftersaled seed: order: %s\n", err.message);
        return -1;
    }
    commit_into(sd, &d, &ch);
    nps_activity(sd, &d, merchant, buyer);
    order_free(out);
    rc = order_copy(out, ch.order);
    changes_free(&ch);
    sd->orders++;
    return rc;
}

/* A case's current state: the last change set's `after` (kept alive until
 * the next one replaces it) and the order's claims ledger. */
typedef struct {
    as_changes ch;
    const as_case *c;
    as_order order;
    int has_order;
    as_ledger ledger;
} life;

static void life_take(life *l, as_changes *ch) {
    changes_free(&l->ch);
    l->ch = *ch;
    l->c = l->ch.after;
    if (l->ch.ledger) {
        ledger_free(&l->ledger);
        ledger_init(&l->ledger);
        if (ledger_copy(&l->ledger, l->ch.ledger) != 0) l->ch.failed = 1;
    }
}

/* One action at time t as `who` would send it (body: a POST
 * /v1/cases/{id}/actions body, parsed by the API's own parser). 0 if the
 * domain took it. */
static int act(seeder *sd, life *l, int64_t t, const as_actor *who, json_t *body) {
    action_input ai;
    as_error err = {0};
    as_changes ch;
    as_decider d = decider_at(sd, t);
    int rc = body ? action_input_parse(&ai, body, &err) : -1;
    if (rc == 0) rc = case_act(&d, l->c, l->has_order ? &l->order : NULL, &l->ledger, &ai, who, &ch, &err);
    if (rc == 0) {
        commit_into(sd, &d, &ch);
        life_take(l, &ch);
        sd->actions++;
    } else if (body) {
        sd->refused[ai.action]++;
    }
    json_decref(body);
    return rc;
}

static int active(const as_case *c) {
    return c->status == ST_OPEN || c->status == ST_AWAITING_CUSTOMER || c->status == ST_IN_PROGRESS;
}

/* Fires every timer the case wants up to the end of the period, earliest
 * first, as the server's rounds would have. */
static void fire_due(seeder *sd, life *l) {
    for (int i = 0; i < FIRE_MAX; i++) {
        case_timer ts[CASE_TIMERS_MAX];
        int n = case_timers(l->c, ts), first = -1;
        for (int k = 0; k < n; k++)
            if (ts[k].due <= sd->end && (first < 0 || ts[k].due < ts[first].due)) first = k;
        if (first < 0) return;
        as_decider d = decider_at(sd, ts[first].due);
        as_changes ch;
        if (case_fire_timer(&d, l->c, ts[first].kind, ts[first].due, &ch) != 0) return;
        commit_into(sd, &d, &ch);
        life_take(l, &ch);
        sd->fired++;
    }
}

/* The agent's and the buyer's steps after the opening, each some hours or
 * days after the last; none past the end of the period. */
static void live_case(seeder *sd, life *l, int64_t t) {
    rng *r = &sd->r;
    as_actor agent = {"agent", ""}, buyer = {"service", ""};
    AS_IDSET(buyer.id, l->c->merchant_id);
#define STEP(lo, hi) (t += rnd_in(r, (lo), (hi)), t <= sd->end)
#define AGENT() (AS_IDSET(agent.id, l->c->assignee[0] ? l->c->assignee : "agent-0001"), &agent)
    if (!STEP(HOUR / 4, 8 * HOUR)) return;
    act(sd, l, t, AGENT(), json_pack("{s:s,s:s,s:s}", "action", "reply", "by", "agent", "body", "Thanks, we are on it."));
    if (l->c->stage == STG_MANUAL_REVIEW) {
        if (!STEP(HOUR, 24 * HOUR)) return;
        if (chance(r, 75)) act(sd, l, t, AGENT(), json_pack("{s:s}", "action", "approve"));
        else act(sd, l, t, AGENT(), json_pack("{s:s,s:s}", "action", "reject", "reason", "outside the policy"));
    }
    case_type ty = l->c->type;
    if (l->c->stage == STG_AWAITING_SHIPMENT) {
        if (chance(r, 5)) { /* the buyer changed their mind */
            if (STEP(HOUR, 2 * DAY)) act(sd, l, t, &buyer, json_pack("{s:s}", "action", "cancel"));
            return;
        }
        if (!STEP(HOUR, 3 * DAY)) return;
        char no[32];
        snprintf(no, sizeof no, "SF%010" PRIu64, rnd(r) % (uint64_t)10000000000);
        act(sd, l, t, &buyer, json_pack("{s:s,s:s,s:s}", "action", "ship_back", "carrier", "SF", "tracking_no", no));
        if (ty != CASE_REPAIR) {
            if (!STEP(DAY, 4 * DAY)) return;
            act(sd, l, t, AGENT(), json_pack("{s:s}", "action", "receive"));
        }
    }
    if (l->c->stage == STG_RECEIVED) {
        if (!STEP(HOUR, DAY)) return;
        act(sd, l, t, AGENT(), json_pack("{s:s,s:s}", "action", "inspect", "result", chance(r, 92) ? "pass" : "fail"));
    }
    if (l->c->stage == STG_IN_TRANSIT && ty == CASE_REPAIR) {
        if (!STEP(DAY, 4 * DAY)) return;
        act(sd, l, t, AGENT(), json_pack("{s:s}", "action", "receive"));
    }
    if (l->c->stage == STG_REPAIRING) {
        if (!STEP(DAY, 5 * DAY)) return;
        act(sd, l, t, AGENT(), json_pack("{s:s}", "action", "repair_done"));
    }
    if (l->c->stage == STG_AWAITING_REFUND && l->c->refund.approved_cents > 0) {
        if (!STEP(HOUR, DAY)) return;
        act(sd, l, t, AGENT(), json_pack("{s:s,s:I}", "action", "refund", "amount_cents",
                                         (json_int_t)(l->c->refund.approved_cents - l->c->refund.refunded_cents)));
    }
    if (l->c->stage == STG_AWAITING_REPLACEMENT || l->c->stage == STG_REPAIRED) {
        if (!STEP(HOUR, 2 * DAY)) return;
        act(sd, l, t, AGENT(), json_pack("{s:s,s:s,s:s}", "action", "ship_to_customer", "carrier", "SF",
                                         "tracking_no", "SF-OUT"));
    }
    if (active(l->c)) {
        if (!STEP(HOUR, 2 * DAY)) return;
        act(sd, l, t, AGENT(), json_pack("{s:s,s:s}", "action", "resolve", "resolution", "answered and settled"));
    }
    if (l->c->status == ST_RESOLVED && l->c->survey.due_at != AS_NONE && chance(r, 55)) {
        int64_t at = l->c->survey.due_at + rnd_in(r, 0, DAY);
        if (at > sd->end) return;
        fire_due(sd, l); /* the survey request goes out first */
        json_t *body = json_pack("{s:I,s:I}", "csat", (json_int_t)rnd_in(r, 1, 5), "nps", (json_int_t)rnd_in(r, 0, 10));
        survey_answer sa;
        as_error err = {0};
        as_changes ch;
        as_decider d = decider_at(sd, at);
        if (body && survey_answer_parse(&sa, body, &err) == 0 &&
            case_answer_survey(&d, l->c, l->has_order ? &l->order : NULL, &sa, &buyer, &ch, &err) == 0) {
            commit_into(sd, &d, &ch);
            life_take(l, &ch);
            sd->answered++;
        } else {
            sd->refused[ACT__COUNT + 1]++;
        }
        json_decref(body);
    }
#undef STEP
#undef AGENT
}

static const struct {
    case_type type;
    int weight;
    int needs_order;
} MIX[] = {
    {CASE_RETURN, 30, 1},      {CASE_REFUND_ONLY, 14, 1},      {CASE_EXCHANGE, 10, 1}, {CASE_REPAIR, 5, 1},
    {CASE_PRICE_PROTECTION, 4, 1}, {CASE_COMPLAINT, 12, 0}, {CASE_CONSULTATION, 25, 0},
};

static const case_reason REASONS[] = {RS_NO_REASON, RS_QUALITY, RS_WRONG_ITEM, RS_DAMAGED_IN_TRANSIT,
                                      RS_NOT_AS_DESCRIBED, RS_NO_REASON, RS_QUALITY, RS_OTHER};
static const case_channel CHANNELS[] = {CH_APP, CH_APP, CH_WEB, CH_CHAT, CH_CHAT, CH_PHONE, CH_EMAIL, CH_SOCIAL};

static case_type pick_type(rng *r, int *needs_order) {
    int total = 0;
    for (size_t i = 0; i < sizeof MIX / sizeof MIX[0]; i++) total += MIX[i].weight;
    int x = (int)(rnd(r) % (uint64_t)total);
    for (size_t i = 0; i < sizeof MIX / sizeof MIX[0]; i++) {
        if (x < MIX[i].weight) {
            *needs_order = MIX[i].needs_order;
            return MIX[i].type;
        }
        x -= MIX[i].weight;
    }
    *needs_order = 1;
    return CASE_RETURN;
}

/* Case number i of N: its order, its opening, its life. */
static int seed_case(seeder *sd, int64_t i) {
    rng *r = &sd->r;
    int64_t span = sd->end - sd->start;
    int64_t created = sd->start + (int64_t)((double)span * (double)i / (double)sd->a.cases) + rnd_in(r, 0, 59);
    if (created > sd->end) created = sd->end;
    int64_t buyers = sd->a.cases / 3 + 1;
    char buyer[32], merchant[32], order_id[48];
    snprintf(buyer, sizeof buyer, "b-%07" PRIu64, rnd(r) % (uint64_t)buyers + 1);
    snprintf(merchant, sizeof merchant, "m-%03" PRIu64, rnd(r) % (uint64_t)sd->a.merchants + 1);
    int needs_order;
    case_type type = pick_type(r, &needs_order);
    int with_order = needs_order || chance(r, 60);
    life l = {0};
    changes_init(&l.ch);
    order_init(&l.order);
    ledger_init(&l.ledger);
    uint64_t seq = sd->seqs.next_case++;
    if (with_order) {
        snprintf(order_id, sizeof order_id, "o-s%" PRIu64, seq);
        if (make_order(sd, order_id, buyer, merchant, created, &l.order) != 0) return -1;
        l.has_order = 1;
    }
    case_input in = {.type = type, .order_id = with_order ? order_id : NULL, .buyer_id = buyer,
                     .merchant_id = merchant, .sku = with_order ? l.order.items[rnd(r) % l.order.nitems].sku : NULL,
                     .description = "seeded case", .qty = AS_NONE,
                     .reason = type == CASE_PRICE_PROTECTION ? RS_PRICE_DROP
                               : type == CASE_COMPLAINT      ? (chance(r, 50) ? RS_ATTITUDE : RS_LATE_DELIVERY)
                                                             : REASONS[rnd(r) % 8],
                     .channel = CHANNELS[rnd(r) % 8], .opened = chance(r, 50)};
    as_actor who = {"service", ""};
    AS_IDSET(who.id, merchant);
    as_decider d = decider_at(sd, created);
    as_error err = {0};
    as_changes ch;
    int rc = case_open(&d, &in, with_order ? &l.order : NULL, &l.ledger, &who, seq, &ch, &err);
    if (rc != 0) {
        sd->refused[ACT__COUNT]++;
    } else {
        commit_into(sd, &d, &ch);
        life_take(&l, &ch);
        nps_activity(sd, &d, merchant, buyer);
        sd->opened++;
        live_case(sd, &l, created);
        fire_due(sd, &l);
    }
    changes_free(&l.ch);
    order_free(&l.order);
    ledger_free(&l.ledger);
    return l.ch.failed ? -1 : 0;
}

/* ---- the command ---- */

static int usage(void) {
    fprintf(stderr, "usage: aftersaled seed --data DIR --cases N [--merchants M] [--agents A] [--days D]\n"
                    "                       [--seed S] [--policies DIR] [--now UNIX] [--per-batch K]\n"
                    "  writes N cases (with their orders, lives and timers) opened over the D days\n"
                    "  (default 90) before --now (default: the time now), as the server would have;\n"
                    "  M merchants (default 20), A agents (default 60), K cases per batch (default 2000)\n");
    return 2;
}

static int parse(int argc, char **argv, seed_args *a) {
    *a = (seed_args){.policies = "policies", .cases = -1, .merchants = 20, .agents = 60, .days = 90, .seed = 1,
                     .now = (int64_t)time(NULL), .per_batch = 2000};
    for (int i = 0; i < argc; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL) return -1;
        int64_t *num = !strcmp(f, "--cases")       ? &a->cases
                       : !strcmp(f, "--merchants") ? &a->merchants
                       : !strcmp(f, "--agents")    ? &a->agents
                       : !strcmp(f, "--days")      ? &a->days
                       : !strcmp(f, "--seed")      ? &a->seed
                       : !strcmp(f, "--now")       ? &a->now
                       : !strcmp(f, "--per-batch") ? &a->per_batch
                                                   : NULL;
        if (num) {
            char *end;
            errno = 0;
            long long n = strtoll(v, &end, 10);
            if (*end || errno || n < 0) return -1;
            *num = n;
        } else if (!strcmp(f, "--data")) a->data = v;
        else if (!strcmp(f, "--policies")) a->policies = v;
        else return -1;
        i++;
    }
    if (a->data == NULL || a->cases < 0 || a->merchants < 1 || a->agents < 1 || a->days < 1 || a->per_batch < 1 ||
        a->now < a->days * DAY)
        return -1;
    return 0;
}

static double seconds_since(const struct timespec *t0) {
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

int cli_seed(int argc, char **argv) {
    seeder *sd = calloc(1, sizeof *sd);
    if (sd == NULL) return 1;
    if (parse(argc, argv, &sd->a) != 0) {
        free(sd);
        return usage();
    }
    sd->r.s = 0x9E3779B97F4A7C15ULL ^ (uint64_t)sd->a.seed;
    sd->end = sd->a.now;
    sd->start = sd->end - sd->a.days * DAY;
    sd->reads = (as_reads){.ud = sd, .customer = seed_customer, .complaints = seed_complaints, .window = seed_window};
    agents_init(&sd->agents);
    char err[2048] = "";
    int rc = 1;
    policy_config pcfg = {.dir = sd->a.policies};
    store_config scfg = {.path = sd->a.data, .map_size = (size_t)256 << 20, .map_max = (size_t)256 << 30};
    migrate_report mr;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (uv_loop_init(&sd->loop) != 0) {
        free(sd);
        return 1;
    }
    if (policy_set_load(&pcfg, &sd->ps, err, sizeof err) != 0) {
        fprintf(stderr, "aftersaled seed: policies %s: %s\n", sd->a.policies, err);
        sd->ps = NULL;
    } else if (store_open(&sd->db, &sd->loop, &scfg) != 0) {
        fprintf(stderr, "aftersaled seed: cannot open the data directory %s\n", sd->a.data);
        sd->db = NULL;
    } else if (store_migrate(sd->db, &mr) != 0) { /* a new directory: marked as this build's schema */
        fprintf(stderr, "aftersaled seed: cannot bring %s to this build's schema\n", sd->a.data);
    } else if (seqs_load(sd->db, &sd->seqs) != 0 || agents_read_all(sd->db, &sd->agents) != 0) {
        fprintf(stderr, "aftersaled seed: cannot read %s\n", sd->a.data);
    } else if (kpi_ready(sd) != 0) {
        fprintf(stderr, "aftersaled seed: cannot build the KPI aggregates of %s\n", sd->a.data);
    } else {
        uint64_t first = sd->seqs.next_case;
        sd->b = store_batch_new(sd->db);
        rc = 0;
        for (int64_t i = 0; i < sd->a.agents && rc == 0; i++) rc = put_agent(sd, i);
        for (int64_t i = 0; i < sd->a.cases && rc == 0 && sd->failed_commits == 0; i++) {
            rc = seed_case(sd, i);
            if ((i + 1) % sd->a.per_batch == 0) flush(sd, 0);
            if ((i + 1) % 100000 == 0)
                fprintf(stderr, "aftersaled seed: %" PRId64 " cases, %.1f s\n", i + 1, seconds_since(&t0));
        }
        flush(sd, 1);
        if (sd->failed_commits) {
            fprintf(stderr, "aftersaled seed: %d batches failed: %s\n", sd->failed_commits,
                    store_strerror(sd->commit_err));
            rc = 1;
        }
        double secs = seconds_since(&t0);
        printf("{\"cases\":%" PRId64 ",\"first_case\":%" PRIu64 ",\"next_case\":%" PRIu64 ",\"orders\":%" PRId64
               ",\"actions\":%" PRId64 ",\"timers_fired\":%" PRId64 ",\"surveys_answered\":%" PRId64
               ",\"seconds\":%.2f,\"cases_per_second\":%.0f,\"refused\":{",
               sd->opened, first, sd->seqs.next_case, sd->orders, sd->actions, sd->fired, sd->answered, secs,
               secs > 0 ? (double)sd->opened / secs : 0.0);
        const char *sep = "";
        for (int a = 0; a < ACT__COUNT + 2; a++) {
            if (!sd->refused[a]) continue;
            printf("%s\"%s\":%" PRId64, sep, a < ACT__COUNT ? case_action_name((case_action)a)
                                          : a == ACT__COUNT ? "open" : "survey",
                   sd->refused[a]);
            sep = ",";
        }
        printf("}}\n");
        if (rc != 0) fprintf(stderr, "aftersaled seed: stopped after %" PRId64 " cases\n", sd->opened);
    }
    if (sd->b) store_batch_free(sd->b);
    if (sd->db) {
        store_close(sd->db);
        uv_run(&sd->loop, UV_RUN_DEFAULT);
    }
    if (uv_loop_close(&sd->loop) != 0) fprintf(stderr, "aftersaled seed: the loop still had handles\n");
    policy_set_free(sd->ps);
    agents_free(&sd->agents);
    free(sd);
    return rc;
}

/* api/timers: the due-timers that make cases move with time.
 *
 * A case's timers are derived from the case itself, like its indexes: an SLA
 * target not met yet, a survey not sent yet, a resolved case not closed yet.
 * case_save() diffs the timers of the case before and after a change, so a
 * timer disappears by itself when its reason does (an agent replied, the case
 * was resolved). Keys are due(be64) | kind | case_id in DB_TIMERS, so the
 * next timers to fire are the first keys.
 *
 * Firing runs on the loop thread: with the real clock a one-second tick, with
 * the manual clock right after every POST /v1/admin/clock. One round reads
 * the due timers (committed data), applies each to its case, and saves every
 * change in one batch; the next round waits until that batch is durable, so
 * a timer never fires twice. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/alerts.h"
#include "api/api.h"
#include "api/casework.h"
#include "api/decide.h"
#include "api/timers.h"
#include "util/log.h"

#define AUTO_CLOSE_AFTER (7 * 86400)
#define FIRE_MAX_PER_ROUND 2000
#define TICK_MS 1000

typedef struct {
    int64_t due;
    const char *kind;
} case_timer;

static int breached(const json_t *kase, const char *kind) {
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(json_object_get(kase, "sla"), "breached"), i, v) {
        if (json_string_value(v) && !strcmp(json_string_value(v), kind)) return 1;
    }
    return 0;
}

/* An SLA target is met by an answer at or before its due instant ("within 2
 * hours" includes the 7200th second), so the breach fires the second after. */
#define BREACH_AFTER_DUE 1

/* Adds the timer due `delay` seconds after `at`, unless that is past the
 * last representable second: a due stored as "never" (the calendar's
 * CALENDAR_NEVER) wants no timer. The sum overflowed, and the wrapped due
 * fired at once (a breach the moment a case opened). */
static void want_timer(case_timer out[4], int *n, int64_t at, int64_t delay, const char *kind) {
    if (at > INT64_MAX - delay) return;
    out[(*n)++] = (case_timer){at + delay, kind};
}

/* The timers a case wants right now (at most four). */
static int case_timers(const json_t *kase, case_timer out[4]) {
    int n = 0;
    if (kase == NULL) return 0;
    const char *status = json_string_value(json_object_get(kase, "status"));
    json_t *sla = json_object_get(kase, "sla"), *survey = json_object_get(kase, "survey");
    json_t *fr = json_object_get(sla, "first_response_due"), *rd = json_object_get(sla, "resolution_due");
    if (case_status_active(status)) {
        if (json_is_integer(fr) && json_is_null(json_object_get(kase, "first_response_at")) &&
            !breached(kase, "first_response"))
            want_timer(out, &n, json_integer_value(fr), BREACH_AFTER_DUE, "first_response");
        if (json_is_integer(rd) && !breached(kase, "resolution"))
            want_timer(out, &n, json_integer_value(rd), BREACH_AFTER_DUE, "resolution");
    }
    if (status && !strcmp(status, "resolved")) {
        json_t *due = json_object_get(survey, "due_at");
        json_t *sent = json_object_get(survey, "sent_at"); /* absent until sent */
        if (json_is_integer(due) && (sent == NULL || json_is_null(sent)))
            want_timer(out, &n, json_integer_value(due), 0, "survey");
        json_t *resolved = json_object_get(kase, "resolved_at");
        if (json_is_integer(resolved))
            want_timer(out, &n, json_integer_value(resolved), AUTO_CLOSE_AFTER, "auto_close");
    }
    return n;
}

static void timer_key(store_key *k, int64_t due, const char *kind, const char *case_id) {
    key_init(k);
    key_u64(k, (uint64_t)(due < 0 ? 0 : due));
    key_str(k, kind);
    key_str(k, case_id);
}

static int has_timer(const case_timer *set, int n, const case_timer *t) {
    for (int i = 0; i < n; i++)
        if (set[i].due == t->due && !strcmp(set[i].kind, t->kind)) return 1;
    return 0;
}

/* When the case wants a timer of this kind now, or -1 if it wants none. */
static int64_t case_timer_due(const json_t *kase, const char *kind) {
    case_timer set[4];
    int n = case_timers(kase, set);
    for (int i = 0; i < n; i++)
        if (!strcmp(set[i].kind, kind)) return set[i].due;
    return -1;
}

/* A timer key whose reason is gone is dropped when it comes up, never fired. */
static int case_wants_timer(const json_t *kase, const char *kind, int64_t due) {
    return case_timer_due(kase, kind) == due;
}

void timers_update(store_batch *b, const json_t *before, const json_t *after) {
    case_timer was[4], now[4];
    int nw = case_timers(before, was), nn = case_timers(after, now);
    const char *id = json_string_value(json_object_get(after ? after : before, "case_id"));
    store_key k;
    for (int i = 0; i < nw; i++)
        if (!has_timer(now, nn, &was[i])) {
            timer_key(&k, was[i].due, was[i].kind, id);
            store_batch_del(b, DB_TIMERS, k.buf, k.len);
        }
    for (int i = 0; i < nn; i++)
        if (!has_timer(was, nw, &now[i])) {
            timer_key(&k, now[i].due, now[i].kind, id);
            store_batch_put(b, DB_TIMERS, k.buf, k.len, "", 0);
        }
}

/* An SLA target passed: mark it, and let sla.on_breach escalate. */
static void fire_breach(server *s, json_t *kase, const char *kind, json_t *notes) {
    json_array_append_new(json_object_get(json_object_get(kase, "sla"), "breached"), json_string(kind));
    const char *merchant = json_string_value(json_object_get(kase, "merchant_id"));
    json_t *args[2] = {policy_case_view(kase, NULL), json_string(kind)};
    json_t *r = decide_call(s, merchant, "sla", "on_breach", args, 2, notes);
    json_decref(args[0]);
    json_decref(args[1]);
    json_array_append_new(notes, json_pack("{s:s,s:{s:s}}", "type", "sla.breached", "data", "kind", kind));
    if (json_is_true(json_object_get(r, "escalate"))) {
        json_int_t prio = json_integer_value(json_object_get(kase, "priority"));
        json_t *p = json_object_get(r, "priority");
        json_int_t next = json_is_integer(p) ? json_integer_value(p) : (prio > 1 ? prio - 1 : 1);
        json_object_set_new(kase, "priority", json_integer(next < 1 ? 1 : (next > 5 ? 5 : next)));
        json_object_set_new(kase, "escalated", json_true());
        const char *queue = json_string_value(json_object_get(r, "queue"));
        if (queue && id_valid(queue) && strcmp(queue, json_string_value(json_object_get(kase, "queue"))))
            case_reassign(s, kase, queue, "sla_breach", notes);
    }
    json_decref(r);
}

static void fire_one(server *s, store_batch *b, json_t *kase, const char *kind, json_t *events,
                     json_t *notes) {
    int64_t now = server_now(s);
    const char *id = json_string_value(json_object_get(kase, "case_id"));
    if (!strcmp(kind, "first_response") || !strcmp(kind, "resolution")) {
        fire_breach(s, kase, kind, notes);
        char msg[200];
        snprintf(msg, sizeof msg, "sla_breach: case %s missed its %s target", id, kind);
        alert_raise(s, b, "sla_breach", kase, msg, json_pack("{s:s}", "kind", kind));
        json_array_append_new(events, json_pack("{s:s,s:O,s:{s:s}}", "type", "sla.breached", "case",
                                                kase, "data", "kind", kind));
    } else if (!strcmp(kind, "survey")) {
        json_t *survey = json_object_get(kase, "survey");
        json_object_set_new(survey, "sent_at", json_integer(now));
        json_array_append_new(notes, json_pack("{s:s,s:{}}", "type", "survey.sent", "data"));
        json_array_append_new(events, json_pack("{s:s,s:O,s:{s:O,s:O}}", "type", "survey.requested", "case",
                                                kase, "data", "buyer_id", json_object_get(kase, "buyer_id"),
                                                "questions", json_object_get(survey, "questions")));
    } else if (!strcmp(kind, "auto_close")) {
        json_object_set_new(kase, "status", json_string("closed"));
        json_object_set_new(kase, "stage", json_string("closed"));
        json_object_set_new(kase, "closed_at", json_integer(now));
        json_array_append_new(notes, json_pack("{s:s,s:{s:s}}", "type", "status", "data", "closed_by",
                                               "auto_close"));
        /* like an action's case.updated; "case" is the case as the round saves it */
        json_array_append_new(events, json_pack("{s:s,s:O,s:{s:s,s:s,s:s,s:O}}", "type", "case.updated",
                                                "case", kase, "data", "action", "auto_close", "status",
                                                "closed", "stage", "closed", "case", kase));
    }
    json_object_set_new(kase, "updated_at", json_integer(now));
}

/* The cases one round touches, as its timers so far left them: a case with
 * several timers due loads once, and each timer sees what the earlier did. */
static json_t *round_case(server *s, json_t *cases, const char *id) {
    json_t *kase = json_object_get(cases, id);
    if (kase) return kase;
    kase = rec_load(s, DB_CASES, id, 1);
    if (kase) json_object_set_new(cases, id, kase);
    return kase;
}

/* One timer, applied as of server_now (its due time) and saved at once with
 * its timeline notes and feed events, so each carries the time it fired. */
static void fire_case_timer(server *s, store_batch *b, json_t *kase, const char *kind) {
    json_t *before = json_deep_copy(kase), *notes = json_array(), *events = json_array();
    if (before == NULL || notes == NULL || events == NULL) {
        batch_poison(b); /* the round fails and the timer stays due */
    } else {
        fire_one(s, b, kase, kind, events, notes);
        free(case_save(s, b, before, kase));
        timeline_notes(s, b, json_string_value(json_object_get(kase, "case_id")), NULL, notes);
        size_t i;
        json_t *t;
        json_array_foreach(events, i, t) {
            json_t *data = json_object_get(t, "data");
            json_incref(data);
            event_append(s, b, json_string_value(json_object_get(t, "type")), kase, data);
        }
    }
    json_decref(before);
    json_decref(notes);
    json_decref(events);
}

/* Fires a timer as of its due time, or as of the case's last change if that
 * came later: a timer re-armed in the past (a rejected case appealed after
 * its resolution target) must not date its effects before what the case
 * already shows. */
static void fire_case_timer_at(server *s, store_batch *b, json_t *kase, const char *kind, int64_t due) {
    int64_t updated = json_integer_value(json_object_get(kase, "updated_at"));
    s->now_override = due > updated ? due : updated;
    fire_case_timer(s, b, kase, kind);
    s->now_override = 0;
}

static int by_due(const void *a, const void *b) {
    int64_t x = ((const case_timer *)a)->due, y = ((const case_timer *)b)->due;
    return x < y ? -1 : x > y;
}

static void catch_up_committed(int status, void *ud) {
    server *s = ud;
    if (status == 0) {
        webhooks_poke(s);
        return;
    }
    log_msg(LOG_ERROR, "overdue timers failed to commit: %s", store_strerror(status));
    mirrors_repair(s, 0);
}

void timers_catch_up(server *s, json_t *kase) {
    case_timer set[4];
    int n = case_timers(kase, set);
    qsort(set, (size_t)n, sizeof *set, by_due);
    int64_t now = server_now(s);
    store_batch *b = NULL;
    for (int i = 0; i < n && set[i].due <= now; i++) {
        if (!case_wants_timer(kase, set[i].kind, set[i].due)) continue; /* an earlier one changed it */
        if (b == NULL) b = store_batch_new(s->db);
        fire_case_timer_at(s, b, kase, set[i].kind, set[i].due);
    }
    if (b == NULL) return;
    counters_put(s, b);
    store_submit(b, catch_up_committed, s);
}

typedef struct {
    unsigned char key[STORE_KEY_MAX];
    size_t klen;
} due_timer;

/* Copies out the keys of the timers due by now (committed data), earliest first. */
static size_t collect_due(server *s, int64_t now, due_timer *out, size_t max) {
    size_t n = 0;
    store_read *rd;
    store_iter *it = NULL;
    if (store_read_begin(s->db, &rd) != 0) return 0;
    if (store_iter_open(rd, DB_TIMERS, NULL, 0, NULL, 0, 0, &it) == 0) {
        const void *k, *v;
        size_t klen, vlen;
        while (n < max && store_iter_next(it, &k, &klen, &v, &vlen) == 1) {
            if (klen < 10 || klen > STORE_KEY_MAX || (int64_t)key_get_u64(k) > now) break;
            memcpy(out[n].key, k, klen);
            out[n++].klen = klen;
        }
        store_iter_close(it);
    }
    store_read_end(rd);
    return n;
}

/* Fires every due timer, in due order, into one batch; each acts at its due
 * time (server_now), not at the landing time of a jump of the clock. Returns
 * the number fired. */
static int fire_due(server *s, store_batch *b) {
    due_timer *due = malloc(FIRE_MAX_PER_ROUND * sizeof *due);
    json_t *cases = json_object();
    if (due == NULL || cases == NULL) {
        free(due);
        json_decref(cases);
        return 0;
    }
    size_t n = collect_due(s, clock_now(&s->clock), due, FIRE_MAX_PER_ROUND);
    for (size_t i = 0; i < n; i++) {
        /* key: due(8) | kind NUL | case_id NUL */
        const char *kind = (const char *)due[i].key + 8;
        const char *id = memchr(kind, 0, due[i].klen - 8) ? kind + strlen(kind) + 1 : NULL;
        int64_t at = (int64_t)key_get_u64(due[i].key);
        store_batch_del(b, DB_TIMERS, due[i].key, due[i].klen);
        if (id && !strcmp(kind, "stall")) {
            s->now_override = at;
            alerts_fire_stall(s, b, id);
        } else {
            json_t *kase = id ? round_case(s, cases, id) : NULL;
            int64_t wanted = kase ? case_timer_due(kase, kind) : -1;
            if (wanted == at) {
                fire_case_timer_at(s, b, kase, kind, at);
            } else if (wanted >= 0) { /* keyed under an older rule for due times: move it */
                store_key k;
                timer_key(&k, wanted, kind, id);
                store_batch_put(b, DB_TIMERS, k.buf, k.len, "", 0);
            }
        }
        s->now_override = 0;
    }
    json_decref(cases);
    free(due);
    return (int)n;
}

#define ROUNDS_MAX 64 /* per clock move: a round may start timers already due */

typedef struct {
    server *s;
    timers_done_cb done;
    void *ud;
    int fired;  /* timers this round fired */
    int rounds; /* rounds run for this caller so far */
} round_req;

static void run_round(server *s, timers_done_cb done, void *ud, int rounds);

/* A caller that asked while a round was running (a second clock move): the
 * clock may have moved past what that round collected, so it waits for a
 * round of its own, which runs for every such caller at once. */
struct timer_waiter {
    timers_done_cb done;
    void *ud;
    struct timer_waiter *next;
};

static void waiters_done(int status, void *ud) {
    struct timer_waiter *w = ud;
    while (w) {
        struct timer_waiter *next = w->next;
        w->done(status, w->ud);
        free(w);
        w = next;
    }
}

/* After a round: the callers that waited get a round of their own. */
static void run_waiters(server *s) {
    struct timer_waiter *w = s->timer_waiters;
    if (w == NULL || s->timers_busy) return;
    s->timer_waiters = NULL;
    run_round(s, waiters_done, w, 1);
}

/* A round that fired something may have started timers that are due already
 * (the case a stalled parcel opens, more than FIRE_MAX_PER_ROUND due): a
 * caller waiting for "everything due by now" gets its answer only once a
 * round finds nothing left. */
static void round_committed(int status, void *ud) {
    round_req *r = ud;
    server *s = r->s;
    s->timers_busy = 0;
    if (status != 0) {
        log_msg(LOG_ERROR, "timer round failed to commit: %s", store_strerror(status));
        mirrors_repair(s, 0); /* its load changes never reached disk */
    }
    else if (r->fired > 0) webhooks_poke(s);
    if (status == 0 && r->done && r->fired > 0 && r->rounds < ROUNDS_MAX && !r->s->stopping) {
        run_round(r->s, r->done, r->ud, r->rounds + 1);
    } else if (r->done) {
        r->done(status, r->ud);
    }
    free(r);
    run_waiters(s);
}

static void run_round(server *s, timers_done_cb done, void *ud, int rounds) {
    if (s->timers_busy && done) {
        struct timer_waiter *w = malloc(sizeof *w);
        if (w == NULL) {
            done(STORE_ENOMEM, ud);
            return;
        }
        *w = (struct timer_waiter){done, ud, s->timer_waiters};
        s->timer_waiters = w;
        return;
    }
    round_req *r = malloc(sizeof *r);
    if (r == NULL || s->timers_busy || s->db == NULL) {
        free(r);
        if (done) done(s->timers_busy ? 0 : STORE_ENOMEM, ud);
        return;
    }
    *r = (round_req){s, done, ud, 0, rounds};
    s->timers_busy = 1;
    store_batch *b = store_batch_new(s->db);
    r->fired = fire_due(s, b);
    if (r->fired > 0) counters_put(s, b);
    store_submit(b, round_committed, r);
}

void timers_run(server *s, timers_done_cb done, void *ud) { run_round(s, done, ud, 1); }

static void on_tick(uv_timer_t *t) {
    server *s = t->data;
    if (!s->stopping && !s->timers_busy) timers_run(s, NULL, NULL);
}

int timers_start(server *s) {
    if (s->clock.manual) return 0; /* the manual clock fires timers when it moves */
    int rc = uv_timer_init(s->loop, &s->tick);
    s->tick.data = s;
    if (rc == 0) rc = uv_timer_start(&s->tick, on_tick, TICK_MS, TICK_MS);
    if (rc == 0) s->tick_active = 1;
    return rc;
}

void timers_stop(server *s) {
    if (!s->tick_active) return;
    uv_timer_stop(&s->tick);
    uv_close((uv_handle_t *)&s->tick, NULL);
    s->tick_active = 0;
}

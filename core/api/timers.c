/* api/timers: running the due-timers that make cases move with time.
 *
 * A case's timers are derived from the case (case/timers.c) and kept in
 * DB_TIMERS (due(be64) | kind | id) by every commit, so the next timers to
 * fire are the first keys. Firing runs on the loop thread: with the real clock
 * a one-second tick, with the manual clock right after every POST
 * /v1/admin/clock. One round reads the due timers (committed data), fires
 * each through the domain (case_fire_timer, order_report_stall) as of its due
 * time, and writes every change in one batch; the next round waits until that
 * batch is durable, so a timer never fires twice. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/timers.h"
#include "util/log.h"

/* A round fires at most this many timers in one turn of the loop (each may
 * call a policy and reads its case), then commits; the next round starts
 * once that is durable, and the requests that came meanwhile are served in
 * between: a backlog of due timers never holds the loop for long. */
#define FIRE_MAX_PER_ROUND 200
#define TICK_MS 1000

static int by_due(const void *a, const void *b) {
    int64_t x = ((const case_timer *)a)->due, y = ((const case_timer *)b)->due;
    return x < y ? -1 : x > y;
}

#define FREED_MAX 64 /* agents one round refills from the backlog */

typedef struct {
    as_id agents[FREED_MAX];
    size_t n;
} freed_list;

/* Fires one timer of c into b and leaves c as the timer left it; an agent
 * the firing took the case from goes on freed. */
static int fire_into(server *s, store_batch *b, as_case *c, timer_kind kind, int64_t due, freed_list *freed) {
    as_decider d;
    live_decider(s, &d, due);
    as_changes ch;
    if (case_fire_timer(&d, c, kind, due, &ch) != 0) {
        store_batch_fail(b, STORE_ENOMEM); /* the round fails and the timer stays due */
        return -1;
    }
    changes_into(s, b, &d, &ch);
    backlog_note_freed(&ch, freed->agents, &freed->n, FREED_MAX);
    as_case next;
    if (case_copy(&next, ch.after) != 0) {
        store_batch_fail(b, STORE_ENOMEM);
        changes_free(&ch);
        return -1;
    }
    case_free(c);
    *c = next;
    changes_free(&ch);
    return 0;
}

/* The agents the firings freed take from the backlog, in the same batch. */
static void backlog_refill(server *s, store_batch *b, const freed_list *freed, uint64_t exclude) {
    if (freed->n == 0) return;
    as_decider d;
    live_decider(s, &d, clock_now(&s->clock));
    for (size_t i = 0; i < freed->n; i++) backlog_fill(s, b, &d, freed->agents[i], exclude);
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

#define CATCH_UP_MAX 32 /* timers one case fires before a request: a firing may arm the next (a warning, a level) */

void timers_catch_up(server *s, as_case *c) {
    int64_t now = clock_now(&s->clock);
    store_batch *b = NULL;
    freed_list freed = {.n = 0};
    for (int fired = 0; fired < CATCH_UP_MAX; fired++) { /* the earliest due timer, as the last firing left the case */
        case_timer set[CASE_TIMERS_MAX];
        int n = case_timers(c, set);
        qsort(set, (size_t)n, sizeof *set, by_due);
        if (n == 0 || set[0].due > now) break;
        if (b == NULL) b = store_batch_new(s->db);
        if (fire_into(s, b, c, set[0].kind, set[0].due, &freed) != 0) break;
    }
    if (b == NULL) return;
    backlog_refill(s, b, &freed, c->seq); /* not c itself: the request acts on it next */
    seqs_put(b, &s->seqs);
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

/* The cases one round touches, as its timers so far left them: a case with
 * several timers due loads once, and each timer sees what the earlier did. */
typedef struct {
    json_t *index; /* case_id -> position in cases */
    as_case *cases;
    size_t n, cap; /* grown by doubling: a round may touch thousands of cases */
} round_cases;

static as_case *round_case(server *s, round_cases *rc, const char *id) {
    json_t *at = json_object_get(rc->index, id);
    if (at) return &rc->cases[json_integer_value(at)];
    as_case c;
    if (case_load(s->db, id, 1, &c) != 0) return NULL;
    if (rc->n == rc->cap) {
        size_t cap = rc->cap ? rc->cap * 2 : 64;
        as_case *grown = realloc(rc->cases, cap * sizeof *grown);
        if (grown == NULL) {
            case_free(&c);
            return NULL;
        }
        rc->cases = grown;
        rc->cap = cap;
    }
    if (json_object_set_new(rc->index, id, json_integer((json_int_t)rc->n)) != 0) {
        case_free(&c);
        return NULL;
    }
    rc->cases[rc->n] = c;
    return &rc->cases[rc->n++];
}

static void stall_fire(server *s, store_batch *b, const char *order_id, int64_t at) {
    as_order o;
    if (order_load(s->db, order_id, 1, &o) != 0) return; /* replaced away */
    as_decider d;
    live_decider(s, &d, at);
    as_changes ch;
    if (order_report_stall(&d, &o, &ch) != 0) store_batch_fail(b, STORE_ENOMEM);
    else changes_into(s, b, &d, &ch);
    changes_free(&ch);
    order_free(&o);
}

/* A round of the real clock's tick stops firing after this much of the
 * loop thread's time, and the next round starts as soon as it commits: a
 * tick after a restart found thousands of timers due and fired 200 of them in
 * one turn of the loop (about 200 ms on a 1M-case store, every request
 * waiting behind it). At 4 ms a round, /healthz p99 on that store during the
 * catch-up was 11.6 ms; at 2 ms, 5.2 ms. The clock's own moves (POST
 * /v1/admin/clock) keep the count bound only: they answer once everything
 * due has fired. */
#define ROUND_BUDGET_NS (2 * 1000000ull)

/* Fires the due timers, in due order, into one batch; each acts at its due
 * time, not at the landing time of a jump of the clock. Stops after
 * FIRE_MAX_PER_ROUND, or (budgeted) after ROUND_BUDGET_NS; *more says that
 * more may be due. Returns the number fired. */
static int fire_due(server *s, store_batch *b, int budgeted, int *more) {
    uint64_t t0 = uv_hrtime();
    freed_list freed = {.n = 0};
    due_timer *due = malloc(FIRE_MAX_PER_ROUND * sizeof *due);
    round_cases rc = {json_object(), NULL, 0, 0};
    if (due == NULL || rc.index == NULL) {
        free(due);
        json_decref(rc.index);
        return 0;
    }
    size_t n = collect_due(s, clock_now(&s->clock), due, FIRE_MAX_PER_ROUND);
    *more = n == FIRE_MAX_PER_ROUND;
    for (size_t i = 0; i < n; i++) {
        if (budgeted && i > 0 && uv_hrtime() - t0 > ROUND_BUDGET_NS) { /* the rest stay due */
            n = i;
            *more = 1;
            break;
        }
        /* key: due(8) | kind NUL | id NUL */
        const char *kind = (const char *)due[i].key + 8;
        const char *id = memchr(kind, 0, due[i].klen - 8) ? kind + strlen(kind) + 1 : NULL;
        int64_t at = (int64_t)key_get_u64(due[i].key);
        store_batch_del(b, DB_TIMERS, due[i].key, due[i].klen);
        if (id == NULL) continue;
        if (!strcmp(kind, "stall")) {
            stall_fire(s, b, id, at);
            continue;
        }
        if (!strcmp(kind, "nps")) {
            nps_fire_due(s, b, id, at);
            continue;
        }
        int k = timer_kind_from_name(kind);
        as_case *c = k >= 0 ? round_case(s, &rc, id) : NULL;
        int64_t wanted = c ? case_timer_due(c, (timer_kind)k) : -1;
        if (c && case_wants_timer(c, (timer_kind)k, at)) {
            fire_into(s, b, c, (timer_kind)k, at, &freed);
        } else if (wanted >= 0 && k != TIMER_WARN_FIRST_RESPONSE && k != TIMER_WARN_RESOLUTION) {
            /* keyed under an older rule for due times: move it (warnings
             * have several dues, each kept by the commit itself) */
            store_key key;
            key_init(&key);
            key_u64(&key, (uint64_t)wanted);
            key_str(&key, kind);
            key_str(&key, id);
            store_batch_put(b, DB_TIMERS, key.buf, key.len, "", 0);
        }
    }
    backlog_refill(s, b, &freed, 0); /* after every firing: the round's cases are not touched again */
    for (size_t i = 0; i < rc.n; i++) case_free(&rc.cases[i]);
    free(rc.cases);
    json_decref(rc.index);
    free(due);
    return (int)n;
}

#define ROUNDS_MAX 1000 /* per clock move: a round may start timers already due */

typedef struct {
    server *s;
    timers_done_cb done;
    void *ud;
    int fired;  /* timers this round fired */
    int rounds; /* rounds run for this caller so far */
    int more;   /* it stopped with timers possibly left due */
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
    } else if (status == 0 && !r->done && r->more && !s->stopping && s->timer_waiters == NULL) {
        run_round(s, NULL, NULL, r->rounds + 1); /* a tick's backlog: the next slice now, not in a second */
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
    *r = (round_req){s, done, ud, 0, rounds, 0};
    s->timers_busy = 1;
    store_batch *b = store_batch_new(s->db);
    r->fired = fire_due(s, b, done == NULL, &r->more);
    if (r->fired > 0) seqs_put(b, &s->seqs);
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

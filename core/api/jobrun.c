/* api/jobrun: a replay job's own thread (see jobs.c for what a job is).
 *
 * Everything here runs on the job's thread: it loads the baseline and the
 * candidate sets (never shared with another thread), counts the cases in
 * range from the index, then replays them in chunks, each through a short
 * read transaction of its own, and records the results under the job's
 * mutex for the loop thread to read. */
#include <inttypes.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/jobs_impl.h"
#include "case/codec.h"
#include "util/jsonw.h"

double job_mono_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

void job_free(job *j) {
    if (j == NULL) return;
    free(j->dir);
    json_decref(j->cand_sources);
    json_decref(j->cand_files);
    json_decref(j->base_files);
    for (size_t i = 0; i < j->ndiffs; i++) free(j->diffs[i]);
    free(j->diffs);
    uv_mutex_destroy(&j->mu);
    free(j);
}

/* ---- the job's thread ---- */

void job_fail(job *j, const char *what, const char *detail) {
    uv_mutex_lock(&j->mu);
    snprintf(j->error, sizeof j->error, "%s%s%.400s", what, detail ? ": " : "", detail ? detail : "");
    j->state = JOB_FAILED;
    uv_mutex_unlock(&j->mu);
}

static void tally(module_tally *m, const char *before, const char *after) {
    for (size_t i = 0; i < m->n; i++)
        if (!strcmp(m->t[i].before, before) && !strcmp(m->t[i].after, after)) {
            m->t[i].count++;
            return;
        }
    if (m->n == TRANSITIONS_MAX) {
        m->other++;
        return;
    }
    transition *t = &m->t[m->n++];
    snprintf(t->before, sizeof t->before, "%s", before);
    snprintf(t->after, sizeof t->after, "%s", after);
    t->count = 1;
}

/* The diff of one case (malloc'd JSON text), or NULL when out of memory. */
static char *diff_text(const as_case *c, const replay_view *b, const replay_view *a, unsigned changed) {
    textbuf tb = {0};
    jsonw w;
    jsonw_init(&w, &tb);
    emitter *e = jsonw_emitter(&w);
    emit_object(e);
    emit_kstr(e, "case_id", c->case_id);
    emit_kstr(e, "type", case_type_name(c->type));
    emit_kstr(e, "merchant_id", c->merchant_id[0] ? c->merchant_id : NULL);
    emit_kint(e, "created_at", c->created_at);
    emit_key(e, "changed");
    emit_array(e);
    for (int m = 0; m < RM__COUNT; m++)
        if (changed & (1u << m)) emit_str(e, replay_module_name((replay_module)m));
    emit_array_end(e);
    emit_key(e, "before");
    replay_view_encode(b, e);
    emit_key(e, "after");
    replay_view_encode(a, e);
    emit_object_end(e);
    if (tb.failed) {
        tb_free(&tb);
        return NULL;
    }
    return tb.buf;
}

/* Records one case's two openings. */
static void job_record(job *j, const as_case *c, const replay_view *b, const replay_view *a) {
    unsigned changed = 0;
    for (int m = 0; m < RM__COUNT; m++)
        if (replay_differs(b, a, (replay_module)m)) changed |= 1u << m;
    char *diff = changed ? diff_text(c, b, a, changed) : NULL;
    uv_mutex_lock(&j->mu);
    j->evaluated++;
    for (int m = 0; m < RM__COUNT; m++) {
        char lb[LABEL_MAX], la[LABEL_MAX];
        replay_label(b, (replay_module)m, lb, sizeof lb);
        replay_label(a, (replay_module)m, la, sizeof la);
        tally(&j->mods[m], lb, la);
        j->mods[m].changed += (changed >> m) & 1u;
    }
    j->refund_before += b->refund_cents;
    j->refund_after += a->refund_cents;
    j->coupon_before += b->coupon_cents;
    j->coupon_after += a->coupon_cents;
    if (changed) {
        j->changed++;
        if (diff && j->ndiffs == j->diffs_cap && j->diffs_cap < DIFFS_KEPT) {
            size_t cap = j->diffs_cap ? j->diffs_cap * 2 : 256;
            if (cap > DIFFS_KEPT) cap = DIFFS_KEPT;
            char **p = realloc(j->diffs, cap * sizeof *p);
            if (p) j->diffs = p, j->diffs_cap = cap;
        }
        if (diff && j->ndiffs < j->diffs_cap) j->diffs[j->ndiffs++] = diff, diff = NULL;
        else j->diffs_dropped++;
    }
    uv_mutex_unlock(&j->mu);
    free(diff);
}

/* The index of the cases the job covers: the merchant's, or every case's. */
static void job_prefix(const job *j, store_key *k) {
    if (j->merchant[0]) case_index_prefix(k, "merchant_id", j->merchant);
    else case_index_prefix(k, "all", "");
}

/* An index entry: the case's seq (the key's last 8 bytes), its created_at
 * and type (the value). 1 if the job covers it. */
static int job_covers(const job *j, const void *key, size_t klen, const void *val, size_t vlen, uint64_t *seq) {
    if (klen < 8 || vlen < 9) return 0;
    *seq = key_get_u64((const char *)key + klen - 8);
    int64_t created = (int64_t)key_get_u64(val);
    char type[32];
    size_t tlen = vlen - 8 < sizeof type - 1 ? vlen - 8 : sizeof type - 1;
    memcpy(type, (const char *)val + 8, tlen);
    type[tlen] = '\0';
    int t = case_type_from_name(type);
    return created >= j->since && created <= j->until && t >= 0 && case_type_needs_decision((case_type)t);
}

/* One chunk of the index from after `*last` (0: the start): counts what the
 * job covers (count) or replays it (sets). 1 if there is more, 0 at the
 * end, -1 on a store error. */
static int job_chunk(job *j, store *db, uint64_t *last, policy_set *base, policy_set *cand) {
    store_key prefix, from;
    job_prefix(j, &prefix);
    from = prefix;
    key_u64(&from, *last + 1);
    store_read *rd;
    store_iter *it;
    if (store_read_begin_detached(db, &rd) != 0) return -1;
    if (store_iter_open(rd, DB_INDEX, prefix.buf, prefix.len, from.buf, from.len, 0, &it) != 0) {
        store_read_end(rd);
        return -1;
    }
    const void *k, *v;
    size_t klen, vlen;
    int rc = 0, entries = 0, cases = 0;
    uint64_t covered = 0;
    /* bounded both ways: a few cases replayed, or many entries skipped */
    while (entries < CHUNK_INDEX && cases < CHUNK_CASES && !atomic_load(&j->cancel) &&
           (rc = store_iter_next(it, &k, &klen, &v, &vlen)) == 1) {
        uint64_t seq = *last;
        int covers = job_covers(j, k, klen, v, vlen, &seq);
        *last = seq;
        entries++;
        if (!covers) continue;
        if (cand == NULL) {
            covered++;
            continue;
        }
        cases++;
        as_case c;
        as_changes cb, ca;
        as_error err;
        int ok = case_read_seq(rd, seq, &c) == 0;
        if (ok && replay_eligible(&c)) {
            int rb = replay_open(rd, base, &c, &cb, &err), ra = rb == 0 ? replay_open(rd, cand, &c, &ca, &err) : -1;
            if (ra == 0) {
                replay_view vb, va;
                replay_view_of(cb.after, &vb);
                replay_view_of(ca.after, &va);
                job_record(j, &c, &vb, &va);
                changes_free(&ca);
            }
            if (rb == 0) changes_free(&cb);
            ok = ra == 0;
        }
        case_free(&c);
        uv_mutex_lock(&j->mu);
        j->done++;
        j->failed_cases += !ok;
        uv_mutex_unlock(&j->mu);
    }
    store_iter_close(it);
    store_read_end(rd);
    if (cand == NULL && covered) {
        uv_mutex_lock(&j->mu);
        j->total += covered;
        uv_mutex_unlock(&j->mu);
    }
    if (rc < 0) return -1;
    return entries == CHUNK_INDEX || cases == CHUNK_CASES;
}

static policy_set *job_load(job *j, const policy_config *cfg, const char *which) {
    policy_set *ps = NULL;
    char err[1024];
    if (policy_set_load(cfg, &ps, err, sizeof err) != 0) {
        job_fail(j, which, err);
        return NULL;
    }
    return ps;
}

void job_run(void *arg) {
    job *j = arg;
    /* Below the loop thread on the machine's cores: on Linux a thread has a
     * nice value of its own. With 2 cores shared by the loop, the writer and
     * a job at the same priority, /healthz p99 was 47 ms while a job ran. A
     * thread that cannot lower itself runs as it is. */
    (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), JOB_NICE);
    store *db = j->reg->s->db;
    uv_mutex_lock(&j->mu);
    j->state = JOB_RUNNING;
    j->started_s = job_mono_s();
    uv_mutex_unlock(&j->mu);
    policy_config bcfg = {.dir = j->base_files ? NULL : j->dir, .sources = j->base_files};
    policy_config ccfg = {.dir = j->cand_files ? NULL : j->dir, .sources = j->cand_files ? j->cand_files : j->cand_sources};
    policy_set *base = job_load(j, &bcfg, "the baseline set does not load"), *cand = NULL;
    if (base) cand = job_load(j, &ccfg, "the candidate set does not load");
    if (cand) {
        uv_mutex_lock(&j->mu);
        snprintf(j->base_version, sizeof j->base_version, "%s", policy_set_version(base));
        snprintf(j->cand_version, sizeof j->cand_version, "%s", policy_set_version(cand));
        uv_mutex_unlock(&j->mu);
        int rc = 1;
        uint64_t last = 0;
        while (rc == 1 && !atomic_load(&j->cancel)) rc = job_chunk(j, db, &last, NULL, NULL); /* the total */
        last = 0;
        while (rc >= 0 && !atomic_load(&j->cancel) && (rc = job_chunk(j, db, &last, base, cand)) == 1) {
        }
        if (rc < 0) job_fail(j, "the store could not be read", NULL);
    }
    policy_set_free(base);
    policy_set_free(cand);
    uv_mutex_lock(&j->mu);
    if (j->state == JOB_RUNNING) j->state = atomic_load(&j->cancel) ? JOB_CANCELLED : JOB_DONE;
    j->finished_s = job_mono_s();
    j->thread_ended = 1;
    uv_mutex_unlock(&j->mu);
    uv_async_send(&j->reg->async);
}

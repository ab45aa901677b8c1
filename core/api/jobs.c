/* api/jobs: replays over any range, in the background (issue 11).
 *
 *   POST   /v1/admin/jobs/replay       {sources? | version?, since?, until?, merchant_id?} -> 202 the job
 *   GET    /v1/admin/jobs              {jobs: [job...]} newest first
 *   GET    /v1/admin/jobs/{id}         the job: state, progress, summary
 *   GET    /v1/admin/jobs/{id}/diffs   ?after=N&limit=L -> {diffs, next_after}
 *   DELETE /v1/admin/jobs/{id}         cancels it (200 the job)
 *
 * A job re-opens every stored case of a decided type created in [since,
 * until] (of one merchant, or of all) twice: with the baseline (the version
 * active when the job was posted) and with the candidate (sources over the
 * policies directory, or a kept version), both as of the case's creation
 * with the same reads (case/replay.h). Comparing set with set on the same
 * inputs counts what the candidate changes, not what people did to the cases
 * since (a settled review, an escalation, an inspection's refund). The
 * summary counts, per module, each `before -> after` label pair and the money
 * approved at the openings under each set; each case where a module differs
 * is a diff, kept for paging.
 *
 * Threads: a job runs on a thread of its own (jobrun.c), never on the loop thread nor
 * on libuv's small pool (whose file work it would hold up): it loads its own
 * two policy sets there (a policy_set is never shared between threads, and
 * the loads get the same budgets and sandbox as the server's: policy.h) and
 * reads through its own short read transactions, one per chunk of cases
 * (store_read_begin_detached): LMDB keeps every page a live reader may see,
 * and the map cannot grow while one lives, so a read never spans the job.
 * One job runs at a time (the machine's cores serve requests first); the
 * others wait queued. The loop thread reads a job's figures under its mutex;
 * the thread says it has ended through a uv_async, and the loop joins it.
 *
 * Jobs live in memory: a restart drops them (and a running one stops).
 * At most JOBS_KEPT are kept; a new one drops the oldest finished, and when
 * every kept job is still queued or running a new one is 503. Tenancy: a
 * token bound to a merchant replays only that merchant's cases and sees only
 * its own jobs (another's is 404). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/jobs_impl.h"
#include "util/jsonw.h"

static const char *const STATE_NAMES[] = {"queued", "running", "done", "failed", "cancelled"};

/* ---- the registry (loop thread) ---- */

/* Starts the oldest queued job if none runs. */
static void jobs_next(jobs *r) {
    if (r->running || r->s->stopping) return;
    for (size_t i = 0; i < r->n; i++) {
        job *j = r->list[i];
        uv_mutex_lock(&j->mu); /* a running job's thread writes its state */
        int queued = j->state == JOB_QUEUED;
        uv_mutex_unlock(&j->mu);
        if (!queued || atomic_load(&j->cancel)) continue;
        if (uv_thread_create(&j->thread, job_run, j) != 0) {
            job_fail(j, "no thread could be started for the job", NULL);
            continue;
        }
        j->thread_started = 1;
        r->running = 1;
        return;
    }
}

/* A job's thread said it ended: join it, start the next. */
static void on_job_ended(uv_async_t *h) {
    jobs *r = h->data;
    for (size_t i = 0; i < r->n; i++) {
        job *j = r->list[i];
        uv_mutex_lock(&j->mu);
        int ended = j->thread_started && j->thread_ended;
        uv_mutex_unlock(&j->mu);
        if (!ended) continue;
        uv_thread_join(&j->thread);
        j->thread_started = 0;
        r->running = 0;
    }
    jobs_next(r);
}

int jobs_start(server *s) {
    jobs *r = calloc(1, sizeof *r);
    if (r == NULL) return -1;
    r->s = s;
    r->next_id = 1;
    if (uv_async_init(s->loop, &r->async, on_job_ended) != 0) {
        free(r);
        return -1;
    }
    r->async.data = r;
    uv_unref((uv_handle_t *)&r->async); /* jobs never keep the loop alive */
    s->jobs = r;
    return 0;
}

static void on_async_closed(uv_handle_t *h) { free(h->data); }

/* Cancels every job and waits for the running one's thread (it checks its
 * cancel flag between cases, so this is one case's time, or a policy set's
 * load), so no read of the store outlives the server. */
void jobs_stop(server *s) {
    jobs *r = s->jobs;
    if (r == NULL) return;
    s->jobs = NULL;
    for (size_t i = 0; i < r->n; i++) {
        job *j = r->list[i];
        atomic_store(&j->cancel, 1);
        if (j->thread_started) uv_thread_join(&j->thread);
        job_free(j);
    }
    r->n = 0;
    uv_close((uv_handle_t *)&r->async, on_async_closed);
}

static job *job_find(jobs *r, const char *id, const principal *who) {
    for (size_t i = 0; r && i < r->n; i++)
        if (!strcmp(r->list[i]->id_text, id) &&
            principal_sees_merchant(who, r->list[i]->merchant[0] ? r->list[i]->merchant : NULL) &&
            (who->merchant == NULL || r->list[i]->merchant[0]))
            return r->list[i];
    return NULL;
}

/* Room for one more: drops the oldest finished job; 0, or -1 when every
 * kept job is queued or running. */
static int jobs_room(jobs *r) {
    if (r->n < JOBS_KEPT) return 0;
    for (size_t i = 0; i < r->n; i++) {
        job *j = r->list[i];
        uv_mutex_lock(&j->mu);
        int finished = j->state >= JOB_DONE && !j->thread_started;
        uv_mutex_unlock(&j->mu);
        if (!finished) continue;
        job_free(j);
        memmove(&r->list[i], &r->list[i + 1], (r->n - i - 1) * sizeof r->list[0]);
        r->n--;
        return 0;
    }
    return -1;
}

/* ---- answers ---- */

static void tally_json(emitter *e, const module_tally *m) {
    emit_object(e);
    emit_kint(e, "changed", (int64_t)m->changed);
    emit_key(e, "transitions");
    emit_array(e);
    for (size_t i = 0; i < m->n; i++) {
        emit_object(e);
        emit_kstr(e, "before", m->t[i].before);
        emit_kstr(e, "after", m->t[i].after);
        emit_kint(e, "count", (int64_t)m->t[i].count);
        emit_object_end(e);
    }
    if (m->other) {
        emit_object(e);
        emit_kstr(e, "before", "(other)");
        emit_kstr(e, "after", "(other)");
        emit_kint(e, "count", (int64_t)m->other);
        emit_object_end(e);
    }
    emit_array_end(e);
    emit_object_end(e);
}

/* The job as JSON (under its mutex). */
static void job_encode(job *j, emitter *e) {
    uv_mutex_lock(&j->mu);
    double end = j->finished_s > 0 ? j->finished_s : job_mono_s();
    double secs = j->started_s > 0 ? end - j->started_s : 0;
    emit_object(e);
    emit_kstr(e, "job_id", j->id_text);
    emit_kstr(e, "kind", "replay");
    emit_kstr(e, "state", STATE_NAMES[j->state]);
    emit_kint(e, "posted_at", j->posted_at);
    emit_key(e, "params");
    emit_object(e);
    emit_kint(e, "since", j->since);
    emit_kopt(e, "until", j->has_until ? j->until : AS_NONE);
    emit_kstr(e, "merchant_id", j->merchant[0] ? j->merchant : NULL);
    emit_kstr(e, "candidate", j->cand_label);
    emit_object_end(e);
    emit_kstr(e, "baseline_version", j->base_version[0] ? j->base_version : NULL);
    emit_kstr(e, "candidate_version", j->cand_version[0] ? j->cand_version : NULL);
    emit_key(e, "progress");
    emit_object(e);
    emit_kint(e, "total", (int64_t)j->total);
    emit_kint(e, "done", (int64_t)j->done);
    emit_kint(e, "evaluated", (int64_t)j->evaluated);
    emit_kint(e, "failed", (int64_t)j->failed_cases);
    emit_kint(e, "elapsed_ms", (int64_t)(secs * 1000));
    emit_kint(e, "cases_per_second", secs > 0.001 ? (int64_t)((double)j->done / secs) : 0);
    emit_object_end(e);
    emit_key(e, "summary");
    emit_object(e);
    emit_kint(e, "evaluated", (int64_t)j->evaluated);
    emit_kint(e, "changed", (int64_t)j->changed);
    emit_key(e, "by_module");
    emit_object(e);
    for (int m = 0; m < RM__COUNT; m++) {
        emit_key(e, replay_module_name((replay_module)m));
        tally_json(e, &j->mods[m]);
    }
    emit_object_end(e);
    emit_key(e, "money");
    emit_object(e);
    emit_kint(e, "refund_cents_before", j->refund_before);
    emit_kint(e, "refund_cents_after", j->refund_after);
    emit_kint(e, "refund_cents_delta", j->refund_after - j->refund_before);
    emit_kint(e, "coupon_cents_before", j->coupon_before);
    emit_kint(e, "coupon_cents_after", j->coupon_after);
    emit_object_end(e);
    emit_kint(e, "diffs", (int64_t)j->ndiffs);
    emit_kint(e, "diffs_dropped", (int64_t)j->diffs_dropped);
    emit_object_end(e);
    emit_kstr(e, "error", j->error[0] ? j->error : NULL);
    emit_object_end(e);
    uv_mutex_unlock(&j->mu);
}

static void reply_job(http_request *req, job *j, int status) {
    textbuf tb = {0};
    jsonw w;
    jsonw_init(&w, &tb);
    job_encode(j, jsonw_emitter(&w));
    if (tb.failed) http_respond_error(req, 503, "unavailable", "out of memory", NULL);
    else http_respond(req, status, "application/json", tb.buf, tb.len);
    tb_free(&tb);
}

/* ---- handlers ---- */

/* The registry, or NULL after answering 503: a stopping server has ended its
 * jobs, and requests still draining must not reach them. */
static jobs *registry(server *s, http_request *req) {
    if (s->jobs == NULL) http_respond_error(req, 503, "unavailable", "the server is stopping", NULL);
    return s->jobs;
}

/* The candidate of a job body: sources over the directory, or a kept
 * version, or (neither) the active version's own files. 0, or -1 answered. */
static int job_candidate(server *s, http_request *req, json_t *in, job *j) {
    json_t *sources = json_object_get(in, "sources");
    const char *version = NULL;
    if (req_string(req, in, "version", 0, &version) != 0) return -1;
    if (sources && version) {
        reply_invalid(req, "version", "give sources or version, not both");
        return -1;
    }
    if (sources) {
        if (req_sources(req, in, 1) != 0) return -1;
        j->cand_sources = json_deep_copy(sources);
        snprintf(j->cand_label, sizeof j->cand_label, "sources");
        return j->cand_sources ? 0 : (http_respond_error(req, 503, "unavailable", "out of memory", NULL), -1);
    }
    const char *v = version ? version : s->history.active;
    if (version && !history_version_ok(version)) {
        reply_invalid(req, "version", "must be a policy version: 64 lower-case hex digits");
        return -1;
    }
    j->cand_files = v[0] ? history_files(s, v) : NULL;
    if (j->cand_files == NULL && version) {
        reply_not_found(req, "policy version");
        return -1;
    }
    snprintf(j->cand_label, sizeof j->cand_label, "%s", version ? version : "active");
    return 0;
}

void h_job_replay(server *s, http_request *req, const route_params *p, const principal *who) {
    static const char *const known[] = {"sources", "version", "since", "until", "merchant_id", NULL};
    (void)p;
    if (registry(s, req) == NULL) return;
    json_t *in = req_json_body(req);
    if (in == NULL) return;
    job *j = calloc(1, sizeof *j);
    const char *merchant = NULL;
    int has_until = 0;
    if (j == NULL || uv_mutex_init(&j->mu) != 0) {
        free(j);
        json_decref(in);
        http_respond_error(req, 503, "unavailable", "out of memory", NULL);
        return;
    }
    int ok = req_only_known(req, in, known) == 0 && req_int(req, in, "since", 0, 0, INT64_MAX / 2, &j->since, NULL) == 0 &&
             req_int(req, in, "until", 0, 0, INT64_MAX / 2, &j->until, &has_until) == 0 &&
             req_id(req, in, "merchant_id", 0, &merchant) == 0 && job_candidate(s, req, in, j) == 0;
    j->has_until = has_until;
    if (ok && !has_until) j->until = INT64_MAX / 2;
    if (ok && j->until < j->since) {
        reply_invalid(req, "until", "must not be before since");
        ok = 0;
    }
    if (ok && who->merchant && merchant && strcmp(merchant, who->merchant) != 0) {
        reply_forbidden(req, "this token is bound to another merchant");
        ok = 0;
    }
    if (ok && jobs_room(s->jobs) != 0) {
        http_response_header(req, "Retry-After", "5");
        http_respond_error(req, 503, "unavailable", "every kept job is still queued or running", NULL);
        ok = 0;
    }
    if (ok) {
        AS_IDSET(j->merchant, who->merchant ? who->merchant : merchant ? merchant : "");
        j->dir = strdup(s->cfg.policies_dir);
        j->base_files = s->history.active[0] ? history_files(s, s->history.active) : NULL;
        j->posted_at = clock_now(&s->clock);
        j->reg = s->jobs;
        j->id = s->jobs->next_id++;
        snprintf(j->id_text, sizeof j->id_text, "J%" PRIu64, j->id);
        j->state = JOB_QUEUED;
        if (j->dir == NULL) {
            ok = 0;
            http_respond_error(req, 503, "unavailable", "out of memory", NULL);
        }
    }
    json_decref(in); /* merchant was borrowed from it */
    if (!ok) {
        job_free(j);
        return;
    }
    s->jobs->list[s->jobs->n++] = j;
    jobs_next(s->jobs);
    reply_job(req, j, 202);
}

void h_jobs_list(server *s, http_request *req, const route_params *p, const principal *who) {
    (void)p;
    if (req_no_query(req) != 0 || registry(s, req) == NULL) return;
    textbuf tb = {0};
    jsonw w;
    jsonw_init(&w, &tb);
    emitter *e = jsonw_emitter(&w);
    emit_object(e);
    emit_key(e, "jobs");
    emit_array(e);
    for (size_t i = s->jobs->n; i-- > 0;)
        if (job_find(s->jobs, s->jobs->list[i]->id_text, who)) job_encode(s->jobs->list[i], e);
    emit_array_end(e);
    emit_object_end(e);
    if (tb.failed) http_respond_error(req, 503, "unavailable", "out of memory", NULL);
    else http_respond(req, 200, "application/json", tb.buf, tb.len);
    tb_free(&tb);
}

void h_job_get(server *s, http_request *req, const route_params *p, const principal *who) {
    if (req_no_query(req) != 0 || registry(s, req) == NULL) return;
    job *j = job_find(s->jobs, route_param(p, "id"), who);
    if (j == NULL) reply_not_found(req, "job");
    else reply_job(req, j, 200);
}

void h_job_cancel(server *s, http_request *req, const route_params *p, const principal *who) {
    if (req_no_query(req) != 0 || req_no_body(req) != 0 || registry(s, req) == NULL) return;
    job *j = job_find(s->jobs, route_param(p, "id"), who);
    if (j == NULL) {
        reply_not_found(req, "job");
        return;
    }
    atomic_store(&j->cancel, 1);
    uv_mutex_lock(&j->mu);
    if (j->state == JOB_QUEUED) j->state = JOB_CANCELLED; /* never started: no thread to wait for */
    uv_mutex_unlock(&j->mu);
    reply_job(req, j, 200);
}

/* A non-negative integer query parameter within [min, max]; 0, or -1 answered. */
static int query_int(http_request *req, const char *name, int64_t min, int64_t max, int64_t *out) {
    char buf[32];
    int has = http_query_param(req, name, buf, sizeof buf);
    if (has == 0) return 0;
    char *end;
    long long v = strtoll(buf, &end, 10);
    if (has < 0 || buf[0] == '\0' || *end || v < min || v > max) {
        char msg[96];
        snprintf(msg, sizeof msg, "must be an integer from %" PRId64 " to %" PRId64, min, max);
        reply_invalid(req, name, msg);
        return -1;
    }
    *out = v;
    return 0;
}

void h_job_diffs(server *s, http_request *req, const route_params *p, const principal *who) {
    static const char *const known[] = {"after", "limit", NULL};
    if (req_query_known(req, known) != 0) return;
    int64_t after = 0, limit = DIFFS_PAGE_DEFAULT;
    if (query_int(req, "after", 0, INT64_MAX / 2, &after) != 0 ||
        query_int(req, "limit", 1, DIFFS_PAGE_MAX, &limit) != 0 || registry(s, req) == NULL)
        return;
    job *j = job_find(s->jobs, route_param(p, "id"), who);
    if (j == NULL) {
        reply_not_found(req, "job");
        return;
    }
    textbuf tb = {0};
    tb_printf(&tb, "{\"job_id\":\"%s\",\"diffs\":[", j->id_text);
    uv_mutex_lock(&j->mu);
    size_t from = (uint64_t)after < j->ndiffs ? (size_t)after : j->ndiffs, to = from;
    for (; to < j->ndiffs && to - from < (size_t)limit; to++) {
        if (to > from) tb_append(&tb, ",", 1);
        tb_append(&tb, j->diffs[to], strlen(j->diffs[to]));
    }
    int more = to < j->ndiffs || j->state <= JOB_RUNNING;
    uv_mutex_unlock(&j->mu);
    if (more) tb_printf(&tb, "],\"next_after\":%zu}", to);
    else tb_printf(&tb, "],\"next_after\":null}");
    if (tb.failed) http_respond_error(req, 503, "unavailable", "out of memory", NULL);
    else http_respond(req, 200, "application/json", tb.buf, tb.len);
    tb_free(&tb);
}

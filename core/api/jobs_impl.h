/* api/jobs_impl.h: a background job as jobs.c (the registry and the HTTP
 * routes, loop thread) and jobrun.c (the job's own thread) share it. Nothing
 * else includes this: api.h has the jobs API.
 *
 * Fields marked (mu) are read by the loop thread and written by the job's
 * thread under the job's mutex; the parameters are set on the loop thread
 * before the thread starts and only read after. */
#ifndef AS_API_JOBS_IMPL_H
#define AS_API_JOBS_IMPL_H

#include <stdatomic.h>

#include "api/api.h"
#include "case/replay.h"

#define JOBS_KEPT 16
#define CHUNK_CASES 256       /* cases replayed per read transaction */
#define CHUNK_INDEX 8192      /* index entries counted per read transaction */
#define DIFFS_KEPT 20000      /* diffs kept per job (~500 B each: at most ~10 MB a job, ~160 MB for
                                 all JOBS_KEPT); later ones are only counted */
#define DIFFS_PAGE_DEFAULT 100
#define DIFFS_PAGE_MAX 1000
#define TRANSITIONS_MAX 64    /* label pairs kept per module; the rest under "(other)" */
#define LABEL_MAX 48
#define JOB_NICE 15           /* the job thread's nice value: the loop thread first */

typedef enum { JOB_QUEUED, JOB_RUNNING, JOB_DONE, JOB_FAILED, JOB_CANCELLED } job_state;

typedef struct {
    char before[LABEL_MAX], after[LABEL_MAX];
    uint64_t count;
} transition;

typedef struct {
    uint64_t changed;
    transition t[TRANSITIONS_MAX];
    size_t n;
    uint64_t other;
} module_tally;

typedef struct job job;
struct job {
    uint64_t id;
    char id_text[24];
    job_state state; /* (mu) */
    /* what it replays: set on the loop thread before the thread starts */
    int64_t since, until;
    int has_until;
    as_id merchant; /* "" all */
    char *dir;            /* the policies directory (candidate sources go over it) */
    json_t *cand_sources; /* over dir; or NULL */
    json_t *cand_files;   /* a kept version's files; or NULL */
    json_t *base_files;   /* the active version's files; NULL: the directory */
    char cand_label[80];  /* "sources" or the version */
    int64_t posted_at;    /* server clock */
    /* (mu) progress and results */
    uv_mutex_t mu;
    uint64_t total, done, evaluated, changed, failed_cases;
    module_tally mods[RM__COUNT];
    int64_t refund_before, refund_after, coupon_before, coupon_after;
    char **diffs;
    size_t ndiffs, diffs_cap;
    uint64_t diffs_dropped;
    char error[512];
    char cand_version[65], base_version[65];
    double started_s, finished_s; /* monotonic seconds */
    atomic_int cancel;
    /* (loop) the thread */
    uv_thread_t thread;
    int thread_started, thread_ended; /* ended: (mu) */
    jobs *reg;
};

struct jobs {
    server *s;
    uv_async_t async;
    job *list[JOBS_KEPT]; /* oldest first */
    size_t n;
    uint64_t next_id;
    int running; /* a job's thread is started and not joined */
};


double job_mono_s(void);
void job_free(job *j);
/* The job failed: `what` (and why, if detail). */
void job_fail(job *j, const char *what, const char *detail);
/* The job's thread (uv_thread_create's entry): loads the two sets, counts
 * the cases in range, replays them chunk by chunk, says it ended. */
void job_run(void *arg);

#endif

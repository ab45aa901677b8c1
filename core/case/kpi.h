/* case/kpi: service figures maintained at write time.
 *
 * A case's contribution to the KPI report is a function of the case alone
 * (kpi_contrib_of): counters (cases, resolved, SLA, statuses, decisions,
 * refunds, survey scores, warnings, escalation levels) and one value per
 * histogram (first response, resolution seconds). Every change subtracts
 * the contribution of the case before and adds that of the case after, in
 * the same batch as the case (case/commit.c), so the stored aggregates
 * always equal a recomputation from the stored cases: a reassignment moves
 * the case between agent groups, a reopen takes a resolution back.
 *
 * Records, in DB_INDEX ('K'), keyed by the case's created day in the report
 * time zone (days since the epoch at a fixed UTC offset: DB_META "kpi"):
 *   'K' | 'c' | scope | by | day(be32) | key            counters (varints)
 *   'K' | 'h' | scope | by | day(be32) | key | hist | chunk   one histogram's
 *        buckets chunk*128 .. chunk*128+127: (offset u8, count, sum) each
 *   'K' | 'd' | scope | day(be32) | outcome(u8) | reason_code   decisions
 *   'K' | 't' | created_at(be64) | case seq(be64)     every case by creation
 *        time (value empty): how the report finds the cases of an edge day
 * scope "*" holds every case; a merchant's id holds that merchant's cases
 * (what a token bound to it may see). by: 't' totals (key ""), 'a' agent
 * (assignee, "" none), 'q' queue, 'y' type, 'm' merchant ("*" scope only:
 * a merchant's own totals are its 'm' group), 'n' channel (survey figures
 * only: written when a survey is answered, not at create). Records whose
 * figures are all zero are deleted. Counters split from histograms, histograms split in
 * chunks: a create that sets no time writes no histogram.
 *
 * Histograms: values below 256 s have a bucket each; above, 128 buckets per
 * power of two (a bucket is at most 1/128 < 1% of its lower bound wide).
 * Each bucket keeps its count and the sum of its values, so removing a
 * value is exact and a percentile answers the mean of the bucket holding
 * its rank: exact when that bucket's values are all equal (always below
 * 256 s), otherwise within 1%. Negative times (a clock set back) count as 0. */
#ifndef AS_CASE_KPI_H
#define AS_CASE_KPI_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "case/model.h"
#include "store/keys.h"
#include "store/store.h"

#define IDX_KPI 'K'
#define KPI_DAY 86400
#define KPI_META_KEY "kpi"

/* The counters of a record, in their stored order (creates touch the first
 * ones: trailing zeros are not stored). */
typedef enum {
    KC_CASES,
    KC_WITH_SLA,
    KC_SLA_MET,
    KC_APPROVE, /* the decision's outcome */
    KC_REJECT,
    KC_REVIEW,
    KC_ST_OPEN, /* ... one per status, in case_status order */
    KC_ST_LAST = KC_ST_OPEN + ST__COUNT - 1,
    KC_UNASSIGNED, /* active cases with no assignee */
    KC_RESOLVED,
    KC_ESCALATED,
    KC_REFUNDED_CENTS,
    KC_CSAT_N,
    KC_CSAT_SUM,
    KC_NPS_N,
    KC_PROMOTERS,
    KC_DETRACTORS,
    KC_CSAT_1, /* ... 1..5 */
    KC_NPS_0 = KC_CSAT_1 + 5, /* ... 0..10 */
    KC_WARNED = KC_NPS_0 + 11, /* ... per sla_kind: a warning was sent */
    KC_WARNED_MET = KC_WARNED + SLA__KINDS, /* ... and that target was not missed */
    KC_ESC_LEVEL = KC_WARNED_MET + SLA__KINDS, /* ... levels 1..9: the ladder reached it */
    KPI_NCOUNTERS = KC_ESC_LEVEL + 9
} kpi_counter;

typedef struct {
    int64_t v[KPI_NCOUNTERS];
} kpi_counters;

typedef enum { KH_FIRST_RESPONSE, KH_RESOLUTION, KPI_NHIST } kpi_hist_kind;

/* ---- histograms ---- */
#define KPI_CHUNK 128
int kpi_bucket(int64_t v);
/* [low, high) of a bucket. */
int64_t kpi_bucket_low(int idx);
int64_t kpi_bucket_high(int idx);

typedef struct {
    int32_t idx;
    int64_t count, sum;
} kpi_bin;

typedef struct {
    kpi_bin *b; /* sorted by idx, counts nonzero */
    size_t n, cap;
} kpi_hist;

void kpi_hist_free(kpi_hist *h);
/* Adds count values of sum total to bucket idx (negative: removes). -1 when
 * out of memory. */
int kpi_hist_add(kpi_hist *h, int idx, int64_t count, int64_t sum);
int kpi_hist_merge(kpi_hist *dst, const kpi_hist *src, int sign);
int64_t kpi_hist_count(const kpi_hist *h);
/* Nearest-rank percentile: the mean of the bucket holding rank
 * ceil(n * pct / 100). 0 and *out, or -1 for an empty histogram. */
int kpi_hist_percentile(const kpi_hist *h, int pct, int64_t *out);

/* ---- a case's contribution ---- */
typedef struct {
    kpi_counters c;
    int64_t time[KPI_NHIST]; /* seconds, or AS_NONE */
} kpi_contrib;

void kpi_contrib_of(const as_case *c, kpi_contrib *out);
/* The survey figures alone (what a channel record counts). */
void kpi_contrib_survey_only(kpi_contrib *k);
/* 1 if the case counts as resolved (a rejection or cancellation is not). */
int kpi_case_resolved(const as_case *c);
/* Adds sign * the contribution into counters and histograms. -1 out of memory. */
int kpi_contrib_apply(const kpi_contrib *k, int sign, kpi_counters *c, kpi_hist h[KPI_NHIST]);

/* The created day of a time in the zone offset seconds east of UTC, and
 * the first instant of a day. */
int64_t kpi_day_of(int64_t t, int64_t offset);
int64_t kpi_day_start(int64_t day, int64_t offset);

/* ---- records ---- */
/* 'K' | kind | scope | by: the prefix of a scope's records of one grouping
 * (kind 'c' counters, 'h' histograms); kpi_key_day adds the day. */
void kpi_prefix(store_key *k, char kind, const char *scope, char by);
void kpi_key_day(store_key *k, int64_t day);
/* The parts of a 'c' or 'h' key after the prefix (day, group key, and for
 * 'h' the histogram and chunk). -1 for a key of another shape. */
int kpi_key_parse(const unsigned char *key, size_t klen, size_t plen, int hist, int64_t *day, const char **group,
                  int *kind, int *chunk);
/* 'K' | 'd' | scope: decisions; the rest of a key is day | outcome | reason. */
void kpi_decisions_prefix(store_key *k, const char *scope);
int kpi_decision_key_parse(const unsigned char *key, size_t klen, size_t plen, int64_t *day, int *outcome,
                           const char **reason);

/* 'K' | 't' | created | seq: a case in creation-time order. */
void kpi_created_key(store_key *k, int64_t created, uint64_t seq);

/* Values: -1 for a damaged one. */
int kpi_counters_decode(const void *val, size_t vlen, kpi_counters *out);
size_t kpi_counters_encode(const kpi_counters *c, unsigned char *out); /* out: KPI_NCOUNTERS * 10 bytes */
/* Adds sign * the buckets of a chunk record into h. */
int kpi_chunk_merge(kpi_hist *h, int chunk, const void *val, size_t vlen, int sign);
int kpi_count_decode(const void *val, size_t vlen, int64_t *out);

/* Where aggregate writes go: a store batch (read-modify-write seeing the
 * pending batches) or a map in memory (rebuild, verify). get answers a
 * malloc'd value, STORE_ENOTFOUND or an error. */
typedef struct {
    void *ud;
    int (*get)(void *ud, const store_key *k, char **val, size_t *vlen);
    void (*put)(void *ud, const store_key *k, const void *val, size_t vlen);
    void (*del)(void *ud, const store_key *k);
    void (*fail)(void *ud, int err);
} kpi_sink;

void kpi_sink_batch(kpi_sink *s, store_batch *b);
/* The change of one case: before NULL for a new case, after NULL for none. */
void kpi_update(const kpi_sink *s, int64_t offset, const as_case *before, const as_case *after);
void kpi_update_batch(store_batch *b, int64_t offset, const as_case *before, const as_case *after);

/* ---- the aggregates as a whole ---- */
/* DB_META "kpi": {"utc_offset": N}. 0 and *offset; STORE_ENOTFOUND when
 * the aggregates were never built (a data directory from before them, or
 * a rebuild cut short). */
int kpi_meta_read(store *db, int64_t *offset);

typedef struct {
    uint64_t cases, records, mismatched, missing, extra;
    int64_t ms;
} kpi_rebuild_report;

/* Recomputes every aggregate from the stored cases and replaces the stored
 * ones (meta first removed, written last: a rebuild cut short is done again
 * at the next start), driving loop until each batch is durable. */
int kpi_rebuild(store *db, int64_t offset, kpi_rebuild_report *r);
/* Recomputes them in memory and compares with the stored records. 0 with
 * the differences counted in r (none: all equal), or a store error. */
int kpi_verify(store *db, int64_t offset, kpi_rebuild_report *r);

/* ---- the report (case/kpi_report.c) ---- */
#define KPI_AGES 4 /* active cases by created-day age: <1d, 1-3d, 3-7d, >=7d */

typedef struct {
    char key[AS_SKU_MAX + 2]; /* "" for none */
    kpi_counters c;
    kpi_hist h[KPI_NHIST];
    int64_t age[KPI_AGES];
} kpi_group;

typedef struct {
    kpi_group totals;
    kpi_group *g;
    size_t n, cap;
    size_t *slot; /* open addressing: index + 1 into g, 0 empty */
    size_t nslot;
} kpi_table;

typedef struct {
    int outcome; /* as_outcome */
    char reason[AS_SKU_MAX + 2];
    int64_t n;
} kpi_decision_count;

typedef struct {
    int64_t from, to, now, offset;
    const char *scope; /* "*" or the merchant a token is bound to */
    char by;           /* 0 (totals only), 'a', 'q', 'y', 'm' */
    int daily;         /* also one table per day of the range */
} kpi_query;

typedef struct {
    kpi_table all;
    kpi_table *days; /* daily: ndays tables, the first for day0 */
    size_t ndays;
    int64_t day0;
    kpi_table channels; /* survey figures by the case's channel, the whole range */
    kpi_decision_count *dec;
    size_t ndec, capdec;
    int64_t due_next_hour; /* active cases the scope sees whose next SLA due is within the hour */
    uint64_t records, scanned; /* aggregate records read, cases read from partial days */
} kpi_report;

/* Whole days of [from, to) from the aggregates; a partial edge day from its
 * aggregate when none of its cases lies outside the range, else from the
 * smaller side of its cases (those inside added, or those outside taken
 * from the day's aggregate), found in creation-time order ('K' 't').
 * Groups come in no order. 0 or a store error (r freed). */
int kpi_report_build(store *db, const kpi_query *q, kpi_report *r);
/* The same from any thread (its own read transaction, store_read_begin_detached). */
int kpi_report_build_detached(store *db, const kpi_query *q, kpi_report *r);
void kpi_report_free(kpi_report *r);
/* The counters and histograms of every case created in [from, to) the scope
 * sees, by reading each case: the oracle the aggregates must equal. */
int kpi_report_scan(store *db, const kpi_query *q, kpi_report *r);

#endif

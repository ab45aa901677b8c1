/* cli/kpi: `aftersaled kpi rebuild|verify`, the KPI aggregates (case/kpi.h)
 * recomputed from a data directory's cases, with the server stopped (the
 * server keeps pending writes in memory that this process would not see).
 *
 *   kpi rebuild --data DIR [--utc-offset SECONDS | --policies DIR]
 *       replaces the aggregates; their day zone is --utc-offset, else the
 *       default calendar's of the policy set in --policies, else the zone
 *       they had (0 for a directory that never had them)
 *   kpi verify --data DIR [--from UNIX --to UNIX [--group-by G] [--now UNIX]]
 *       compares every stored record with a recomputation; with --from and
 *       --to also the report of that range (edge days included) with the
 *       one computed by reading every case of the range
 * Prints one JSON line; exit 0 when done (verify: and equal), 1 when not,
 * 2 on a usage error. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "case/kpi.h"
#include "cli/cli.h"
#include "policy/policy.h"

typedef struct {
    const char *data, *policies, *group_by;
    int64_t offset, from, to, now;
    int has_offset;
} kpi_args;

static int usage(void) {
    fprintf(stderr, "usage: aftersaled kpi rebuild --data DIR [--utc-offset SECONDS | --policies DIR]\n"
                    "       aftersaled kpi verify --data DIR [--from UNIX --to UNIX [--group-by agent|queue|type|merchant] "
                    "[--now UNIX]]\n"
                    "  run them with the server stopped\n");
    return 2;
}

static int parse(int argc, char **argv, kpi_args *a) {
    memset(a, 0, sizeof *a);
    a->from = a->to = -1;
    a->now = (int64_t)time(NULL);
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL) return -1;
        int64_t *num = !strcmp(f, "--utc-offset") ? &a->offset : !strcmp(f, "--from") ? &a->from
                     : !strcmp(f, "--to") ? &a->to : !strcmp(f, "--now") ? &a->now : NULL;
        if (num) {
            char *end;
            long long n = strtoll(v, &end, 10);
            if (*end || !v[0]) return -1;
            *num = n;
            if (num == &a->offset) {
                if (n < -86400 || n > 86400) return -1;
                a->has_offset = 1;
            }
        } else if (!strcmp(f, "--data")) a->data = v;
        else if (!strcmp(f, "--policies")) a->policies = v;
        else if (!strcmp(f, "--group-by")) a->group_by = v;
        else return -1;
        i++;
    }
    return a->data ? 0 : -1;
}

static int open_store(uv_loop_t *loop, const char *dir, store **db) {
    store_config sc = {.path = dir};
    int rc = store_open(db, loop, &sc);
    if (rc != 0) fprintf(stderr, "aftersaled: cannot open the store in %s: %s\n", dir, store_strerror(rc));
    return rc;
}

static void close_store(uv_loop_t *loop, store *db) {
    store_close(db);
    uv_run(loop, UV_RUN_DEFAULT);
}

static int offset_of_policies(const char *dir, int64_t *offset) {
    policy_config pc = {.dir = dir};
    policy_set *ps;
    char err[1024];
    if (policy_set_load(&pc, &ps, err, sizeof err) != 0) {
        fprintf(stderr, "aftersaled: the policy set does not load: %s\n", err);
        return -1;
    }
    const calendar *cal = policy_calendar(ps, NULL, err, sizeof err);
    *offset = cal ? calendar_utc_offset(cal) : 0;
    policy_set_free(ps);
    return 0;
}

static int rebuild(store *db, kpi_args *a) {
    int64_t offset = 0;
    if (a->has_offset) offset = a->offset;
    else if (a->policies && offset_of_policies(a->policies, &offset) != 0) return 1;
    else if (!a->policies && kpi_meta_read(db, &offset) != 0) offset = 0;
    kpi_rebuild_report r;
    int rc = kpi_rebuild(db, offset, &r);
    if (rc != 0) {
        fprintf(stderr, "aftersaled: rebuild failed: %s\n", store_strerror(rc));
        return 1;
    }
    printf("{\"rebuilt\":true,\"cases\":%" PRIu64 ",\"records\":%" PRIu64 ",\"utc_offset\":%" PRId64
           ",\"ms\":%" PRId64 "}\n", r.cases, r.records, offset, r.ms);
    return 0;
}

/* Counters and histograms of two groups, the same? */
static int group_equal(const kpi_group *x, const kpi_group *y) {
    if (memcmp(&x->c, &y->c, sizeof x->c) != 0 || memcmp(x->age, y->age, sizeof x->age) != 0) return 0;
    for (int h = 0; h < KPI_NHIST; h++) {
        if (x->h[h].n != y->h[h].n) return 0;
        for (size_t i = 0; i < x->h[h].n; i++) {
            const kpi_bin *a = &x->h[h].b[i], *b = &y->h[h].b[i];
            if (a->idx != b->idx || a->count != b->count || a->sum != b->sum) return 0;
        }
    }
    return 1;
}

/* The groups of a that differ from b's (a group missing in b counts). */
static uint64_t table_diff(const kpi_table *a, const kpi_table *b) {
    uint64_t diff = !group_equal(&a->totals, &b->totals);
    for (size_t i = 0; i < a->n; i++) {
        const kpi_group *other = NULL;
        for (size_t j = 0; j < b->n && !other; j++)
            if (!strcmp(a->g[i].key, b->g[j].key)) other = &b->g[j];
        if (a->g[i].c.v[KC_CASES] == 0 && (other == NULL || other->c.v[KC_CASES] == 0)) continue;
        diff += other == NULL || !group_equal(&a->g[i], other);
    }
    return diff;
}

static int report_compare(store *db, const kpi_args *a, int64_t offset, uint64_t *diff) {
    const char *g = a->group_by ? a->group_by : "";
    kpi_query q = {.from = a->from, .to = a->to, .now = a->now, .offset = offset, .scope = "*"};
    q.by = !g[0] ? 0 : !strcmp(g, "agent") ? 'a' : !strcmp(g, "queue") ? 'q' : !strcmp(g, "type") ? 'y'
         : !strcmp(g, "merchant") ? 'm' : '?';
    if (q.by == '?' || q.from >= q.to) return -2;
    kpi_report agg, scan;
    int rc = kpi_report_build(db, &q, &agg);
    if (rc != 0) return rc;
    if ((rc = kpi_report_scan(db, &q, &scan)) != 0) {
        kpi_report_free(&agg);
        return rc;
    }
    *diff = table_diff(&agg.all, &scan.all) + table_diff(&scan.all, &agg.all);
    kpi_report_free(&agg);
    kpi_report_free(&scan);
    return 0;
}

static int verify(store *db, kpi_args *a) {
    int64_t offset;
    int rc = kpi_meta_read(db, &offset);
    if (rc != 0) {
        fprintf(stderr, "aftersaled: %s\n", rc == STORE_ENOTFOUND ? "no KPI aggregates (they are built at the "
                                                                    "server's next start, or by kpi rebuild)"
                                                                  : store_strerror(rc));
        return 1;
    }
    kpi_rebuild_report r;
    if ((rc = kpi_verify(db, offset, &r)) != 0) {
        fprintf(stderr, "aftersaled: verify failed: %s\n", store_strerror(rc));
        return 1;
    }
    uint64_t report_diff = 0;
    int with_report = a->from >= 0 && a->to >= 0;
    if (with_report && (rc = report_compare(db, a, offset, &report_diff)) != 0) {
        if (rc == -2) return usage();
        fprintf(stderr, "aftersaled: report failed: %s\n", store_strerror(rc));
        return 1;
    }
    int equal = r.mismatched == 0 && r.missing == 0 && r.extra == 0 && report_diff == 0;
    printf("{\"equal\":%s,\"cases\":%" PRIu64 ",\"records\":%" PRIu64 ",\"mismatched\":%" PRIu64
           ",\"missing\":%" PRIu64 ",\"extra\":%" PRIu64 ",\"report_groups_differing\":%" PRIu64 ",\"ms\":%" PRId64
           "}\n", equal ? "true" : "false", r.cases, r.records, r.mismatched, r.missing, r.extra, report_diff, r.ms);
    return equal ? 0 : 1;
}

int cli_kpi(int argc, char **argv) {
    kpi_args a;
    if (argc < 1 || parse(argc, argv, &a) != 0) return usage();
    int is_rebuild = !strcmp(argv[0], "rebuild");
    if (!is_rebuild && strcmp(argv[0], "verify") != 0) return usage();
    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0) return 1;
    store *db;
    int rc = open_store(&loop, a.data, &db) == 0 ? 0 : 1;
    if (rc == 0) {
        rc = is_rebuild ? rebuild(db, &a) : verify(db, &a);
        close_store(&loop, db);
    }
    uv_loop_close(&loop);
    return rc;
}

/* api/versions: loading policy sets and switching between kept versions.
 *
 * Reload, shadow, upload and activate (rollback is an activate of the
 * previous version) are one job: the loop thread says which files make the
 * candidate (the policies directory, sources over it or over the active
 * version, or a kept version's stored files); a libuv worker reads them once
 * (policy_files), runs the set's tests on exactly those files and loads
 * them; back on the loop, the version is kept in the store (history.c) and,
 * for reload and activate, made active, in one batch. The set is swapped in
 * only once that batch is durable, so an answered activation survives a
 * crash and the server never serves a version its store does not name.
 * One policy load runs at a time (s->policy_busy, shared with dry-run and
 * replay in admin.c); another answers 503. */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "util/log.h"

#define VERSIONS_DEFAULT_LIMIT 50
#define VERSIONS_MAX_LIMIT 200

typedef enum { VJ_RELOAD, VJ_SHADOW, VJ_UPLOAD, VJ_ACTIVATE } vjob_kind;

typedef struct {
    uv_work_t work;
    server *s;
    http_request *req;
    vjob_kind kind;
    char how[16];      /* the activation's "how": reload, activate, rollback */
    char want[65];     /* activate: the version asked for */
    json_t *by;        /* who (history_who) */
    char *dir;         /* read the policies directory too, or NULL */
    json_t *sources;   /* files over dir, or the whole set without it */
    /* the worker's results */
    json_t *files;     /* {"name": "text"}: what was tested and loaded */
    policy_set *set;
    policy_test_result tests;
    char err[2048];
    /* on the loop */
    history_change change;
    int activating;
} vjob;

static void vjob_free(vjob *j) {
    json_decref(j->by);
    json_decref(j->sources);
    json_decref(j->files);
    json_decref(j->tests.failures);
    if (j->set) policy_set_free(j->set);
    free(j->dir);
    free(j);
}

/* ---- 422 ---- */

static int path_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.' || c == '/';
}

/* Where an error points a policy author: the first "name.lua:LINE" in it (a
 * syntax error, a failing test's assertion, the require that found nothing),
 * or else the first "name.lua" (a bad calendar, a module that returns no
 * table). line stays 0 when there is none. */
static void error_location(const char *err, char *file, size_t filelen, int *line) {
    file[0] = '\0';
    *line = 0;
    for (const char *p = strstr(err, ".lua"); p != NULL; p = strstr(p + 4, ".lua")) {
        const char *start = p;
        while (start > err && path_char(start[-1])) start--;
        if (start == p) continue;
        int has_line = p[4] == ':' && p[5] >= '0' && p[5] <= '9';
        if (file[0] == '\0' || has_line) snprintf(file, filelen, "%.*s", (int)(p + 4 - start), start);
        if (has_line) {
            *line = atoi(p + 5);
            return;
        }
    }
}

void reply_policy_rejected(server *s, http_request *req, const char *err, json_t *failures) {
    char file[256];
    int line;
    error_location(err, file, sizeof file, &line);
    json_t *d = json_object();
    if (file[0]) json_object_set_new(d, "file", json_string(file));
    if (line > 0) json_object_set_new(d, "line", json_integer(line));
    json_object_set_new(d, "version", json_string(policy_set_version(s->policies)));
    if (failures && json_array_size(failures) > 0) json_object_set(d, "failures", failures);
    json_decref(failures);
    http_respond_error(req, 422, "policy_rejected", err, d);
}

/* ---- the worker ---- */

/* err says how many tests failed, then the first failure in full, so the
 * 422's file and line point at it; `failures` lists them all. */
static void tests_failed(vjob *j) {
    json_t *f = json_array_get(j->tests.failures, 0);
    const char *file = json_string_value(json_object_get(f, "file"));
    const char *test = json_string_value(json_object_get(f, "test"));
    const char *error = json_string_value(json_object_get(f, "error"));
    if (file == NULL && test && !strcmp(test, "load")) {
        snprintf(j->err, sizeof j->err, "%s", error ? error : "the set does not load");
        return;
    }
    snprintf(j->err, sizeof j->err, "policy tests failed (%d passed, %d failed): %s: %s: %s", j->tests.passed,
             j->tests.failed, file ? file : "tests", test ? test : "?", error ? error : "?");
}

static void vjob_work(uv_work_t *w) {
    vjob *j = w->data;
    policy_config in = {.dir = j->dir, .sources = j->sources};
    if ((j->files = policy_files(&in, j->err, sizeof j->err)) == NULL) return;
    policy_config exact = {.sources = j->files};
    if (policy_test_run(&exact, NULL, NULL, &j->tests, j->err, sizeof j->err) != 0) {
        tests_failed(j);
        return;
    }
    if (policy_set_load(&exact, &j->set, j->err, sizeof j->err) != 0) j->set = NULL;
}

/* ---- back on the loop ---- */

static json_t *tests_summary(const vjob *j) {
    return json_pack("{s:i,s:i}", "passed", j->tests.passed, "failed", j->tests.failed);
}

static json_t *describe_now(server *s) {
    json_t *d = policy_set_describe(s->policies);
    if (d && s->shadow) json_object_set_new(d, "shadow", shadow_describe(s));
    if (d && s->history.previous[0]) json_object_set_new(d, "previous", json_string(s->history.previous));
    return d;
}

static void swap_in(server *s, vjob *j) {
    policy_set *old = s->policies;
    policy_set_set_loaded_at(j->set, clock_now(&s->clock));
    s->policies = j->set;
    j->set = NULL;
    policy_carry_stats(s->policies, old);
    policy_set_free(old);
}

static void vjob_committed(int status, void *ud) {
    vjob *j = ud;
    server *s = j->s;
    s->policy_busy = 0;
    if (status != 0) {
        reply_store_error(j->req, status);
        vjob_free(j);
        return;
    }
    const char *version = policy_set_version(j->set);
    json_t *answer = NULL;
    if (j->kind == VJ_RELOAD) snprintf(s->history.dir, sizeof s->history.dir, "%s", version);
    if (j->kind == VJ_SHADOW) {
        policy_set_set_loaded_at(j->set, clock_now(&s->clock));
        if (s->shadow) policy_set_free(s->shadow);
        s->shadow = j->set;
        j->set = NULL;
        shadow_reset(s);
        log_emit(LOG_INFO, "shadow policies started", json_pack("{s:s,s:O}", "version", version, "by", j->by));
        answer = describe_now(s);
    } else if (j->kind == VJ_UPLOAD) {
        answer = history_record(s, version);
        if (answer) json_object_set_new(answer, "active", json_boolean(!strcmp(version, s->history.active)));
        http_respond_json(j->req, 201, answer);
        vjob_free(j);
        return;
    } else if (j->activating) {
        history_applied(s, &j->change);
        swap_in(s, j);
        log_emit(LOG_INFO, "policies activated",
                 json_pack("{s:s,s:s?,s:s,s:O,s:o}", "version", j->change.version, "previous",
                           j->change.previous[0] ? j->change.previous : NULL, "how", j->change.how, "by", j->by,
                           "tests", tests_summary(j)));
        webhooks_poke(s);
        answer = describe_now(s);
    } else { /* the version already active: the same files, loaded anew (loaded_at moves) */
        swap_in(s, j);
        answer = describe_now(s);
    }
    if (answer) {
        json_object_set_new(answer, "tests", tests_summary(j));
        json_object_set_new(answer, "changed", json_boolean(j->activating));
    }
    http_respond_json(j->req, 200, answer);
    vjob_free(j);
}

static void vjob_after(uv_work_t *w, int status) {
    vjob *j = w->data;
    server *s = j->s;
    if (status != 0 || j->set == NULL) {
        s->policy_busy = 0;
        if (j->kind == VJ_RELOAD || j->kind == VJ_ACTIVATE)
            log_emit(LOG_WARN, "policy load refused", json_pack("{s:s,s:s,s:O}", "how", j->how, "error", j->err, "by", j->by));
        json_t *failures = j->tests.failed ? json_incref(j->tests.failures) : NULL;
        reply_policy_rejected(s, j->req, j->err[0] ? j->err : "the policy set did not load", failures);
        vjob_free(j);
        return;
    }
    const char *version = policy_set_version(j->set);
    if (j->kind == VJ_ACTIVATE && strcmp(version, j->want) != 0) { /* never: the files are content-addressed */
        s->policy_busy = 0;
        snprintf(j->err, sizeof j->err, "the stored files of version %s load as version %s", j->want, version);
        reply_policy_rejected(s, j->req, j->err, NULL);
        vjob_free(j);
        return;
    }
    store_batch *b = store_batch_new(s->db);
    json_t *tests = tests_summary(j);
    int64_t now = clock_now(&s->clock);
    if (b == NULL || tests == NULL || history_keep(s, b, version, j->files, tests, j->by, now) != 0) {
        if (b) store_batch_fail(b, STORE_ENOMEM);
    }
    if (b && j->kind == VJ_RELOAD && strcmp(version, s->history.dir) != 0) history_dir_seen(b, version);
    if (b && (j->kind == VJ_RELOAD || j->kind == VJ_ACTIVATE) && strcmp(version, s->history.active) != 0) {
        history_change_init(s, &j->change, version, j->how);
        history_activate(b, &j->change, j->by, tests);
        j->activating = 1;
    }
    json_decref(tests);
    if (b == NULL) {
        vjob_committed(STORE_ENOMEM, j);
        return;
    }
    store_submit(b, vjob_committed, j);
}

/* Starts a job (taking sources), or answers 503. */
static void vjob_start(server *s, http_request *req, const principal *who, vjob_kind kind, const char *how,
                       int read_dir, json_t *sources, const char *want) {
    if (s->policy_busy) {
        json_decref(sources);
        http_response_header(req, "Retry-After", "1");
        http_respond_error(req, 503, "unavailable", "another policy load is in progress", NULL);
        return;
    }
    vjob *j = calloc(1, sizeof *j);
    if (j == NULL || (read_dir && (j->dir = strdup(s->cfg.policies_dir)) == NULL) ||
        (j->by = history_who(who)) == NULL) {
        json_decref(sources);
        if (j) vjob_free(j);
        http_respond_error(req, 503, "unavailable", "out of memory", NULL);
        return;
    }
    j->s = s;
    j->req = req;
    j->kind = kind;
    j->sources = sources;
    snprintf(j->how, sizeof j->how, "%s", how);
    if (want) snprintf(j->want, sizeof j->want, "%s", want);
    j->work.data = j;
    int rc = uv_queue_work(s->loop, &j->work, vjob_work, vjob_after);
    if (rc != 0) {
        vjob_free(j);
        http_respond_error(req, 503, "unavailable", uv_strerror(rc), NULL);
        return;
    }
    s->policy_busy = 1;
}

/* ---- handlers ---- */

void h_admin_reload(server *s, http_request *req, const route_params *p, const principal *who) {
    (void)p;
    if (req_no_body(req) != 0) return;
    vjob_start(s, req, who, VJ_RELOAD, "reload", 1, NULL, NULL);
}

/* The stored files of a kept version named by in.version (400 when it is not
 * a version, 404 when none is kept): NULL once answered. */
static json_t *kept_files(server *s, http_request *req, const char *version) {
    if (!history_version_ok(version)) {
        reply_invalid(req, "version", "must be a policy version: 64 lower-case hex digits");
        return NULL;
    }
    json_t *files = history_files(s, version);
    if (files == NULL) {
        char what[100];
        snprintf(what, sizeof what, "policy version %.64s", version);
        reply_not_found(req, what);
    }
    return files;
}

/* {sources} (over the policies directory) or {version} (a kept version):
 * the candidate runs in shadow once its tests pass; it is kept as a version. */
void h_admin_shadow(server *s, http_request *req, const route_params *p, const principal *who) {
    static const char *const known[] = {"sources", "version", NULL};
    (void)p;
    json_t *in = req_json_body(req);
    if (in == NULL) return;
    const char *version = json_string_value(json_object_get(in, "version"));
    if (req_only_known(req, in, known) != 0) {
    } else if (json_object_get(in, "version") && json_object_get(in, "sources")) {
        reply_invalid(req, "version", "give either sources or version, not both");
    } else if (json_object_get(in, "version")) {
        json_t *files = kept_files(s, req, version);
        if (files) vjob_start(s, req, who, VJ_SHADOW, "shadow", 0, files, NULL);
    } else if (!json_object_get(in, "sources")) {
        reply_invalid(req, "sources", "is required (or version): an object of file name to source text");
    } else if (req_sources(req, in, 1) == 0) {
        vjob_start(s, req, who, VJ_SHADOW, "shadow", 1, json_incref(json_object_get(in, "sources")), NULL);
    }
    json_decref(in);
}

/* The active version's files with sources over them (null drops a file). */
static json_t *over_active(server *s, const json_t *sources) {
    json_t *files = history_files(s, s->history.active);
    if (files == NULL) return NULL;
    const char *name;
    json_t *text;
    json_object_foreach((json_t *)sources, name, text) {
        if (json_is_null(text)) json_object_del(files, name);
        else json_object_set(files, name, text);
    }
    return files;
}

/* POST /v1/admin/policies/versions {sources, base?}: tests, loads and keeps
 * a candidate without activating it (201, its record). base: "directory"
 * (default: sources over the policies directory), "active" (over the
 * active version's files), "none" (sources are the whole set). */
void h_admin_version_upload(server *s, http_request *req, const route_params *p, const principal *who) {
    static const char *const known[] = {"sources", "base", NULL};
    (void)p;
    json_t *in = req_json_body(req);
    if (in == NULL) return;
    json_t *jbase = json_object_get(in, "base");
    const char *base = jbase ? json_string_value(jbase) : "directory";
    if (req_only_known(req, in, known) != 0 || req_sources(req, in, 1) != 0) {
    } else if (base == NULL || (strcmp(base, "directory") && strcmp(base, "active") && strcmp(base, "none"))) {
        reply_invalid(req, "base", "must be one of: directory, active, none");
    } else if (!strcmp(base, "active")) {
        json_t *files = over_active(s, json_object_get(in, "sources"));
        if (files) vjob_start(s, req, who, VJ_UPLOAD, "upload", 0, files, NULL);
        else http_respond_error(req, 503, "unavailable", "the active version's files cannot be read", NULL);
    } else {
        vjob_start(s, req, who, VJ_UPLOAD, "upload", !strcmp(base, "directory"),
                   json_incref(json_object_get(in, "sources")), NULL);
    }
    json_decref(in);
}

static void activate(server *s, http_request *req, const principal *who, const char *version, const char *how) {
    if (history_version_ok(version) && !strcmp(version, s->history.active) &&
        !strcmp(version, policy_set_version(s->policies))) {
        json_t *d = describe_now(s);
        if (d) json_object_set_new(d, "changed", json_false());
        http_respond_json(req, 200, d);
        return;
    }
    json_t *files = kept_files(s, req, version);
    if (files) vjob_start(s, req, who, VJ_ACTIVATE, how, 0, files, version);
}

/* {version}: a kept version becomes active once its tests pass again. */
void h_admin_activate(server *s, http_request *req, const route_params *p, const principal *who) {
    static const char *const known[] = {"version", NULL};
    (void)p;
    json_t *in = req_json_body(req);
    if (in == NULL) return;
    const char *version = NULL;
    if (req_only_known(req, in, known) == 0 && req_string(req, in, "version", 1, &version) == 0)
        activate(s, req, who, version, "activate");
    json_decref(in);
}

/* The version active before the current one becomes active again. */
void h_admin_rollback(server *s, http_request *req, const route_params *p, const principal *who) {
    (void)p;
    if (req_no_body(req) != 0) return;
    if (s->history.previous[0] == '\0') {
        http_respond_error(req, 409, "no_previous_version", "no version was active before the current one", NULL);
        return;
    }
    char previous[65];
    snprintf(previous, sizeof previous, "%s", s->history.previous);
    activate(s, req, who, previous, "rollback");
}

void h_admin_versions(server *s, http_request *req, const route_params *p, const principal *who) {
    static const char *const known[] = {"limit", NULL};
    (void)p;
    (void)who;
    if (req_query_known(req, known) != 0) return;
    char buf[32];
    long limit = VERSIONS_DEFAULT_LIMIT;
    int has = http_query_param(req, "limit", buf, sizeof buf);
    if (has != 0) {
        char *end;
        limit = strtol(buf, &end, 10);
        if (has < 0 || *end || buf[0] == '\0' || limit < 1 || limit > VERSIONS_MAX_LIMIT) {
            reply_invalid(req, "limit", "must be an integer from 1 to 200");
            return;
        }
    }
    json_t *list = history_list(s, (size_t)limit);
    if (list == NULL) http_respond_error(req, 503, "unavailable", "out of memory", NULL);
    else http_respond_json(req, 200, list);
}

void h_admin_version_get(server *s, http_request *req, const route_params *p, const principal *who) {
    (void)who;
    const char *version = route_param(p, "version");
    if (!history_version_ok(version)) {
        reply_invalid(req, "version", "must be a policy version: 64 lower-case hex digits");
        return;
    }
    json_t *rec = history_record_sources(s, version);
    if (rec == NULL) {
        char what[100];
        snprintf(what, sizeof what, "policy version %.64s", version);
        reply_not_found(req, what);
        return;
    }
    http_respond_json(req, 200, rec);
}

/* ---- start ---- */

/* Loads files (no dir) into *out; with tests when res is given. */
static int load_files(json_t *files, policy_set **out, policy_test_result *res, char *err, size_t errlen) {
    policy_config cfg = {.sources = files};
    *out = NULL;
    if (res && policy_test_run(&cfg, NULL, NULL, res, err, errlen) != 0) return -1;
    return policy_set_load(&cfg, out, err, errlen);
}

/* Which set a start serves (docs/policies.md, "Versions"):
 *   - nothing stored yet: the policies directory, as before versions;
 *   - the directory holds the active version: it;
 *   - the directory changed since the server last read it (an operator
 *     edited it while the server was down): the directory, if its tests
 *     pass, activated as "start"; if not, the stored active version, with
 *     the reason logged at each start until the directory is fixed;
 *   - the directory is as the server last read it but another version is
 *     active (an activate or a rollback since): the stored active version;
 *   - the stored version cannot be loaded: the directory, if it loads.
 * Runs before the server listens, on the loop thread. */
int versions_start(server *s) {
    char err[2048] = "", serr[2048] = "";
    history_load_state(s);
    policy_config dcfg = {.dir = s->cfg.policies_dir};
    json_t *dfiles = policy_files(&dcfg, err, sizeof err);
    policy_set *dset = NULL, *aset = NULL;
    if (dfiles && load_files(dfiles, &dset, NULL, err, sizeof err) != 0) dset = NULL;
    char dver[65] = "";
    if (dset) snprintf(dver, sizeof dver, "%s", policy_set_version(dset)); /* dset may be freed below */
    const char *D = dset ? dver : NULL, *A = s->history.active[0] ? s->history.active : NULL;
    policy_test_result res = {0};
    json_t *tests = NULL;
    int use_dir = A == NULL || (D && !strcmp(D, A));
    if (!use_dir && D && strcmp(D, s->history.dir) != 0) {
        policy_set *tested = NULL;
        if (load_files(dfiles, &tested, &res, serr, sizeof serr) == 0) {
            use_dir = 1;
            tests = json_pack("{s:i,s:i}", "passed", res.passed, "failed", res.failed);
        } else {
            log_emit(LOG_ERROR, "the policies directory changed but is refused: serving the active version",
                     json_pack("{s:s,s:s,s:s}", "directory", D, "active", A, "error", serr));
        }
        policy_set_free(tested);
        json_decref(res.failures);
    }
    if (!use_dir) {
        json_t *afiles = history_files(s, A);
        if (afiles == NULL || load_files(afiles, &aset, NULL, serr, sizeof serr) != 0) {
            log_emit(LOG_ERROR, "the stored active policy version does not load",
                     json_pack("{s:s,s:s}", "active", A, "error", afiles ? serr : "its files are missing"));
            aset = NULL;
            use_dir = dset != NULL;
        }
        json_decref(afiles);
    }
    if (!use_dir && aset == NULL) {
        log_emit(LOG_ERROR, "cannot load policies", json_pack("{s:s,s:s}", "dir", s->cfg.policies_dir, "error", err));
        json_decref(dfiles);
        return -1;
    }
    if (use_dir && dset == NULL) {
        log_emit(LOG_ERROR, "cannot load policies", json_pack("{s:s,s:s}", "dir", s->cfg.policies_dir, "error", err));
        json_decref(dfiles);
        policy_set_free(aset);
        return -1;
    }
    if (!use_dir && dset == NULL)
        log_emit(LOG_WARN, "the policies directory does not load: serving the active version from the store",
                 json_pack("{s:s,s:s,s:s}", "dir", s->cfg.policies_dir, "active", A, "error", err));
    s->policies = use_dir ? dset : aset;
    if (!use_dir) policy_set_free(dset);
    policy_set_set_loaded_at(s->policies, clock_now(&s->clock));
    const char *V = policy_set_version(s->policies);
    store_batch *b = store_batch_new(s->db);
    json_t *by = history_who(NULL);
    if (b && use_dir) {
        if (history_keep(s, b, V, dfiles, tests, by, clock_now(&s->clock)) != 0) store_batch_fail(b, STORE_ENOMEM);
        history_dir_seen(b, V);
        snprintf(s->history.dir, sizeof s->history.dir, "%s", V);
        if (A == NULL || strcmp(A, V) != 0) {
            history_change c;
            history_change_init(s, &c, V, "start");
            history_activate(b, &c, by, tests);
            history_applied(s, &c); /* before any request: the start's batch is the first */
        }
    }
    if (b) {
        /* Durable before the server listens: a first request must not find
         * the start's batch in the write backlog (a --max-pending-writes 1
         * server would answer it 503), nor read a version not yet stored.
         * Only the store's handle is active yet: this waits one commit. */
        int rc = store_submit_wait(b);
        if (rc != 0)
            log_emit(LOG_ERROR, "cannot record the policy version served at start",
                     json_pack("{s:s}", "error", store_strerror(rc)));
    }
    log_emit(LOG_INFO, "policies", json_pack("{s:s,s:s,s:s?}", "version", V, "from", use_dir ? "directory" : "store",
                                             "directory", D));
    json_decref(by);
    json_decref(tests);
    json_decref(dfiles);
    return 0;
}

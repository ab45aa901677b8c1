/* cli: `aftersaled policy ...` (see cli.h).
 *
 * eval runs the domain's opening here on a local policy set, the rest ask the
 * server over HTTP; both print the same readable summary of an opening. */
#include "cli/cli.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "case/domain.h"
#include "cli/http_client.h"
#include "policy/policy.h"

typedef struct {
    const char *cmd;
    const char *case_file, *order_file, *policies, *sources, *base;
    const char *arg; /* the one positional argument (activate VERSION) */
    int64_t now, since, limit;
    int json;
} cli_args;

static int usage(void) {
    fprintf(stderr, "usage: aftersaled policy eval --case FILE [--order FILE] [--policies DIR] [--now UNIX] [--json]\n"
                    "       aftersaled policy dry-run --case FILE [--order FILE] [--sources DIR] [--json]\n"
                    "       aftersaled policy replay [--sources DIR] [--since UNIX] [--limit N] [--json]\n"
                    "       aftersaled policy reload [--json]\n"
                    "       aftersaled policy show [--json]\n"
                    "       aftersaled policy versions [--limit N] [--json]\n"
                    "       aftersaled policy push --sources DIR [--base none|active|directory] [--json]\n"
                    "       aftersaled policy activate VERSION [--json]\n"
                    "       aftersaled policy rollback [--json]\n"
                    "       aftersaled policy test DIR|FILE [--filter TEXT]\n"
                    "  the server: AFTERSALE_URL (default http://127.0.0.1:8080), token in AFTERSALE_TOKEN\n");
    return 2;
}

static int parse_args(int argc, char **argv, cli_args *a) {
    memset(a, 0, sizeof *a);
    a->cmd = argv[0];
    a->now = a->since = a->limit = -1;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int64_t *num = !strcmp(f, "--now") ? &a->now : !strcmp(f, "--since") ? &a->since
                       : !strcmp(f, "--limit") ? &a->limit : NULL;
        if (!strcmp(f, "--json")) {
            a->json = 1;
            continue;
        }
        if (f[0] != '-') {
            if (a->arg) return -1;
            a->arg = f;
            continue;
        }
        if (v == NULL) return -1;
        char *end;
        if (num) {
            long long n = strtoll(v, &end, 10);
            if (*end || n < 0) return -1;
            *num = n;
        } else if (!strcmp(f, "--case")) a->case_file = v;
        else if (!strcmp(f, "--order")) a->order_file = v;
        else if (!strcmp(f, "--policies")) a->policies = v;
        else if (!strcmp(f, "--sources")) a->sources = v;
        else if (!strcmp(f, "--base")) a->base = v;
        else return -1;
        i++;
    }
    return 0;
}

static json_t *load_json_file(const char *path, const char *what) {
    json_error_t jerr;
    json_t *v = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (v == NULL) fprintf(stderr, "aftersaled: %s %s: line %d: %s\n", what, path, jerr.line, jerr.text);
    return v;
}

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    char chunk[8192];
    size_t n;
    while (mem && (n = fread(chunk, 1, sizeof chunk, f)) > 0) fwrite(chunk, 1, n, mem);
    fclose(f);
    if (mem) fclose(mem);
    return buf;
}

static int is_lua(const char *name) {
    size_t n = strlen(name);
    return n > 4 && !strcmp(name + n - 4, ".lua") && name[0] != '.';
}

/* The directories under prefix a set may hold (docs/policies.md): lib/,
 * tests/, merchants/ID/ and merchants/ID/tests/. */
static int set_dir(const char *prefix, const char *name) {
    if (prefix[0] == '\0') return !strcmp(name, "lib") || !strcmp(name, "tests") || !strcmp(name, "merchants");
    if (!strcmp(prefix, "merchants/")) return 1;
    return !strncmp(prefix, "merchants/", 10) && strchr(prefix + 10, '/') == prefix + strlen(prefix) - 1 &&
           !strcmp(name, "tests");
}

/* Adds every DIR/prefix...*.lua of a policy set to sources under its name in
 * the set; the server checks the names. */
static int add_dir(json_t *sources, const char *dir, const char *prefix) {
    DIR *d = opendir(dir);
    if (d == NULL) return -1;
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[4096], name[512];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        snprintf(name, sizeof name, "%s%s", prefix, e->d_name);
        struct stat st;
        if (stat(path, &st) != 0) continue;
        if (S_ISREG(st.st_mode) && is_lua(e->d_name)) {
            char *text = read_file(path);
            rc = text && json_object_set_new(sources, name, json_string(text)) == 0 ? 0 : -1;
            if (rc != 0) fprintf(stderr, "aftersaled: %s: not UTF-8 text\n", path);
            free(text);
        } else if (S_ISDIR(st.st_mode) && set_dir(prefix, e->d_name)) {
            char sub[600];
            snprintf(sub, sizeof sub, "%s/", name);
            rc = add_dir(sources, path, sub);
        }
    }
    closedir(d);
    return rc;
}

/* ---- printing ---- */

static const char *str(const json_t *o, const char *k) {
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "-";
}

static void print_output(const json_t *out) {
    char *text = json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    printf("%s", text ? text : "?");
    free(text);
}

/* A due instant as UTC date and time, or "-" when there is none. */
static void print_time(const json_t *t) {
    if (!json_is_integer(t)) {
        printf("-");
        return;
    }
    time_t ts = (time_t)json_integer_value(t);
    struct tm tm;
    char buf[32];
    strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", gmtime_r(&ts, &tm));
    printf("%s", buf);
}

/* The readable form of a preview (dry-run's answer, eval's). */
static void print_preview(const json_t *p) {
    const json_t *c = json_object_get(p, "case");
    printf("policy version %.12s\n", str(p, "policy_version"));
    printf("case     %s/%s  %s, reason %s\n", str(c, "status"), str(c, "stage"), str(c, "type"), str(c, "reason"));
    const json_t *el = json_object_get(p, "eligibility");
    if (el) printf("decision %s  %s\n         %s\n", str(el, "outcome"), str(el, "reason_code"), str(el, "message"));
    const json_t *refund = json_object_get(p, "refund");
    if (refund) printf("refund   %lld cents\n", (long long)json_integer_value(json_object_get(refund, "amount_cents")));
    const json_t *r = json_object_get(p, "routing");
    printf("routing  queue %s, priority %lld\n", str(r, "queue"), (long long)json_integer_value(json_object_get(r, "priority")));
    const json_t *sla = json_object_get(p, "sla");
    printf("sla      first response due ");
    print_time(json_object_get(sla, "first_response_due"));
    printf(", resolution due ");
    print_time(json_object_get(sla, "resolution_due"));
    printf("%s\n", json_is_true(json_object_get(sla, "business")) ? " (business time)" : "");
    size_t i;
    json_t *n;
    printf("calls\n");
    json_array_foreach(json_object_get(p, "notes"), i, n) {
        const char *type = str(n, "type");
        const json_t *d = json_object_get(n, "data");
        if (strcmp(type, "decision") && strcmp(type, "policy.error") && strcmp(type, "shadow.decision")) continue;
        printf("  %-15s %s.%s  ", type, str(d, "module"), str(d, "function"));
        if (json_object_get(d, "error")) printf("ERROR %s", str(d, "error"));
        else print_output(json_object_get(d, "output"));
        printf("\n");
    }
    size_t nerr = json_array_size(json_object_get(p, "errors"));
    printf("errors   %zu\n", nerr);
}

/* ---- commands ---- */

static int cmd_eval(const cli_args *a) {
    if (a->case_file == NULL) return usage();
    policy_config cfg = {.dir = a->policies ? a->policies : "./policies"};
    policy_set *ps;
    char err[2048];
    if (policy_set_load(&cfg, &ps, err, sizeof err) != 0) {
        fprintf(stderr, "aftersaled: %s\n", err);
        return 1;
    }
    json_t *jcase = load_json_file(a->case_file, "case"), *jorder = a->order_file ? load_json_file(a->order_file, "order") : NULL;
    int rc = 1;
    as_order order;
    order_init(&order);
    const char *photos[20];
    case_input ci;
    as_error e = {0};
    if (jcase == NULL || (a->order_file && jorder == NULL)) {
    } else if (jorder && order_input_parse(&order, jorder, &e) != 0) {
        fprintf(stderr, "aftersaled: order: %s\n", e.message);
    } else if (case_input_parse(&ci, jcase, photos, 20, &e) != 0) {
        fprintf(stderr, "aftersaled: case: %s\n", e.message);
    } else {
        uint64_t seq = 1;
        as_decider d = {.policies = ps, .now = a->now >= 0 ? a->now : (int64_t)time(NULL), .next_case_seq = &seq};
        as_ledger none;
        ledger_init(&none);
        as_actor who = {"admin", ""};
        as_changes ch;
        if (case_open(&d, &ci, jorder ? &order : NULL, &none, &who, seq++, &ch, &e) != 0) {
            fprintf(stderr, "aftersaled: %s\n", e.message);
        } else {
            char *text = case_preview(&ch, policy_set_version(ps));
            json_t *p = text ? json_loads(text, 0, NULL) : NULL;
            if (a->json && text) printf("%s\n", text);
            else if (p) print_preview(p);
            rc = p ? (json_array_size(json_object_get(p, "errors")) ? 1 : 0) : 1;
            json_decref(p);
            free(text);
            changes_free(&ch);
        }
    }
    order_free(&order);
    json_decref(jcase);
    json_decref(jorder);
    policy_set_free(ps);
    return rc;
}

/* Asks the server; prints its error when it refused. */
static int ask(const char *method, const char *path, json_t *body, int json_out, http_answer *out) {
    const char *url = getenv("AFTERSALE_URL"), *token = getenv("AFTERSALE_TOKEN");
    if (url == NULL || !*url) url = "http://127.0.0.1:8080";
    if (token == NULL || !*token) {
        fprintf(stderr, "aftersaled: set AFTERSALE_TOKEN to an admin token\n");
        return 2;
    }
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    char err[512];
    int rc = http_call(url, method, path, token, text, out, err, sizeof err);
    free(text);
    if (rc != 0) {
        fprintf(stderr, "aftersaled: %s\n", err);
        return 1;
    }
    if (json_out) printf("%s\n", out->body);
    if (out->status >= 300) {
        json_t *e = json_loads(out->body, 0, NULL);
        json_t *error = json_object_get(e, "error");
        if (!json_out)
            fprintf(stderr, "aftersaled: %d %s: %s\n", out->status, str(error, "code"), str(error, "message"));
        json_decref(e);
        return 1;
    }
    return 0;
}

static int with_sources(json_t *body, const char *dir) {
    if (dir == NULL) return 0;
    json_t *sources = json_object();
    if (sources == NULL || add_dir(sources, dir, "") != 0) {
        fprintf(stderr, "aftersaled: cannot read the policy files of %s\n", dir);
        json_decref(sources);
        return -1;
    }
    return json_object_set_new(body, "sources", sources);
}

static int cmd_dry_run(const cli_args *a) {
    if (a->case_file == NULL) return usage();
    json_t *body = json_object(), *c = load_json_file(a->case_file, "case");
    json_t *o = a->order_file ? load_json_file(a->order_file, "order") : NULL;
    int rc = 1;
    if (c && (!a->order_file || o) && with_sources(body, a->sources) == 0) {
        json_object_set(body, "case", c);
        if (o) json_object_set(body, "order", o);
        http_answer ans;
        rc = ask("POST", "/v1/admin/policies/dry-run", body, a->json, &ans);
        if (rc == 0 && !a->json) {
            json_t *p = json_loads(ans.body, 0, NULL);
            if (p) print_preview(p);
            rc = p && json_array_size(json_object_get(p, "errors")) == 0 ? 0 : 1;
            json_decref(p);
        }
        http_answer_free(&ans);
    }
    json_decref(c);
    json_decref(o);
    json_decref(body);
    return rc;
}

static int cmd_replay(const cli_args *a) {
    json_t *body = json_object();
    int rc = 1;
    if (with_sources(body, a->sources) == 0) {
        if (a->since >= 0) json_object_set_new(body, "since", json_integer(a->since));
        if (a->limit >= 0) json_object_set_new(body, "limit", json_integer(a->limit));
        http_answer ans;
        rc = ask("POST", "/v1/admin/policies/replay", body, a->json, &ans);
        if (rc == 0 && !a->json) {
            json_t *p = json_loads(ans.body, 0, NULL);
            printf("policy version %.12s: %lld evaluated, %lld changed\n", str(p, "policy_version"),
                   (long long)json_integer_value(json_object_get(p, "evaluated")),
                   (long long)json_integer_value(json_object_get(p, "changed")));
            size_t i;
            json_t *d;
            json_array_foreach(json_object_get(p, "diffs"), i, d) {
                const json_t *b = json_object_get(d, "before"), *af = json_object_get(d, "after");
                printf("  %s  %s/%s -> %s/%s\n", str(d, "case_id"), str(b, "outcome"), str(b, "reason_code"),
                       str(af, "outcome"), str(af, "reason_code"));
            }
            json_decref(p);
        }
        http_answer_free(&ans);
    }
    json_decref(body);
    return rc;
}

static int cmd_plain(const cli_args *a, const char *method, const char *path) {
    http_answer ans;
    int rc = ask(method, path, NULL, a->json, &ans);
    if (rc == 0 && !a->json) {
        json_t *p = json_loads(ans.body, 0, NULL);
        printf("version %s, loaded at %lld\n", str(p, "version"), (long long)json_integer_value(json_object_get(p, "loaded_at")));
        size_t i;
        json_t *f;
        json_array_foreach(json_object_get(p, "files"), i, f) printf("  %.12s  %s\n", str(f, "sha256"), str(f, "name"));
        if (json_object_get(p, "shadow")) printf("shadow  %s\n", str(json_object_get(p, "shadow"), "version"));
        json_decref(p);
    }
    http_answer_free(&ans);
    return rc;
}

/* One version of GET /v1/admin/policies/versions as a line. */
static void print_version(const json_t *v) {
    const json_t *by = json_object_get(v, "loaded_by"), *t = json_object_get(v, "tests");
    json_t *at = json_object_get(v, "activated_at");
    printf("%s %.12s  %s ", json_is_true(json_object_get(v, "active")) ? "*" : " ", str(v, "version"),
           json_is_integer(at) ? "activated" : "loaded   ");
    print_time(json_is_integer(at) ? at : json_object_get(v, "loaded_at"));
    printf("  by %s%s%s  %zu files", str(by, "role"), json_object_get(by, "agent") ? " " : "",
           json_object_get(by, "agent") ? str(by, "agent") : "", json_array_size(json_object_get(v, "files")));
    if (json_is_object(t))
        printf("  tests %lld passed, %lld failed", (long long)json_integer_value(json_object_get(t, "passed")),
               (long long)json_integer_value(json_object_get(t, "failed")));
    printf("\n");
}

static int cmd_versions(const cli_args *a) {
    char path[128] = "/v1/admin/policies/versions";
    if (a->limit >= 0) snprintf(path, sizeof path, "/v1/admin/policies/versions?limit=%lld", (long long)a->limit);
    http_answer ans;
    int rc = ask("GET", path, NULL, a->json, &ans);
    if (rc == 0 && !a->json) {
        json_t *p = json_loads(ans.body, 0, NULL);
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(p, "versions"), i, v) print_version(v);
        printf("active %s\nprevious %s\n", str(p, "active"), str(p, "previous"));
        json_t *act;
        printf("activations\n");
        json_array_foreach(json_object_get(p, "activations"), i, act) {
            printf("  ");
            print_time(json_object_get(act, "at"));
            printf("  %-8s %.12s (was %.12s) by %s\n", str(act, "how"), str(act, "version"), str(act, "previous"),
                   str(json_object_get(act, "by"), "role"));
        }
        json_decref(p);
    }
    http_answer_free(&ans);
    return rc;
}

/* push: the directory's whole set as a kept version (not activated). */
static int cmd_push(const cli_args *a) {
    if (a->sources == NULL) return usage();
    json_t *body = json_object();
    int rc = 1;
    if (with_sources(body, a->sources) == 0) {
        json_object_set_new(body, "base", json_string(a->base ? a->base : "none"));
        http_answer ans;
        rc = ask("POST", "/v1/admin/policies/versions", body, a->json, &ans);
        if (rc == 0 && !a->json) {
            json_t *p = json_loads(ans.body, 0, NULL);
            printf("kept ");
            print_version(p);
            printf("version %s (activate it with: aftersaled policy activate %s)\n", str(p, "version"),
                   str(p, "version"));
            json_decref(p);
        }
        http_answer_free(&ans);
    }
    json_decref(body);
    return rc;
}

/* activate VERSION | rollback: what is active now, and what was before. */
static int cmd_switch(const cli_args *a, const char *path, json_t *body) {
    http_answer ans;
    int rc = ask("POST", path, body, a->json, &ans);
    if (rc == 0 && !a->json) {
        json_t *p = json_loads(ans.body, 0, NULL);
        printf("active   %s%s\nprevious %s\n", str(p, "version"),
               json_is_false(json_object_get(p, "changed")) ? " (already active)" : "", str(p, "previous"));
        const json_t *t = json_object_get(p, "tests");
        if (t)
            printf("tests    %lld passed, %lld failed\n", (long long)json_integer_value(json_object_get(t, "passed")),
                   (long long)json_integer_value(json_object_get(t, "failed")));
        json_decref(p);
    }
    http_answer_free(&ans);
    json_decref(body);
    return rc;
}

int cli_policy(int argc, char **argv) {
    cli_args a;
    if (argc < 1 || parse_args(argc, argv, &a) != 0) return usage();
    if (a.arg && strcmp(a.cmd, "activate") != 0) return usage();
    if (!strcmp(a.cmd, "eval")) return cmd_eval(&a);
    if (!strcmp(a.cmd, "dry-run")) return cmd_dry_run(&a);
    if (!strcmp(a.cmd, "replay")) return cmd_replay(&a);
    if (!strcmp(a.cmd, "reload")) return cmd_plain(&a, "POST", "/v1/admin/policies/reload");
    if (!strcmp(a.cmd, "show")) return cmd_plain(&a, "GET", "/v1/admin/policies");
    if (!strcmp(a.cmd, "versions")) return cmd_versions(&a);
    if (!strcmp(a.cmd, "push")) return cmd_push(&a);
    if (!strcmp(a.cmd, "rollback")) return cmd_switch(&a, "/v1/admin/policies/rollback", NULL);
    if (!strcmp(a.cmd, "activate") && a.arg)
        return cmd_switch(&a, "/v1/admin/policies/activate", json_pack("{s:s}", "version", a.arg));
    return usage();
}

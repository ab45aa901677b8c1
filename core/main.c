/* main: flags, start-up, the loop, and the `policy test` subcommand.
 *
 *   aftersaled [--listen HOST:PORT] [--data DIR] [--policies DIR] [--tokens FILE]
 *              [--clock manual] [--max-body BYTES] [--map-size MiB] [--map-max MiB]
 *              [--idle-timeout MS] [--request-timeout MS] [--max-connections N]
 *              [--max-pending-writes N] [--policy-error-alert N] [--webhook URL [--webhook-secret S | --webhook-secret-file F]]
 *              [--quiet]
 *   aftersaled policy test DIR|FILE [--filter TEXT]
 *   aftersaled kpi rebuild|verify --data DIR ...
 *   aftersaled seed --data DIR --cases N [...]   (cli/seed.c)
 */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api/server.h"
#include "cli/cli.h"
#include "policy/policy.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: aftersaled [flags]\n"
            "       aftersaled policy test DIR|FILE [--filter TEXT]\n\n"
            "  --listen HOST:PORT   address to serve HTTP on (default 127.0.0.1:8080)\n"
            "  --data DIR           LMDB data directory (default ./var)\n"
            "  --policies DIR       Lua policy set (default ./policies)\n"
            "  --tokens FILE        tokens JSON {\"tokens\":[{token,role,merchant?,agent?}]};\n"
            "                       without it an admin token is kept in DATA/admin.token\n"
            "  --clock manual       start a test clock; POST /v1/admin/clock moves it\n"
            "  --max-body BYTES     largest request body (default 1048576)\n"
            "  --map-size MIB       initial LMDB map size (default 256)\n"
            "  --map-max MIB        largest the map may grow to (default 65536)\n"
            "  --idle-timeout MS    close a keep-alive connection idle this long (default 60000)\n"
            "  --request-timeout MS a request must arrive whole within this, else 408 (default 15000)\n"
            "  --max-connections N  connections beyond this get 503 (default 10000)\n"
            "  --max-pending-writes N  writes waiting for the disk before more get 503 (default 20000)\n"
            "  --policy-error-alert N  failures of one policy function of one merchant within an hour\n"
            "                       that raise a policy_errors alert (default 20; 0: never)\n"
            "  --webhook URL        also push the events feed to http://HOST[:PORT]/PATH (POST, in order)\n"
            "  --webhook-secret S   sign each push: X-Aftersale-Signature: sha256=HMAC-SHA256(S, body)\n"
            "  --webhook-secret-file F  the same secret read from file F (trailing newlines dropped),\n"
            "                       so it is not on the command line where ps shows it\n"
            "  --quiet              no access log lines\n"
            "  --help               this text\n\n"
            "  policy test DIR|FILE [--filter TEXT]  run the set's tests (DIR/tests/*.lua and\n"
            "                       DIR/merchants/ID/tests/*.lua), or one test file, or the tests whose\n"
            "                       \"FILE: NAME\" contains TEXT; exit 1 on failure\n"
            "  policy eval|dry-run|replay|reload|show ...  the policy set from a shell (policy --help)\n"
            "  kpi rebuild --data DIR [--utc-offset S | --policies DIR]  recompute the KPI aggregates from\n"
            "                       the stored cases (server stopped)\n"
            "  kpi verify --data DIR [--from T --to T [--group-by G]]  compare them with a recomputation\n"
            "  seed --data DIR --cases N [--merchants M --agents A --days D --seed S --policies DIR]\n"
            "                       write N realistic cases into DIR through the domain layer, for\n"
            "                       measurements (no server may run on DIR meanwhile)\n");
}

static int parse_listen(const char *arg, server_config *cfg) {
    static char host[256];
    const char *colon = strrchr(arg, ':');
    if (colon == NULL || colon == arg || (size_t)(colon - arg) >= sizeof host) return -1;
    memcpy(host, arg, (size_t)(colon - arg));
    host[colon - arg] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port < 0 || port > 65535) return -1;
    cfg->host = host;
    cfg->port = (int)port;
    return 0;
}

/* A positive count that fits in unsigned (milliseconds, connections). */
static int parse_count(const char *arg, unsigned *out) {
    char *end;
    unsigned long n = strtoul(arg, &end, 10);
    if (*end != '\0' || n == 0 || n > 0xffffffffUL || arg[0] == '-') return -1;
    *out = (unsigned)n;
    return 0;
}

static int parse_size(const char *arg, size_t unit, size_t *out) {
    char *end;
    unsigned long long n = strtoull(arg, &end, 10);
    if (*end != '\0' || n == 0) return -1;
    *out = (size_t)n * unit;
    return 0;
}

#define SECRET_MAX 4096

/* The file-held secret, kept for the life of the process. */
static char *file_secret;

/* Reads a secret from path: at most SECRET_MAX bytes, trailing CR/LF dropped,
 * not empty. Returns it (malloc'd) or NULL. */
static char *read_secret(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    char *buf = malloc(SECRET_MAX + 2);
    size_t n = buf ? fread(buf, 1, SECRET_MAX + 1, f) : 0;
    int failed = buf == NULL || ferror(f) || n > SECRET_MAX;
    fclose(f);
    while (!failed && n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) n--;
    if (failed || n == 0) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

/* Returns 0, 1 for --help, -1 on a bad flag. */
static int parse_flags(int argc, char **argv, server_config *cfg) {
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int ok = 1, takes_value = 1;
        if (!strcmp(f, "--help") || !strcmp(f, "-h")) return 1;
        else if (!strcmp(f, "--quiet")) { cfg->quiet = 1; takes_value = 0; }
        else if (v == NULL) ok = 0;
        else if (!strcmp(f, "--listen")) ok = parse_listen(v, cfg) == 0;
        else if (!strcmp(f, "--data")) cfg->data_dir = v;
        else if (!strcmp(f, "--policies")) cfg->policies_dir = v;
        else if (!strcmp(f, "--tokens")) cfg->tokens_file = v;
        else if (!strcmp(f, "--clock")) ok = !strcmp(v, "manual") && (cfg->manual_clock = 1);
        else if (!strcmp(f, "--max-body")) ok = parse_size(v, 1, &cfg->max_body) == 0;
        else if (!strcmp(f, "--map-size")) ok = parse_size(v, (size_t)1 << 20, &cfg->map_size) == 0;
        else if (!strcmp(f, "--map-max")) ok = parse_size(v, (size_t)1 << 20, &cfg->map_max) == 0;
        else if (!strcmp(f, "--idle-timeout")) ok = parse_count(v, &cfg->idle_timeout_ms) == 0;
        else if (!strcmp(f, "--request-timeout")) ok = parse_count(v, &cfg->request_timeout_ms) == 0;
        else if (!strcmp(f, "--max-connections")) ok = parse_count(v, &cfg->max_connections) == 0;
        else if (!strcmp(f, "--max-pending-writes")) ok = parse_count(v, &cfg->max_pending_writes) == 0;
        else if (!strcmp(f, "--policy-error-alert"))
            ok = !strcmp(v, "0") ? (cfg->policy_error_alert = 0, 1) : parse_count(v, &cfg->policy_error_alert) == 0;
        else if (!strcmp(f, "--webhook")) cfg->webhook_url = v;
        else if (!strcmp(f, "--webhook-secret")) cfg->webhook_secret = v;
        else if (!strcmp(f, "--webhook-secret-file")) {
            free(file_secret);
            ok = (cfg->webhook_secret = file_secret = read_secret(v)) != NULL;
        }
        else ok = 0;
        if (!ok) {
            fprintf(stderr, "aftersaled: bad flag or value: %s%s%s\n", f, v && takes_value ? " " : "",
                    v && takes_value ? v : "");
            return -1;
        }
        i += takes_value;
    }
    if (cfg->map_max < cfg->map_size) cfg->map_max = cfg->map_size;
    return 0;
}

/* The set a test file belongs to: .../tests/F.lua or .../merchants/ID/tests/F.lua
 * of it. Fills root (the set's directory) and only (the file's name in the
 * set); -1 if path is no such file. */
static int test_file_of(const char *path, char *root, size_t rootlen, char *only, size_t onlylen) {
    char full[PATH_MAX];
    if (realpath(path, full) == NULL) return -1;
    char *slash[4] = {0}; /* the last four separators, last first */
    for (int i = 0; i < 4; i++) {
        slash[i] = strrchr(full, '/');
        if (slash[i] == NULL) break;
        *slash[i] = '\0';
    }
    /* full/[3]/[2]/[1]/[0]: [0] the file, [1] "tests" */
    const char *file = slash[0] ? slash[0] + 1 : "", *tests = slash[1] ? slash[1] + 1 : "";
    const char *id = slash[2] ? slash[2] + 1 : NULL, *merchants = slash[3] ? slash[3] + 1 : NULL;
    if (strcmp(tests, "tests") != 0 || id == NULL) return -1;
    if (merchants && strcmp(merchants, "merchants") == 0) {
        snprintf(root, rootlen, "%s", full[0] ? full : "/");
        snprintf(only, onlylen, "merchants/%s/tests/%s", id, file);
    } else {
        *slash[2] = '/'; /* the set is the directory above tests/ */
        if (slash[3]) *slash[3] = '/';
        snprintf(root, rootlen, "%s", full[0] ? full : "/");
        snprintf(only, onlylen, "tests/%s", file);
    }
    return 0;
}

/* policy test DIR|FILE [--filter TEXT]: one line per test, the summary
 * line last and alone on stdout; why it failed on stderr after it. */
static int policy_test(int argc, char **argv) {
    const char *target = NULL;
    policy_test_opts opts = {0};
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--filter") && i + 1 < argc) opts.filter = argv[++i];
        else if (argv[i][0] != '-' && target == NULL) target = argv[i];
        else target = NULL, i = argc;
    }
    if (target == NULL) {
        fprintf(stderr, "usage: aftersaled policy test DIR|FILE [--filter TEXT]\n");
        return 2;
    }
    char root[PATH_MAX], only[1024];
    struct stat st;
    policy_config cfg = {.dir = target};
    if (stat(target, &st) == 0 && S_ISREG(st.st_mode)) {
        if (test_file_of(target, root, sizeof root, only, sizeof only) != 0) {
            fprintf(stderr, "aftersaled: %s: not a test file of a policy set (DIR/tests/NAME.lua or "
                            "DIR/merchants/ID/tests/NAME.lua)\n", target);
            return 2;
        }
        cfg.dir = root;
        opts.only = only;
    }
    policy_test_result res;
    char err[2048] = "";
    int rc = policy_test_run(&cfg, &opts, stdout, &res, err, sizeof err);
    json_decref(res.failures);
    fflush(stdout);
    if (err[0]) fprintf(stderr, "aftersaled: %s\n", err);
    if (rc == 0 && res.passed == 0 && opts.filter) fprintf(stderr, "aftersaled: no test matches '%s'\n", opts.filter);
    return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "seed")) return cli_seed(argc - 2, argv + 2);
    if (argc >= 2 && !strcmp(argv[1], "policy")) {
        if (argc >= 3 && !strcmp(argv[2], "test")) return policy_test(argc - 3, argv + 3);
        if (argc >= 3) return cli_policy(argc - 2, argv + 2);
        usage(stderr);
        return 2;
    }
    if (argc >= 3 && !strcmp(argv[1], "kpi")) return cli_kpi(argc - 2, argv + 2);
    server_config cfg;
    server_config_defaults(&cfg);
    int rc = parse_flags(argc, argv, &cfg);
    if (rc != 0) {
        free(file_secret);
        usage(rc == 1 ? stdout : stderr);
        return rc == 1 ? 0 : 2;
    }
    signal(SIGPIPE, SIG_IGN); /* a peer that went away is an error value, not a death */
    uv_loop_t *loop = uv_default_loop();
    server *s = NULL;
    if (server_start(&s, loop, &cfg) != 0) {
        server_free(s);
        free(file_secret);
        return 1;
    }
    uv_run(loop, UV_RUN_DEFAULT);
    server_free(s);
    free(file_secret);
    if (uv_loop_close(loop) != 0) fprintf(stderr, "aftersaled: the loop still had handles at exit\n");
    return 0;
}

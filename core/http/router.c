/* http/router: method + path pattern dispatch (see router.h).
 *
 * Patterns are split into segments once, when added. A path is split once
 * per match, without copying, into at most ROUTER_MAX_SEGS segments; then
 * routes are compared segment by segment in the order they were added.
 * Parameters are decoded only for the route that matches. */
#include <stdlib.h>
#include <string.h>

#include "http/internal.h"
#include "http/router.h"

#define ROUTER_MAX_SEGS 16
#define ROUTER_METHOD_MAX 16

typedef struct {
    const char *s; /* literal text or parameter name, owned by the route */
    size_t len;
    int param;
} route_seg;

typedef struct {
    char method[ROUTER_METHOD_MAX];
    char *text; /* the pattern's copy: segments point into it */
    route_seg segs[ROUTER_MAX_SEGS];
    int nsegs, nparams;
    void *handler;
    const char *label;
} route;

struct router {
    route *routes;
    size_t n, cap;
};

typedef struct {
    const char *s[ROUTER_MAX_SEGS];
    size_t len[ROUTER_MAX_SEGS];
    int n;
} path_segs;

const char *route_param(const route_params *p, const char *name) {
    for (int i = 0; i < p->count; i++)
        if (strcmp(p->names[i], name) == 0) return p->values[i];
    return NULL;
}

router *router_new(void) { return calloc(1, sizeof(router)); }

void router_free(router *r) {
    if (r == NULL) return;
    for (size_t i = 0; i < r->n; i++) free(r->routes[i].text);
    free(r->routes);
    free(r);
}

/* Splits "/a/b" after its leading slash into segments; -1 if it has no
 * leading slash or too many segments. "/" is one empty segment. */
static int split(const char *path, path_segs *ps) {
    if (path[0] != '/') return -1;
    ps->n = 0;
    const char *p = path + 1;
    for (;;) {
        if (ps->n == ROUTER_MAX_SEGS) return -1;
        const char *slash = strchr(p, '/');
        size_t len = slash != NULL ? (size_t)(slash - p) : strlen(p);
        ps->s[ps->n] = p;
        ps->len[ps->n++] = len;
        if (slash == NULL) return 0;
        p = slash + 1;
    }
}

/* Fills the route's segments from its own copy of the pattern. */
static int compile(route *rt) {
    path_segs ps;
    if (split(rt->text, &ps) != 0) return -1;
    rt->nsegs = ps.n;
    rt->nparams = 0;
    for (int i = 0; i < ps.n; i++) {
        route_seg *sg = &rt->segs[i];
        const char *s = ps.s[i];
        size_t len = ps.len[i];
        int open = memchr(s, '{', len) != NULL, close = memchr(s, '}', len) != NULL;
        sg->param = len >= 3 && s[0] == '{' && s[len - 1] == '}';
        if (!sg->param && (open || close)) return -1; /* "a{b}" is not supported */
        if (sg->param) {
            if (rt->nparams == ROUTE_MAX_PARAMS) return -1;
            if (memchr(s + 1, '{', len - 2) || memchr(s + 1, '}', len - 2)) return -1;
            rt->nparams++;
            rt->text[s + len - 1 - rt->text] = '\0'; /* the name ends at '}' */
            s++;
            len -= 2;
        }
        sg->s = s;
        sg->len = len;
    }
    return 0;
}

int router_add(router *r, const char *method, const char *pattern, void *handler, const char *label) {
    if (r == NULL || method == NULL || pattern == NULL || strlen(method) >= ROUTER_METHOD_MAX) return -1;
    if (r->n == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 16;
        route *nr = realloc(r->routes, ncap * sizeof *nr);
        if (nr == NULL) return -1;
        r->routes = nr;
        r->cap = ncap;
    }
    route *rt = &r->routes[r->n];
    memset(rt, 0, sizeof *rt);
    strcpy(rt->method, method);
    rt->text = strdup(pattern);
    if (rt->text == NULL) return -1;
    if (compile(rt) != 0) {
        free(rt->text);
        return -1;
    }
    rt->handler = handler;
    rt->label = label;
    r->n++;
    return 0;
}

/* 1 if the path has the route's shape (literals equal, parameters non-empty). */
static int shape_matches(const route *rt, const path_segs *ps) {
    if (rt->nsegs != ps->n) return 0;
    for (int i = 0; i < ps->n; i++) {
        const route_seg *sg = &rt->segs[i];
        if (sg->param) {
            if (ps->len[i] == 0) return 0;
        } else if (sg->len != ps->len[i] || memcmp(sg->s, ps->s[i], sg->len) != 0) {
            return 0;
        }
    }
    return 1;
}

static int decode_params(const route *rt, const path_segs *ps, route_params *params) {
    route_params local;
    if (params == NULL) params = &local;
    params->count = 0;
    for (int i = 0; i < ps->n; i++) {
        if (!rt->segs[i].param) continue;
        int k = params->count++;
        params->names[k] = rt->segs[i].s;
        if (http_pct_decode(ps->s[i], ps->len[i], params->values[k], ROUTE_MAX_PARAM_LEN, 0) < 0)
            return -1;
    }
    return 0;
}

/* Appends method to the comma-separated allow list once. */
static void allow_add(char *allow, size_t allow_len, const char *method) {
    size_t ml = strlen(method), used = strlen(allow);
    for (const char *p = allow; (p = strstr(p, method)) != NULL; p += ml)
        if ((p == allow || p[-1] == ' ') && (p[ml] == ',' || p[ml] == '\0')) return;
    size_t need = used + (used ? 2 : 0) + ml + 1;
    if (need > allow_len) return;
    if (used) {
        memcpy(allow + used, ", ", 2);
        used += 2;
    }
    memcpy(allow + used, method, ml + 1);
}

route_result router_match(const router *r, const char *method, const char *path, void **handler,
                          const char **label, route_params *params, char *allow, size_t allow_len) {
    path_segs ps;
    if (allow != NULL && allow_len > 0) allow[0] = '\0';
    if (params != NULL) params->count = 0;
    if (split(path, &ps) != 0) return ROUTE_NOT_FOUND;
    int shape_seen = 0;
    /* HEAD is GET without the body (RFC 9110 9.3.2; http/response drops it) */
    int head = strcmp(method, "HEAD") == 0;
    for (size_t i = 0; i < r->n; i++) {
        const route *rt = &r->routes[i];
        if (!shape_matches(rt, &ps)) continue;
        if (strcmp(rt->method, method) != 0 && !(head && strcmp(rt->method, "GET") == 0)) {
            shape_seen = 1;
            if (allow != NULL && allow_len > 0) allow_add(allow, allow_len, rt->method);
            continue;
        }
        if (decode_params(rt, &ps, params) != 0) return ROUTE_BAD_PARAM;
        if (handler != NULL) *handler = rt->handler;
        if (label != NULL) *label = rt->label;
        return ROUTE_FOUND;
    }
    return shape_seen ? ROUTE_METHOD_NOT_ALLOWED : ROUTE_NOT_FOUND;
}

/* router: method + path pattern dispatch.
 *
 * Patterns are literal segments and {name} parameters, e.g.
 * "/v1/orders/{id}/prices/{sku}". A parameter matches one non-empty segment;
 * its value is percent-decoded. Matching is exact on segments (a trailing
 * slash is a different path). Routes are tried in the order they were added.
 * A HEAD request matches a GET route (the answer then carries no body). */
#ifndef AS_HTTP_ROUTER_H
#define AS_HTTP_ROUTER_H

#include <stddef.h>

#define ROUTE_MAX_PARAMS 4
#define ROUTE_MAX_PARAM_LEN 256

typedef struct {
    int count;
    const char *names[ROUTE_MAX_PARAMS];
    char values[ROUTE_MAX_PARAMS][ROUTE_MAX_PARAM_LEN];
} route_params;

/* NULL if absent. */
const char *route_param(const route_params *p, const char *name);

typedef struct router router;

typedef enum {
    ROUTE_FOUND = 0,
    ROUTE_NOT_FOUND,          /* no pattern matches the path: 404 */
    ROUTE_METHOD_NOT_ALLOWED, /* the path matches, the method does not: 405 */
    ROUTE_BAD_PARAM,          /* a parameter is too long or badly encoded: 400 */
} route_result;

router *router_new(void);
void router_free(router *r);
/* handler is opaque to the router (the server casts it back). label is kept
 * by pointer (use a string literal). Returns 0, or -1 on a bad pattern or OOM. */
int router_add(router *r, const char *method, const char *pattern, void *handler,
               const char *label);
/* On ROUTE_FOUND fills handler, label and params. On ROUTE_METHOD_NOT_ALLOWED
 * fills allow (comma-separated methods, e.g. "GET, POST") if allow != NULL. */
route_result router_match(const router *r, const char *method, const char *path,
                          void **handler, const char **label, route_params *params,
                          char *allow, size_t allow_len);

#endif

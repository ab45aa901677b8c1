/* api/console.h: the routes the web console adds (console.c).
 *
 * The console (console/ in the repository) is a set of static files the
 * build embeds into the binary together with docs/openapi.json, so the
 * server needs nothing on disk and nothing else started to serve them. The
 * files and the OpenAPI description are public, like /healthz: they hold no
 * data. Every data call the page makes carries the user's token and is
 * checked as any other API call. */
#ifndef AS_API_CONSOLE_H
#define AS_API_CONSOLE_H

#include <stddef.h>

#include "api/api.h"

/* One embedded file. The table is generated at build time
 * (scripts/embed.cmake writes assets.c into the build directory). */
typedef struct {
    const char *name;         /* "index.html", "app.js", "openapi.json" */
    const char *content_type; /* with charset for text */
    const unsigned char *data;
    size_t len;
} console_asset;

extern const console_asset console_assets[];
extern const size_t console_nassets;

/* NULL if no embedded file has that name. */
const console_asset *console_asset_find(const char *name);

/* GET /console: redirects to /console/ (relative links resolve there). */
void h_console_root(server *s, http_request *req, const route_params *p, const principal *who);
/* GET /console/ and GET /console/{file}: the embedded files. */
void h_console_file(server *s, http_request *req, const route_params *p, const principal *who);
/* GET /openapi.json: the OpenAPI 3.1 description of the whole API. */
void h_openapi(server *s, http_request *req, const route_params *p, const principal *who);
/* GET /v1/me: {role, merchant_id, agent_id} of the calling token. */
void h_me(server *s, http_request *req, const route_params *p, const principal *who);
/* GET /v1/cases/{id}/actions: {case_id, status, stage, allowed:[...]}, the
 * actions the case's type and state allow now (what a 409 would list). */
void h_case_allowed(server *s, http_request *req, const route_params *p, const principal *who);

#endif

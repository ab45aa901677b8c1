/* api/console: what the web console needs from the server (see console.h):
 * its static files and the OpenAPI description, both embedded at build time,
 * who the calling token is, and the actions a case allows now.
 *
 * The files are served from memory: no file system path is ever built from
 * a request, so a name is either one of the embedded files or a 404. */
#include <string.h>

#include "api/console.h"
#include "case/machine.h"
#include "util/jsonw.h"

const console_asset *console_asset_find(const char *name) {
    for (size_t i = 0; i < console_nassets; i++)
        if (strcmp(console_assets[i].name, name) == 0) return &console_assets[i];
    return NULL;
}

/* The page loads only its own files and talks only to this server; nothing
 * may frame it, and no inline script runs (every value it shows is text). */
static void console_headers(http_request *req) {
    http_response_header(req, "Content-Security-Policy",
                         "default-src 'self'; img-src 'self' data:; object-src 'none'; "
                         "base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
    http_response_header(req, "X-Content-Type-Options", "nosniff");
    http_response_header(req, "Referrer-Policy", "no-referrer");
    http_response_header(req, "X-Frame-Options", "DENY");
    /* A new binary may embed new files under the same names. */
    http_response_header(req, "Cache-Control", "no-cache");
}

static void respond_asset(http_request *req, const char *name) {
    const console_asset *a = console_asset_find(name);
    if (a == NULL) {
        reply_not_found(req, "file");
        return;
    }
    console_headers(req);
    http_respond(req, 200, a->content_type, (const char *)a->data, a->len);
}

void h_console_root(server *s, http_request *req, const route_params *p, const principal *who) {
    if (req_no_query(req) != 0) return;
    (void)s, (void)p, (void)who;
    http_response_header(req, "Location", "/console/");
    http_respond(req, 301, "text/plain; charset=utf-8", "/console/\n", 10);
}

void h_console_file(server *s, http_request *req, const route_params *p, const principal *who) {
    if (req_no_query(req) != 0) return;
    (void)s, (void)who;
    const char *file = route_param(p, "file");
    respond_asset(req, file != NULL ? file : "index.html");
}

void h_openapi(server *s, http_request *req, const route_params *p, const principal *who) {
    if (req_no_query(req) != 0) return;
    (void)s, (void)p, (void)who;
    const console_asset *a = console_asset_find("openapi.json");
    if (a == NULL) {
        reply_not_found(req, "file");
        return;
    }
    http_response_header(req, "Cache-Control", "no-cache");
    http_respond(req, 200, "application/json", (const char *)a->data, a->len);
}

void h_me(server *s, http_request *req, const route_params *p, const principal *who) {
    if (req_no_query(req) != 0) return;
    (void)s, (void)p;
    http_respond_json(req, 200,
                      json_pack("{s:s,s:s?,s:s?}", "role", role_name(who->role), "merchant_id",
                                who->merchant, "agent_id", who->agent));
}

void h_case_allowed(server *s, http_request *req, const route_params *p, const principal *who) {
    if (req_no_query(req) != 0) return;
    as_case c;
    if (case_load_for(s, req, who, route_param(p, "id"), 0, &c) != 0) return;
    textbuf tb = {0};
    jsonw w;
    jsonw_init(&w, &tb);
    emitter *e = jsonw_emitter(&w);
    emit_object_n(e, 4);
    emit_kstr(e, "case_id", c.case_id);
    emit_kstr(e, "status", case_status_name(c.status));
    emit_kstr(e, "stage", case_stage_name(c.stage));
    emit_key(e, "allowed");
    case_machine_allowed(c.type, c.status, c.stage, e); /* the list a 409 gives */
    emit_object_end(e);
    if (tb.failed) http_respond_error(req, 503, "unavailable", "out of memory", NULL);
    else http_respond(req, 200, "application/json", tb.buf, tb.len);
    tb_free(&tb);
    case_free(&c);
}

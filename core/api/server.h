/* api/server: the server object and its public life cycle.
 *
 * A server owns the loop's listener (http), the storage (store), the active
 * policy set, the clock, the tokens and the in-memory mirrors the write path
 * needs (agents, id counters). main.c creates one, starts it and runs the loop;
 * SIGTERM/SIGINT stop accepting, finish the requests in flight, flush commits
 * and let uv_run return. */
#ifndef AS_API_SERVER_H
#define AS_API_SERVER_H

#include <stddef.h>
#include <uv.h>

typedef struct {
    const char *host;
    int port;
    const char *data_dir;
    const char *policies_dir;
    const char *tokens_file; /* NULL: create an admin token in data_dir */
    int manual_clock;
    size_t max_body;
    size_t map_size;
    size_t map_max;
    unsigned idle_timeout_ms;    /* 0: the http defaults (see core/http/http.h) */
    unsigned request_timeout_ms;
    unsigned max_connections;
    unsigned max_pending_writes; /* batches waiting for the disk before writes get 503 */
    const char *webhook_url;     /* NULL: no webhook */
    const char *webhook_secret;  /* NULL: unsigned */
    int quiet; /* no access log */
    unsigned policy_error_alert; /* failures of one policy function and merchant per hour that raise an alert; 0: never */
} server_config;

typedef struct server server;

void server_config_defaults(server_config *cfg);
/* Opens storage, loads tokens and policies, binds the listener. Returns 0, or
 * -1 after logging why. */
int server_start(server **out, uv_loop_t *loop, const server_config *cfg);
/* Graceful stop (also what the signals do). */
void server_stop(server *s);
/* After uv_run returned. */
void server_free(server *s);

#endif

/* webhook: delivers the events feed to one HTTP endpoint, in order, at least
 * once.
 *
 * The deliverer asks its source for the page of events after the last seq the
 * endpoint acknowledged, POSTs it, and on a 2xx answer tells the source the
 * page's last seq (the source persists it, so a restart resumes there) and
 * goes on with the next page. Any failure (name lookup, connect, a timeout,
 * a non-2xx status) retries the same page after a backoff that doubles from
 * 200 ms to 30 s; a page is never skipped, so the endpoint may see one twice
 * (at-least-once) but never out of order. One request at a time, each on a
 * fresh connection (Connection: close). Plain http:// only.
 *
 * The request: POST PATH, Content-Type: application/json, the body the source
 * built, and with a secret X-Aftersale-Signature: sha256=HEX where HEX is
 * HMAC-SHA256(secret, body), so the endpoint can check who sent it.
 *
 * Everything runs on the loop thread. */
#ifndef AS_WEBHOOK_H
#define AS_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct {
    /* The page after seq `after`: a malloc'd body (the deliverer frees it) and
     * the last seq in it. Returns 1 with a page, 0 when nothing is newer, -1
     * on an error (retried after the backoff). */
    int (*next_page)(void *ud, uint64_t after, char **body, size_t *len, uint64_t *last);
    /* The endpoint acknowledged everything up to seq. */
    void (*acknowledged)(void *ud, uint64_t seq);
    void *ud;
} webhook_source;

typedef struct {
    const char *url;         /* http://HOST[:PORT]/PATH */
    const char *secret;      /* NULL: no signature header */
    unsigned timeout_ms;     /* one attempt, connect to status line; 0: 10000 */
    unsigned poll_ms;        /* look for new events this often when idle; 0: 1000 */
    unsigned backoff_min_ms; /* first retry delay; 0: 200 (doubles to 30000) */
} webhook_config;

typedef struct {
    uint64_t delivered_seq; /* last seq the endpoint acknowledged */
    uint64_t deliveries;    /* pages acknowledged */
    uint64_t failures;      /* attempts that failed */
    int last_status;        /* HTTP status of the last answer, 0 if none */
} webhook_stats;

typedef struct webhook webhook;

/* Splits an http:// URL; 0, or -1 (with err) if it is not one we can call. */
int webhook_parse_url(const char *url, char *host, size_t hostlen, int *port, char *path,
                      size_t pathlen, char *err, size_t errlen);

/* Starts delivering after seq `delivered`. Returns 0, or -1 with err (a bad
 * URL, out of memory). */
int webhook_start(webhook **out, uv_loop_t *loop, const webhook_config *cfg,
                  const webhook_source *src, uint64_t delivered, char *err, size_t errlen);
/* New events may be durable: deliver now if idle (else the poll finds them). */
void webhook_poke(webhook *w);
void webhook_get_stats(const webhook *w, webhook_stats *st);
/* Abandons any attempt in flight (its page is delivered again after the next
 * start) and releases everything once its handles are closed: the caller runs
 * the loop afterwards. */
void webhook_stop(webhook *w);

#endif

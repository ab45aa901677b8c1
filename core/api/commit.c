/* api/commit: a write is answered only once its batch is durable.
 *
 * Handlers build a store_batch and hand it here with the answer they want to
 * give; the answer waits in a small request struct until the group commit
 * that carries the batch has been fsync'd. Idempotency keys ride in the same
 * batch as the change, so a repeat can never see the change without its
 * answer or the other way round. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "api/api.h"
#include "util/digest.h"
#include "util/log.h"

/* The answer waiting for its commit: a JSON body, or text already serialised. */
typedef struct {
    server *s;
    http_request *req;
    int status;
    json_t *body;
    char *text;
} pending_reply;

#define IDEM_KEY_MAX 255

/* Idempotency record key: sha256(token) | method | path | key (the bearer
 * token itself never goes to disk). 1 with a key, 0 without one, -1 for a
 * key that cannot be stored: the caller refuses the request rather than
 * apply a retry twice. */
static int idem_key(const http_request *req, const principal *who, store_key *k) {
    const char *key = http_request_header(req, "Idempotency-Key");
    if (key == NULL || *key == '\0') return 0;
    char token[65];
    if (strlen(key) > IDEM_KEY_MAX || sha256_hex(who->token, strlen(who->token), token) != 0) return -1;
    key_init(k);
    key_str(k, token);
    key_str(k, http_request_method(req));
    key_str(k, http_request_path(req));
    key_str(k, key);
    return k->overflow ? -1 : 1;
}

/* A failed commit fails every batch built before the loop learned of it and
 * moves the store to a new epoch; the mirrors are rebuilt on the first
 * failure of each epoch only (a full map fails thousands of batches at once,
 * and a later rebuild would drop the changes of batches built since). A
 * batch that failed alone, or was dropped before it reached the store,
 * rebuilds them too: from committed data plus the batches still pending. */
void mirrors_repair(server *s, int dropped) {
    uint64_t epoch = store_epoch(s->db);
    if (!dropped && !store_failed_alone(s->db) && epoch == s->mirrors_epoch) return;
    s->mirrors_epoch = epoch;
    as_agents fresh;
    if (agents_read_all(s->db, &fresh) != 0) {
        log_msg(LOG_ERROR, "rebuilding the agents mirror after a lost write failed");
        return;
    }
    agents_free(&s->agents);
    s->agents = fresh;
}

static void on_commit(int status, void *ud) {
    pending_reply *p = ud;
    if (status == 0) webhooks_poke(p->s);
    if (status == 0 && p->text) {
        http_respond(p->req, p->status, "application/json", p->text, strlen(p->text));
    } else if (status == 0) {
        http_respond_json(p->req, p->status, p->body);
    } else {
        json_decref(p->body);
        log_emit(LOG_ERROR, "commit failed",
                 json_pack("{s:s,s:I}", "error", store_strerror(status), "request_id",
                           (json_int_t)http_request_id(p->req)));
        mirrors_repair(p->s, 0);
        reply_store_error(p->req, status);
    }
    free(p->text);
    free(p);
}

/* The request's body as a SHA-256 hex digest: a key reused for a different
 * request is a client bug to report, not a repeat to answer. */
static int request_digest(const http_request *req, char out[65]) {
    size_t len;
    const char *body = http_request_body(req, &len);
    return sha256_hex(body ? body : "", body ? len : 0, out);
}

/* The idempotency record {"status":N,"request":DIGEST,"body":TEXT} of an answer. */
static char *idem_record(const http_request *req, int status, const char *text) {
    char digest[65];
    if (request_digest(req, digest) != 0) return NULL;
    size_t n = strlen(text) + 128;
    char *rec = malloc(n);
    if (rec != NULL)
        snprintf(rec, n, "{\"status\":%d,\"request\":\"%s\",\"body\":%s}", status, digest, text);
    return rec;
}

static void submit_reply(server *s, store_batch *b, http_request *req, const principal *who,
                         pending_reply *p) {
    store_key k;
    if (idem_key(req, who, &k) == 1) {
        char *body = p->text ? p->text : json_dumps(p->body, JSON_COMPACT | JSON_PRESERVE_ORDER);
        char *rec = body ? idem_record(req, p->status, body) : NULL;
        if (rec) store_batch_put(b, DB_IDEM, k.buf, k.len, rec, strlen(rec));
        else store_batch_fail(b, STORE_ENOMEM); /* no record, no change: a retry must not apply it twice */
        free(rec);
        if (body != p->text) free(body);
    }
    seqs_put(b, &s->seqs);
    store_submit(b, on_commit, p);
}

static pending_reply *reply_new(server *s, store_batch *b, http_request *req, int status,
                                json_t *body, char *text) {
    pending_reply *p = malloc(sizeof *p);
    if (p == NULL || (body == NULL && text == NULL)) {
        free(p);
        store_batch_free(b);
        json_decref(body);
        free(text);
        mirrors_repair(s, 1);
        http_respond_error(req, 503, "unavailable", "out of memory", NULL);
        return NULL;
    }
    *p = (pending_reply){s, req, status, body, text};
    return p;
}

void commit_and_reply_text(server *s, store_batch *b, http_request *req, const principal *who,
                           int status, char *text) {
    pending_reply *p = reply_new(s, b, req, status, NULL, text);
    if (p) submit_reply(s, b, req, who, p);
}

/* A replayed answer still waits for durability: the first answer may be in a
 * batch that is not committed yet, so it goes out behind a barrier. */
int idem_replay(server *s, http_request *req, const principal *who) {
    store_key k;
    int has = idem_key(req, who, &k);
    if (has < 0) {
        http_respond_error(req, 400, "invalid_field",
                           "Idempotency-Key is too long to keep with this path (a key of at most 255 bytes)",
                           json_pack("{s:s}", "field", "Idempotency-Key"));
        return 1;
    }
    if (has == 0) return 0;
    char *val = NULL;
    size_t vlen;
    if (store_get_latest(s->db, DB_IDEM, k.buf, k.len, &val, &vlen) != 0) return 0;
    json_t *rec = json_loadb(val, vlen, 0, NULL);
    free(val);
    json_t *body = json_object_get(rec, "body");
    if (rec == NULL || body == NULL) {
        json_decref(rec);
        return 0;
    }
    const char *first = json_string_value(json_object_get(rec, "request"));
    char digest[65];
    if (first && (request_digest(req, digest) != 0 || strcmp(first, digest) != 0)) {
        json_decref(rec);
        http_respond_error(req, 422, "idempotency_key_reused",
                           "this Idempotency-Key was first used with a different request body; "
                           "use a new key for a new request", NULL);
        return 1;
    }
    int status = (int)json_integer_value(json_object_get(rec, "status"));
    json_incref(body);
    json_decref(rec);
    http_response_header(req, "Idempotent-Replay", "true");
    pending_reply *p = malloc(sizeof *p);
    if (p == NULL) {
        json_decref(body);
        http_respond_error(req, 503, "unavailable", "out of memory", NULL);
        return 1;
    }
    *p = (pending_reply){s, req, status, body, NULL};
    store_submit(store_batch_new(s->db), on_commit, p);
    return 1;
}

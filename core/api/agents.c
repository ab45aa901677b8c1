/* api/agents: the people cases are assigned to.
 *
 * Agents live in DB_AGENTS and, for the write path, in the in-memory mirror
 * (server.agents, case/agents.h) so assignment never reads the disk. `load`
 * (open cases assigned) is the server's to keep: an update never overwrites
 * it, and a new agent starts with the cases it was already assigned by hand.
 * POST on an existing agent changes only the fields it names (going offline
 * is {"agent_id", "online": false}). */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "util/jsonw.h"

/* A list of names into *out (NULL and 0 when absent); -1 answered. */
static int parse_names(http_request *req, json_t *in, const char *field, as_id **out, size_t *n, int *given) {
    json_t *v = json_object_get(in, field);
    *given = v != NULL;
    if (v == NULL) return 0;
    if (!json_is_array(v) || json_array_size(v) > AGENT_LIST_MAX) {
        reply_invalid(req, field, "must be an array of at most 64 names");
        return -1;
    }
    size_t i;
    json_t *name;
    json_array_foreach(v, i, name) {
        if (!json_is_string(name) || !as_id_valid(json_string_value(name))) {
            reply_invalid(req, field, "must hold names of A-Z a-z 0-9 . _ : -");
            return -1;
        }
    }
    *out = json_array_size(v) ? malloc(json_array_size(v) * sizeof **out) : NULL;
    *n = 0;
    if (json_array_size(v) && *out == NULL) {
        http_respond_error(req, 503, "unavailable", "out of memory", NULL);
        return -1;
    }
    json_array_foreach(v, i, name) AS_IDSET((*out)[(*n)++], json_string_value(name));
    return 0;
}

void h_agent_put(server *s, http_request *req, const route_params *p, const principal *who) {
    /* load is the server's: a client may send back what it read, it is not taken */
    static const char *const known[] = {"agent_id", "name", "queues", "skills", "capacity", "online", "load", NULL};
    (void)p;
    if (who->role != ROLE_ADMIN) {
        reply_forbidden(req, "only admins manage agents");
        return;
    }
    json_t *in = req_json_body(req);
    if (in == NULL) return;
    const char *id, *name;
    int64_t capacity = 0;
    int has_capacity = 0, has_queues, has_skills;
    as_agent a;
    memset(&a, 0, sizeof a);
    as_id *queues = NULL, *skills = NULL;
    size_t nq = 0, ns = 0;
    if (req_only_known(req, in, known) != 0 || req_id(req, in, "agent_id", 1, &id) != 0 ||
        req_string(req, in, "name", 0, &name) != 0 ||
        parse_names(req, in, "queues", &queues, &nq, &has_queues) != 0 ||
        parse_names(req, in, "skills", &skills, &ns, &has_skills) != 0 ||
        req_int(req, in, "capacity", 0, 0, 100000, &capacity, &has_capacity) != 0)
        goto done;
    if (name && strlen(name) > 256) {
        reply_invalid(req, "name", "is longer than 256 bytes");
        goto done;
    }
    const as_agent *old = agents_find(&s->agents, id);
    if (old ? agent_copy(&a, old) != 0 : 0) {
        http_respond_error(req, 503, "unavailable", "out of memory", NULL);
        goto done;
    }
    if (old == NULL) {
        AS_IDSET(a.agent_id, id);
        a.capacity = 10;
        a.online = 1;
        a.load = agent_open_cases(s->db, id);
    }
    if (req_bool(req, in, "online", &a.online) != 0) goto done;
    if (name && as_strset(&a.name, name) != 0) {
        http_respond_error(req, 503, "unavailable", "out of memory", NULL);
        goto done;
    }
    if (has_queues) {
        free(a.queues);
        a.queues = queues, a.nqueues = nq, queues = NULL;
    }
    if (has_skills) {
        free(a.skills);
        a.skills = skills, a.nskills = ns, skills = NULL;
    }
    if (has_capacity) a.capacity = capacity;
    int status = old ? 200 : 201;
    size_t len;
    char *text = agent_to_json(&a, &len); /* the answer is this request's agent, not the mirror */
    char *stored = text ? strdup(text) : NULL;
    store_key k;
    key_init(&k);
    key_str(&k, id);
    if (stored == NULL || agents_put(&s->agents, &a) != 0) { /* the mirror changes now: the write path sees it */
        free(text);
        free(stored);
        http_respond_error(req, 503, "unavailable", "out of memory", NULL);
        goto done;
    }
    store_batch *b = store_batch_new(s->db);
    store_batch_put(b, DB_AGENTS, k.buf, k.len, stored, len);
    free(stored);
    commit_and_reply_text(s, b, req, who, status, text);
done:
    agent_free(&a);
    free(queues);
    free(skills);
    json_decref(in);
}

void h_agent_list(server *s, http_request *req, const route_params *p, const principal *who) {
    (void)p;
    (void)who;
    /* by agent_id, as the mirror keeps them: the same order before and after a restart */
    textbuf tb = {0};
    jsonw w;
    jsonw_init(&w, &tb);
    emitter *e = jsonw_emitter(&w);
    emit_object(e);
    emit_key(e, "agents");
    emit_array(e);
    for (size_t i = 0; i < s->agents.n; i++) agent_encode(&s->agents.list[i], e);
    emit_array_end(e);
    emit_object_end(e);
    if (tb.failed) http_respond_error(req, 503, "unavailable", "out of memory", NULL);
    else http_respond(req, 200, "application/json", tb.buf, tb.len);
    tb_free(&tb);
}

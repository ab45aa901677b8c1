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

/* Writes the agent (the mirror changes at once: the write path sees it), lets
 * it take from the backlog what its room allows, and answers it as it is
 * then. a's members are moved into the mirror. */
static void agent_store(server *s, http_request *req, const principal *who, as_agent *a, int status) {
    as_id id;
    AS_IDSET(id, a->agent_id);
    size_t len;
    char *stored = agent_to_json(a, &len);
    if (stored == NULL || agents_put(&s->agents, a) != 0) {
        free(stored);
        http_respond_error(req, 503, "unavailable", "out of memory", NULL);
        return;
    }
    store_key k;
    key_init(&k);
    key_str(&k, id);
    store_batch *b = store_batch_new(s->db);
    store_batch_put(b, DB_AGENTS, k.buf, k.len, stored, len);
    free(stored);
    as_decider d;
    live_decider(s, &d, clock_now(&s->clock));
    backlog_fill(s, b, &d, id, 0);
    as_agent *now = agents_find(&s->agents, id);
    commit_and_reply_text(s, b, req, who, status, now ? agent_to_json(now, NULL) : NULL);
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
    agent_store(s, req, who, &a, old ? 200 : 201);
done:
    agent_free(&a);
    free(queues);
    free(skills);
    json_decref(in);
}

void h_agent_list(server *s, http_request *req, const route_params *p, const principal *who) {
    static const char *const none[] = {NULL};
    (void)p;
    (void)who;
    if (req_query_known(req, none) != 0) return;
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

/* POST /v1/agents/{id}/availability {online?, capacity?}: an agent's token
 * changes its own availability and nothing else; an admin any agent's. Going
 * online or more capacity takes from the backlog at once. */
void h_agent_availability(server *s, http_request *req, const route_params *p, const principal *who) {
    static const char *const known[] = {"online", "capacity", NULL};
    if (who->role == ROLE_ADMIN && who->merchant) {
        reply_forbidden(req, "agents are the platform's: an admin bound to a merchant does not change them");
        return;
    }
    const char *id = route_param(p, "id");
    if (who->role == ROLE_AGENT && (who->agent == NULL || strcmp(who->agent, id) != 0)) {
        reply_forbidden(req, "an agent's token changes its own availability only");
        return;
    }
    json_t *in = req_json_body(req);
    if (in == NULL) return;
    int64_t capacity = 0;
    int has_capacity = 0, online = -1;
    as_agent a;
    memset(&a, 0, sizeof a);
    const as_agent *old;
    if (req_only_known(req, in, known) != 0 || req_int(req, in, "capacity", 0, 0, 100000, &capacity, &has_capacity) != 0 ||
        req_bool(req, in, "online", &online) != 0) {
        /* answered */
    } else if (!has_capacity && online < 0) {
        reply_invalid(req, "online", "give online, capacity or both");
    } else if ((old = agents_find(&s->agents, id)) == NULL) {
        reply_not_found(req, "agent");
    } else if (agent_copy(&a, old) != 0) {
        http_respond_error(req, 503, "unavailable", "out of memory", NULL);
    } else {
        if (online >= 0) a.online = online;
        if (has_capacity) a.capacity = capacity;
        agent_store(s, req, who, &a, 200);
    }
    agent_free(&a);
    json_decref(in);
}

/* api/agents: the people cases are assigned to.
 *
 * Agents live in DB_AGENTS and, for the write path, in an in-memory mirror
 * (server.agents) so assignment never reads the disk. `load` (open cases
 * assigned) is the server's to keep: an update never overwrites it, and a new
 * agent starts with the cases it was already assigned by hand. POST on an
 * existing agent changes only the fields it names (going offline is
 * {"agent_id", "online": false}). */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/casework.h"

static int parse_names(http_request *req, json_t *in, const char *field) {
    json_t *v = json_object_get(in, field);
    if (v == NULL) return 0;
    if (!json_is_array(v) || json_array_size(v) > 64) {
        reply_invalid(req, field, "must be an array of names");
        return -1;
    }
    size_t i;
    json_t *name;
    json_array_foreach(v, i, name) {
        if (!json_is_string(name) || !id_valid(json_string_value(name))) {
            reply_invalid(req, field, "must hold names of A-Z a-z 0-9 . _ : -");
            return -1;
        }
    }
    return 0;
}

void h_agent_put(server *s, http_request *req, const route_params *p, const principal *who) {
    (void)p;
    if (who->role != ROLE_ADMIN) {
        reply_forbidden(req, "only admins manage agents");
        return;
    }
    json_t *in = req_json_body(req);
    if (in == NULL) return;
    const char *id, *name;
    int64_t capacity = 0;
    int has_capacity = 0;
    if (req_id(req, in, "agent_id", 1, &id) != 0 || req_string(req, in, "name", 0, &name) != 0 ||
        parse_names(req, in, "queues") != 0 || parse_names(req, in, "skills") != 0 ||
        req_int(req, in, "capacity", 0, 0, 100000, &capacity, &has_capacity) != 0) {
        json_decref(in);
        return;
    }
    json_t *old = json_object_get(s->agents, id);
    int online = old ? json_is_true(json_object_get(old, "online")) : 1;
    if (req_bool(req, in, "online", &online) != 0) {
        json_decref(in);
        return;
    }
    json_t *agent = old ? json_deep_copy(old)
                        : json_pack("{s:s,s:n,s:[],s:[],s:i,s:b,s:I}", "agent_id", id, "name", "queues",
                                    "skills", "capacity", 10, "online", 1, "load",
                                    (json_int_t)agent_open_cases(s, id));
    if (name) json_object_set_new(agent, "name", json_string(name));
    static const char *const lists[] = {"queues", "skills"};
    for (size_t i = 0; i < sizeof lists / sizeof *lists; i++)
        if (json_object_get(in, lists[i])) json_object_set(agent, lists[i], json_object_get(in, lists[i]));
    if (has_capacity) json_object_set_new(agent, "capacity", json_integer(capacity));
    json_object_set_new(agent, "online", json_boolean(online));
    int status = old ? 200 : 201;
    json_object_set(s->agents, id, agent); /* the mirror changes now: the write path sees it */
    store_batch *b = store_batch_new(s->db);
    rec_put(b, DB_AGENTS, id, agent);
    /* the answer is this request's agent, not the mirror a later request may change */
    commit_and_reply(s, b, req, who, status, json_deep_copy(agent));
    json_decref(agent);
    json_decref(in);
}

static int compare_ids(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void h_agent_list(server *s, http_request *req, const route_params *p, const principal *who) {
    (void)p;
    (void)who;
    /* by agent_id, as the store keeps them: the same order before and after a restart */
    size_t n = json_object_size(s->agents), i = 0;
    const char **ids = malloc((n ? n : 1) * sizeof *ids);
    if (ids == NULL) {
        http_respond_error(req, 503, "unavailable", "out of memory", NULL);
        return;
    }
    const char *id;
    json_t *agent;
    json_object_foreach(s->agents, id, agent) ids[i++] = id;
    qsort(ids, n, sizeof *ids, compare_ids);
    json_t *list = json_array();
    for (i = 0; i < n; i++) json_array_append(list, json_object_get(s->agents, ids[i]));
    free(ids);
    http_respond_json(req, 200, json_pack("{s:o}", "agents", list));
}

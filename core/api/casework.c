/* api/casework: shared steps of the case write path (see casework.h). */
#include <stdlib.h>
#include <string.h>

#include "api/casework.h"
#include "api/timers.h"

int case_status_active(const char *status) {
    return status && (!strcmp(status, "open") || !strcmp(status, "awaiting_customer") ||
                      !strcmp(status, "in_progress"));
}

static int array_has(const json_t *arr, const char *s) {
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        const char *x = json_string_value(v);
        if (x && strcmp(x, s) == 0) return 1;
    }
    return 0;
}

static int agent_fits(const json_t *agent, const char *queue, const json_t *skills) {
    if (!json_is_true(json_object_get(agent, "online"))) return 0;
    if (!array_has(json_object_get(agent, "queues"), queue)) return 0;
    if (json_integer_value(json_object_get(agent, "load")) >=
        json_integer_value(json_object_get(agent, "capacity")))
        return 0;
    size_t i;
    json_t *sk;
    json_array_foreach(skills, i, sk) {
        const char *name = json_string_value(sk);
        if (name && !array_has(json_object_get(agent, "skills"), name)) return 0;
    }
    return 1;
}

int assignee_serves(server *s, const json_t *kase) {
    const char *id = json_string_value(json_object_get(kase, "assignee"));
    const json_t *agent = id ? json_object_get(s->agents, id) : NULL;
    /* nobody, or an agent a token names: not ours to judge; the queue is not
     * asked either, since a hand assignment may cross queues on purpose */
    return agent == NULL || json_is_true(json_object_get(agent, "online"));
}

const char *pick_agent(server *s, const json_t *kase) {
    const char *queue = json_string_value(json_object_get(kase, "queue"));
    const json_t *skills = json_object_get(kase, "skills");
    if (queue == NULL) return NULL;
    const char *best = NULL;
    json_int_t best_load = 0;
    const char *id;
    json_t *agent;
    json_object_foreach(s->agents, id, agent) {
        if (!agent_fits(agent, queue, skills)) continue;
        json_int_t load = json_integer_value(json_object_get(agent, "load"));
        if (best == NULL || load < best_load || (load == best_load && strcmp(id, best) < 0)) {
            best = id;
            best_load = load;
        }
    }
    return best;
}

void case_reassign(server *s, json_t *kase, const char *queue, const char *by, json_t *notes) {
    if (queue) json_object_set_new(kase, "queue", json_string(queue));
    const char *was = json_string_value(json_object_get(kase, "assignee"));
    const char *agent = pick_agent(s, kase);
    if ((was == NULL && agent == NULL) || (was && agent && strcmp(was, agent) == 0)) return;
    json_array_append_new(notes, json_pack("{s:s,s:{s:s?,s:s?,s:s}}", "type", "assignment", "data",
                                           "agent_id", agent, "from", was, "by", by));
    /* last: `was` points into the value this replaces */
    json_object_set_new(kase, "assignee", agent ? json_string(agent) : json_null());
}

/* The agent a case counts for, or NULL if it counts for nobody. */
static const char *load_holder(const json_t *kase) {
    if (kase == NULL) return NULL;
    if (!case_status_active(json_string_value(json_object_get(kase, "status")))) return NULL;
    return json_string_value(json_object_get(kase, "assignee"));
}

static void agent_add_load(server *s, store_batch *b, const char *agent_id, int delta) {
    json_t *agent = json_object_get(s->agents, agent_id);
    if (agent == NULL) return;
    json_int_t load = json_integer_value(json_object_get(agent, "load")) + delta;
    if (json_object_set_new(agent, "load", json_integer(load < 0 ? 0 : load)) != 0) {
        batch_poison(b); /* the load could not change: neither may the case */
        return;
    }
    rec_put(b, DB_AGENTS, agent_id, agent);
}

void agents_track_load(server *s, store_batch *b, const json_t *before, const json_t *after) {
    const char *was = load_holder(before), *now = load_holder(after);
    if (was && now && strcmp(was, now) == 0) return;
    if (was) agent_add_load(s, b, was, -1);
    if (now) agent_add_load(s, b, now, +1);
}

void timeline_notes(server *s, store_batch *b, const char *case_id, const principal *who,
                    json_t *notes) {
    size_t i;
    json_t *n;
    json_array_foreach(notes, i, n) {
        json_t *data = json_object_get(n, "data");
        json_incref(data);
        timeline_append(s, b, case_id, json_string_value(json_object_get(n, "type")), who, data);
    }
}

char *case_save(server *s, store_batch *b, const json_t *before, json_t *after) {
    const char *id = json_string_value(json_object_get(after, "case_id"));
    char *text = rec_put_text(b, DB_CASES, id, after);
    case_index_update(b, before, after);
    if (before == NULL) buyer_activity_add(b, after);
    timers_update(b, before, after);
    agents_track_load(s, b, before, after);
    return text;
}

json_t *case_load_for(server *s, http_request *req, const principal *who, const char *case_id,
                      int latest) {
    json_t *kase = rec_load(s, DB_CASES, case_id, latest);
    if (kase == NULL ||
        !principal_sees_merchant(who, json_string_value(json_object_get(kase, "merchant_id")))) {
        json_decref(kase);
        reply_not_found(req, "case");
        return NULL;
    }
    return kase;
}

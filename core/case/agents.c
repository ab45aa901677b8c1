/* case/agents: the agent directory (see agents.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "case/agents.h"
#include "util/jsonw.h"

void agents_init(as_agents *d) { memset(d, 0, sizeof *d); }

void agent_free(as_agent *a) {
    free(a->name);
    free(a->queues);
    free(a->skills);
    memset(a, 0, sizeof *a);
}

void agents_free(as_agents *d) {
    for (size_t i = 0; i < d->n; i++) agent_free(&d->list[i]);
    free(d->list);
    agents_init(d);
}

static as_id *copy_ids(const as_id *ids, size_t n, int *failed) {
    if (n == 0) return NULL;
    as_id *out = malloc(n * sizeof *out);
    if (out == NULL) *failed = 1;
    else memcpy(out, ids, n * sizeof *out);
    return out;
}

int agent_copy(as_agent *dst, const as_agent *src) {
    int failed = 0;
    *dst = *src;
    dst->name = src->name ? strdup(src->name) : NULL;
    if (src->name && dst->name == NULL) failed = 1;
    dst->queues = copy_ids(src->queues, src->nqueues, &failed);
    dst->skills = copy_ids(src->skills, src->nskills, &failed);
    if (failed) {
        free(dst->name);
        free(dst->queues);
        free(dst->skills);
        memset(dst, 0, sizeof *dst);
        return -1;
    }
    return 0;
}

/* Index of the first agent whose id is >= id. */
static size_t lower_bound(const as_agents *d, const char *id) {
    size_t lo = 0, hi = d->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strcmp(d->list[mid].agent_id, id) < 0) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

as_agent *agents_find(const as_agents *d, const char *agent_id) {
    if (agent_id == NULL || agent_id[0] == '\0') return NULL;
    size_t i = lower_bound(d, agent_id);
    return i < d->n && strcmp(d->list[i].agent_id, agent_id) == 0 ? &d->list[i] : NULL;
}

int agents_put(as_agents *d, as_agent *a) {
    size_t i = lower_bound(d, a->agent_id);
    if (i < d->n && strcmp(d->list[i].agent_id, a->agent_id) == 0) {
        agent_free(&d->list[i]);
        d->list[i] = *a;
        memset(a, 0, sizeof *a);
        return 0;
    }
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 16;
        as_agent *grown = realloc(d->list, cap * sizeof *grown);
        if (grown == NULL) return -1;
        d->list = grown;
        d->cap = cap;
    }
    memmove(&d->list[i + 1], &d->list[i], (d->n - i) * sizeof *d->list);
    d->list[i] = *a;
    d->n++;
    memset(a, 0, sizeof *a);
    return 0;
}

static int has_id(const as_id *ids, size_t n, const char *id) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(ids[i], id) == 0) return 1;
    return 0;
}

int agent_serves(const as_agent *a, const char *queue) { return has_id(a->queues, a->nqueues, queue); }

static int agent_fits(const as_agent *a, const char *queue, const as_id *skills, size_t nskills) {
    if (!a->online || a->load >= a->capacity || !agent_serves(a, queue)) return 0;
    for (size_t i = 0; i < nskills; i++)
        if (!has_id(a->skills, a->nskills, skills[i])) return 0;
    return 1;
}

const as_agent *agents_pick(const as_agents *d, const char *queue, const as_id *skills, size_t nskills,
                            agent_filter ok, void *ud) {
    if (d == NULL || queue == NULL || queue[0] == '\0') return NULL;
    const as_agent *best = NULL;
    for (size_t i = 0; i < d->n; i++) { /* in id order: the first of equal loads wins */
        const as_agent *a = &d->list[i];
        if (agent_fits(a, queue, skills, nskills) && (best == NULL || a->load < best->load) &&
            (ok == NULL || ok(ud, a)))
            best = a;
    }
    return best;
}

void agent_encode(const as_agent *a, emitter *e) {
    emit_object(e);
    emit_kstr(e, "agent_id", a->agent_id);
    emit_kstr(e, "name", a->name);
    emit_key(e, "queues");
    emit_array(e);
    for (size_t i = 0; i < a->nqueues; i++) emit_str(e, a->queues[i]);
    emit_array_end(e);
    emit_key(e, "skills");
    emit_array(e);
    for (size_t i = 0; i < a->nskills; i++) emit_str(e, a->skills[i]);
    emit_array_end(e);
    emit_kint(e, "capacity", a->capacity);
    emit_kbool(e, "online", a->online);
    emit_kint(e, "load", a->load);
    emit_object_end(e);
}

char *agent_to_json(const as_agent *a, size_t *len) {
    textbuf tb = {0};
    jsonw w;
    jsonw_init(&w, &tb);
    agent_encode(a, jsonw_emitter(&w));
    return tb_take(&tb, len);
}

static int ids_from(const json_t *arr, as_id **out, size_t *n) {
    *out = NULL;
    *n = 0;
    size_t count = json_array_size(arr);
    if (count == 0) return 0;
    if ((*out = malloc(count * sizeof **out)) == NULL) return -1;
    for (size_t i = 0; i < count; i++) {
        const char *s = json_string_value(json_array_get(arr, i));
        if (s) as_idset((*out)[(*n)++], sizeof(as_id), s);
    }
    return 0;
}

int agent_from_json(as_agent *a, const char *text, size_t len, char *err, size_t errlen) {
    memset(a, 0, sizeof *a);
    json_t *doc = json_loadb(text, len, 0, NULL);
    const char *id = json_string_value(json_object_get(doc, "agent_id"));
    if (id == NULL) {
        json_decref(doc);
        snprintf(err, errlen, "a stored agent without agent_id");
        return -1;
    }
    as_idset(a->agent_id, sizeof a->agent_id, id);
    const char *name = json_string_value(json_object_get(doc, "name"));
    int failed = (name && (a->name = strdup(name)) == NULL) ||
                 ids_from(json_object_get(doc, "queues"), &a->queues, &a->nqueues) != 0 ||
                 ids_from(json_object_get(doc, "skills"), &a->skills, &a->nskills) != 0;
    a->capacity = json_integer_value(json_object_get(doc, "capacity"));
    a->online = json_is_true(json_object_get(doc, "online"));
    a->load = json_integer_value(json_object_get(doc, "load"));
    json_decref(doc);
    if (failed) {
        agent_free(a);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* case/agents: the people cases are assigned to, and how one is picked.
 *
 * The directory is the in-memory mirror of the stored agents (kept by the
 * server so assignment never reads the disk): sorted by agent_id. `load` is
 * the number of active cases assigned to the agent; the commit of a change
 * set keeps it exact from the case before and after. */
#ifndef AS_CASE_AGENTS_H
#define AS_CASE_AGENTS_H

#include <jansson.h>

#include "case/model.h"

#define AGENT_LIST_MAX 64 /* queues or skills of one agent */

typedef struct {
    as_id agent_id;
    char *name;
    as_id *queues;
    size_t nqueues;
    as_id *skills;
    size_t nskills;
    int64_t capacity;
    int online;
    int64_t load;
} as_agent;

typedef struct as_agents {
    as_agent *list; /* sorted by agent_id */
    size_t n, cap;
} as_agents;

void agents_init(as_agents *d);
void agents_free(as_agents *d);
as_agent *agents_find(const as_agents *d, const char *agent_id);
/* Inserts or replaces (by agent_id; a's members are moved in). -1 when out of memory. */
int agents_put(as_agents *d, as_agent *a);
void agent_free(as_agent *a);
int agent_copy(as_agent *dst, const as_agent *src);

/* May this agent work the case being assigned? (e.g. not when every token
 * naming it is bound to another merchant) */
typedef int (*agent_filter)(void *ud, const as_agent *a);

/* The least-loaded online agent of the queue who has every skill and free
 * capacity, and whom ok (if not NULL) accepts (ties: lowest agent_id); NULL
 * if none. */
const as_agent *agents_pick(const as_agents *d, const char *queue, const as_id *skills, size_t nskills,
                            agent_filter ok, void *ud);
/* 1 if agent serves the queue (lists it). */
int agent_serves(const as_agent *a, const char *queue);

void agent_encode(const as_agent *a, emitter *e);
char *agent_to_json(const as_agent *a, size_t *len);
/* A stored agent into a blank a: 0 or -1 with err. */
int agent_from_json(as_agent *a, const char *text, size_t len, char *err, size_t errlen);

#endif

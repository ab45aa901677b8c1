/* api/casework.h: what creating a case and acting on one share (casework.c):
 * agent assignment, agent load bookkeeping, and saving a case with its
 * indexes, timeline notes and feed event in one batch. */
#ifndef AS_API_CASEWORK_H
#define AS_API_CASEWORK_H

#include <jansson.h>

#include "api/api.h"

/* 1 if the status still needs work (counts toward an agent's load). */
int case_status_active(const char *status);
/* Picks the least-loaded online agent of the case's queue who has its skills
 * and free capacity (ties: lowest agent_id). NULL if none. */
const char *pick_agent(server *s, const json_t *kase);
/* 0 if the case's assignee is a registered agent who is offline (escalation
 * then routes it again); 1 otherwise. */
int assignee_serves(server *s, const json_t *kase);
/* Re-routing: moves the case to queue (NULL: keeps its queue) and gives it to
 * the agent pick_agent chooses there, or to nobody; a change of assignee goes
 * on the timeline as an "assignment" note {agent_id, from, by}. */
void case_reassign(server *s, json_t *kase, const char *queue, const char *by, json_t *notes);
/* Keeps agents' load exact: compares who held the case (and whether it was
 * active) before and after, updates the in-memory mirror and persists the
 * agents that changed. before may be NULL (new case). */
void agents_track_load(server *s, store_batch *b, const json_t *before, const json_t *after);
/* Appends each {type, data} of notes to the case's timeline. */
void timeline_notes(server *s, store_batch *b, const char *case_id, const principal *who,
                    json_t *notes);
/* Puts the case, updates its indexes and agent loads against `before`.
 * Answers the stored text (an answer can reuse it; the caller frees it), or
 * NULL if serialising failed, which poisons the batch. */
char *case_save(server *s, store_batch *b, const json_t *before, json_t *after);
/* The case as loaded for an update (pending writes included) if the caller
 * may see it; answers 404 and returns NULL otherwise. */
json_t *case_load_for(server *s, http_request *req, const principal *who, const char *case_id,
                      int latest);

/* A case the server opens by itself (channel "system"): the follow-up
 * (回访) a low survey score asks for, the logistics case of a stalled parcel. */
typedef struct {
    int type; /* case_type */
    const char *order_id, *buyer_id, *merchant_id, *sku, *reason, *description;
    const char *queue;          /* NULL: routing decides */
    const char *parent_case_id; /* NULL: none */
    int followup;
    json_t *order; /* the order as the caller holds it (changed and saved with the
                      case id), or NULL to load it */
} case_seed;

/* Opens it into b; returns it (new reference) or NULL when out of memory.
 * (cases.c) */
json_t *case_open_system(server *s, store_batch *b, const case_seed *seed);

#endif

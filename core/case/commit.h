/* case/commit: a change set into the store, in one batch.
 *
 * The one place a domain operation's result becomes writes: the case and its
 * indexes, its timers, its agent's load, its KPI aggregates, its timeline entries, the feed
 * events, alerts, the claims ledger, the order with its stall watch and the
 * buyer's profile, complaint windows, and every case the change opened by
 * itself. Indexes, timers and loads are derived from the case before and
 * after, so they can never disagree with it. */
#ifndef AS_CASE_COMMIT_H
#define AS_CASE_COMMIT_H

#include "case/agents.h"
#include "case/domain.h"
#include "store/store.h"

/* The sequences the server hands out (persisted with every batch). */
typedef struct {
    uint64_t next_case, next_timeline, next_event;
} as_seqs;

typedef struct {
    store *db;
    as_seqs *seqs;
    as_agents *agents;     /* the mirror: loads change at once, the agents are written */
    const as_decider *d;   /* for an order's stall watch (risk.rules) */
    int64_t kpi_offset;    /* the KPI aggregates' day zone (case/kpi.h) */
} commit_ctx;

/* Writes ch (and what it spawned) into b. Returns the stored text of ch's
 * case (malloc'd, for the answer), or NULL if ch has no case or a value
 * could not be built (the batch is then failed). */
char *changes_commit(const commit_ctx *cc, store_batch *b, const as_changes *ch, size_t *len);

/* The sequences: read at start, written with every batch. */
int seqs_load(store *db, as_seqs *out);
void seqs_put(store_batch *b, const as_seqs *seqs);

#endif

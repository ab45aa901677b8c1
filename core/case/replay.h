/* case/replay: a stored case's opening decided again by another policy set.
 *
 * Replay and backtests ask "what would this set have decided for the cases
 * we had?". Each case is opened again (case_open, the operation POST
 * /v1/cases runs) as of its created_at, on the case as stored and its order
 * as stored now, with ctx.customer counting only the buyer's cases opened
 * before it; nothing is assigned, no complaint spike is reached, nothing is
 * stored. Every read goes through a store_read the caller owns, so a job can
 * run this on its own thread with its own read transaction and its own
 * policy set (a policy_set is never shared between threads).
 *
 * What each module decided at the opening is summed up in a replay_view:
 * eligibility (returns.evaluate: outcome, reason_code), refund (the cents
 * approved at once), compensation (the goodwill coupon), routing (queue and
 * priority), SLA (the first-response and resolution targets, in seconds
 * after creation). Labels name a module's result for counting transitions
 * (before → after) in a summary. */
#ifndef AS_CASE_REPLAY_H
#define AS_CASE_REPLAY_H

#include "case/domain.h"
#include "store/store.h"
#include "util/emit.h"

typedef enum { RM_ELIGIBILITY, RM_REFUND, RM_COMPENSATION, RM_ROUTING, RM_SLA, RM__COUNT } replay_module;
const char *replay_module_name(replay_module m);

typedef struct {
    as_outcome outcome;   /* OUT_NONE: the type is not decided */
    char reason_code[64];
    int64_t refund_cents; /* approved at the opening; 0: none */
    int64_t coupon_cents; /* 0: none */
    as_id queue;
    int64_t priority;
    int64_t first_response_s, resolution_s; /* -1: no target */
} replay_view;

/* 1 if the case's opening is the policies' to replay: a decided type, and
 * not a case the core itself refused (already_claimed). */
int replay_eligible(const as_case *c);

/* Opens c again with ps as of its creation (see above). 0 and ch (the
 * caller frees it), or -1 with err. */
int replay_open(store_read *rd, policy_set *ps, const as_case *c, as_changes *ch, as_error *err);

void replay_view_of(const as_case *opened, replay_view *out);
/* The module's result as a short label: eligibility "approve"/"reject"/
 * "review"/"none", refund and compensation "none"/"approved"/"coupon",
 * routing "QUEUE/pN", sla "FRs/RESs" ("-" for no target). */
void replay_label(const replay_view *v, replay_module m, char *buf, size_t len);
/* 1 if the module decided differently (eligibility: outcome or reason_code;
 * refund, compensation: the amount; routing: queue or priority; sla: either
 * target). */
int replay_differs(const replay_view *a, const replay_view *b, replay_module m);
/* {eligibility: {outcome, reason_code}, refund_cents, coupon_cents,
 *  routing: {queue, priority}, sla: {first_response_s, resolution_s}} */
void replay_view_encode(const replay_view *v, emitter *e);

#endif

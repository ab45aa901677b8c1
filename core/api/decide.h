/* api/decide.h: the policy questions the case handlers ask (decide.c).
 * Each appends its timeline notes ({type, data}) to `notes`. */
#ifndef AS_API_DECIDE_H
#define AS_API_DECIDE_H

#include <jansson.h>
#include <stdint.h>

#include "api/api.h"

const json_t *order_item(const json_t *order, const char *sku);
/* The result (new reference) or NULL after noting a policy.error. */
json_t *decide_call(server *s, const char *merchant, const char *module, const char *fn,
                    json_t *const *args, int nargs, json_t *notes);
/* The case's decision record; "review" with reason_code policy_error if the
 * policy failed. */
json_t *decide_eligibility(server *s, const json_t *kase, const json_t *order, json_t *notes);
/* compensation.refund's amount; -1 if the policy failed. */
int decide_refund(server *s, const json_t *kase, const json_t *order, json_t *notes,
                  int64_t *amount);
/* Sets queue, priority and skills (the spec's default queue if routing fails). */
void decide_route(server *s, json_t *kase, const json_t *order, json_t *notes);
/* Sets sla.first_response_due / resolution_due. */
void decide_sla(server *s, json_t *kase, const json_t *order, json_t *notes);
/* Sets compensation when the policy grants a goodwill coupon. */
void decide_compensation(server *s, json_t *kase, const json_t *order, json_t *notes);

/* Plans the satisfaction survey of a case being resolved (survey.due_at). */
void decide_survey(server *s, json_t *kase, json_t *notes);

#endif

/* api/alerts.h: risk warnings and stalled-parcel watching (alerts.c). */
#ifndef AS_API_ALERTS_H
#define AS_API_ALERTS_H

#include <jansson.h>

#include "api/api.h"

/* Stores an alert about `about` (a case or an order: merchant_id, case_id,
 * order_id, sku are taken from it) and its alert.raised event. data stolen. */
void alert_raise(server *s, store_batch *b, const char *kind, const json_t *about, const char *message,
                 json_t *data);
/* Complaint spikes: call for every new case. */
void alerts_on_case_created(server *s, store_batch *b, const json_t *kase);
/* Keeps an order's stall timer in step with its tracking (before may be NULL). */
void alerts_watch_order(server *s, store_batch *b, const json_t *before, const json_t *after);
/* The stall timer of order_id fired. */
void alerts_fire_stall(server *s, store_batch *b, const char *order_id);

#endif

/* case/indexes: the indexes an agent's desk reads, derived from cases and
 * orders by the commit (case/commit.c) like the 'c' indexes, so they never
 * disagree with what they index.
 *
 *   'w' | 'd' | scope | value | due | case_seq                 the work list by due
 *   'w' | 'p' | scope | value | priority(u8) | due | case_seq  ... by priority, then due
 *        active cases only (open, awaiting_customer, in_progress); due is the
 *        SLA due the case works toward (case_sla_next_due; none sorts last);
 *        scopes: "all" "", "queue" Q, "assignee" A ("" = unassigned),
 *        "merchant_id" M, and for 'p' "backlog" Q: the unassigned cases of
 *        queue Q (backlog assignment reads it). Value: created_at be64 | type.
 *   'h' | kind | sha256 | buyer_id | order_id                 a buyer's phone, email,
 *        address (kind "phone", "email", "address"), from each order
 *   'h' | "tracking" | sha256 | order_id | case_id            a tracking number of
 *        the order's parcel (case_id "") or of a case's shipment
 *   's' | answered_at | kind | id                   a survey answer: kind "case" (id
 *        the case_id) or "relationship" (id "buyer/merchant"); value
 *        {kind, answered_at, case_id, buyer_id, merchant_id, channel, csat,
 *        nps}: the answers the KPI report counts by time and by channel.
 *        Written when an answer is given, never rewritten.
 * Contact values are normalised (contact_hash) and only their SHA-256 is a
 * key: no phone, email, address or tracking number is ever stored in clear
 * in an index. */
#ifndef AS_CASE_INDEXES_H
#define AS_CASE_INDEXES_H

#include "case/model.h"
#include "store/keys.h"
#include "store/store.h"

#define IDX_WORK 'w'
#define IDX_CONTACT 'h'
#define IDX_ANSWERS 's'

typedef enum { WORK_BY_DUE = 'd', WORK_BY_PRIORITY = 'p' } work_order;

/* The due the case works toward: the first response until an agent replied,
 * then the resolution (the earlier of the two while both run); AS_NONE for
 * a case that is not active or has no target. */
int64_t case_sla_next_due(const as_case *c);
/* 1 if the case waits in its queue's backlog: active, routed, unassigned. */
int case_in_backlog(const as_case *c);

/* 'w' | order | scope | value: the prefix of one work list. */
void work_prefix(store_key *k, work_order order, const char *scope, const char *value);
/* The due of a work-list key (the 8 bytes before its seq), as stored:
 * UINT64_MAX for none. */
uint64_t work_key_due(const unsigned char *key, size_t klen);
/* The priority of a 'p' work-list key. */
int work_key_priority(const unsigned char *key, size_t klen);

/* The normalised value of a contact (kind "phone": its digits; "email":
 * trimmed and lower-cased; "address": trimmed, blanks collapsed, ASCII
 * lower-cased; "tracking": upper-cased without blanks and dashes) hashed
 * with its kind: 64 hex digits. -1 for an empty value, an unknown kind or
 * a hash failure. */
int contact_hash(const char *kind, const char *value, char out[65]);
/* 'h' | kind | hash: the prefix of a contact's entries. */
void contact_prefix(store_key *k, const char *kind, const char *hash);

/* The derived writes of a change: before NULL for a new record, after NULL
 * for none (the migration passes before NULL to rebuild). */
void work_index_update(store_batch *b, const as_case *before, const as_case *after);
void case_contacts_update(store_batch *b, const as_case *before, const as_case *after);
void order_contacts_update(store_batch *b, const as_order *before, const as_order *after);
/* 's': the answers index's prefix, and its entries for a change. */
void answers_prefix(store_key *k);
void answers_index_case(store_batch *b, const as_case *before, const as_case *after);
void answers_index_nps(store_batch *b, const as_nps *before, const as_nps *after);
/* Every index of this header (and the survey answers') a stored case has,
 * put again: the schema-3 migration. */
void case_derived_rebuild(store_batch *b, const as_case *c);

#endif

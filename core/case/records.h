/* case/records: how the domain's data lives in the store, and how the
 * operations' reads find it.
 *
 * Documents: cases (DB_CASES, case_id -> case JSON), orders (DB_ORDERS),
 * agents (DB_AGENTS). The timeline (DB_TIMELINE, case_id | seq) and the feed
 * (DB_EVENTS, seq). Everything else is a typed prefix in DB_INDEX:
 *   'c' | field | value | case_seq   case indexes (value: created_at be64 | type);
 *                                   field "all" with value "" lists every case
 *   'd' | buyer | created_at         a buyer's case counts in that second
 *                                   (cases be32, returns be32): ctx.customer
 *   'p' | merchant | buyer           what that merchant asserted of the buyer
 *                                   (tier, lifetime spend)
 *   'l' | order_id                   the order's claims ledger (case/claims.h)
 *   'k' | scope | merchant | sku?    recent complaint times (spike alerts)
 *   'a' | alert_id                   alerts, newest last
 *   'r' | scope | a | b              a risk window (as_window, case/risk.c): entries
 *                                   of created_at be64 | tag NUL, oldest first
 *   'n' | buyer | merchant           the buyer's relationship survey with that
 *                                   merchant ("" the platform): as_nps JSON; its
 *                                   timer is due | "nps" | "buyer/merchant"
 *   'P' | buyer | merchant           present while that survey is planned (not
 *                                   sent, not answered): every order and case
 *                                   asks, and need not decode the survey
 *   'w', 'h', 's'                    work lists, hashed contacts, survey answers
 *                                   (case/indexes.h)
 * Keys are built here and in case/indexes.c, nowhere else. */
#ifndef AS_CASE_RECORDS_H
#define AS_CASE_RECORDS_H

#include "case/agents.h"
#include "case/claims.h"
#include "case/domain.h"
#include "case/model.h"
#include "store/keys.h"
#include "store/store.h"

#define IDX_CASE 'c'
#define IDX_ACTIVITY 'd'
#define IDX_PROFILE 'p'
#define IDX_LEDGER 'l'
#define IDX_COMPLAINTS 'k'
#define IDX_ALERT 'a'
#define IDX_RISK 'r'
#define IDX_NPS 'n'
#define IDX_NPS_PLANNED 'P'

#define CUSTOMER_WINDOW (30 * 86400)

/* Loads (latest: pending writes included, else durable data only). 0,
 * STORE_ENOTFOUND, or another store error; a stored value that does not
 * decode is STORE_EIO (logged). */
int case_load(store *db, const char *case_id, int latest, as_case *out);
int order_load(store *db, const char *order_id, int latest, as_order *out);
/* The order's ledger, pending writes included; an empty ledger if none. */
int ledger_load(store *db, const char *order_id, as_ledger *out);
/* The case as batch b would leave it: b's own writes first, then the
 * pending batches', then committed data. */
int case_load_in(store_batch *b, const char *case_id, as_case *out);
/* The order as of the read transaction. */
int order_read(store_read *rd, const char *order_id, as_order *out);
/* The case with that number as of the read transaction. */
int case_read_seq(store_read *rd, uint64_t seq, as_case *out);

/* 'c' | field | value: the prefix of the cases with that value of field. */
void case_index_prefix(store_key *k, const char *field, const char *value);
/* The value a case has for an index field, or NULL (not indexed there). */
const char *case_index_value(const as_case *c, const char *field);
extern const char *const CASE_INDEX_FIELDS[];
#define CASE_INDEX_NFIELDS 9
/* 1 if the order has a case (committed). */
int order_has_cases(store *db, const char *order_id);

/* Reads for the live server (as_reads callbacks use them). */
int customer_read(store *db, const char *merchant_id, const char *buyer_id, int64_t now, uint64_t before_seq,
                  as_customer *out);
/* customer_read within a read of the caller's (any thread's: a job's). */
int customer_read_in(store_read *rd, const char *merchant_id, const char *buyer_id, int64_t now, uint64_t before_seq,
                     as_customer *out);
int64_t complaints_count(store *db, const char *merchant_id, const char *sku, int64_t since);
/* The key of a merchant's (sku NULL) or a sku's recent complaint times. */
void complaints_key(store_key *k, const char *merchant_id, const char *sku);
/* A risk window's entries after `since` (pending writes included). */
int risk_window_read(store *db, const char *scope, const char *a, const char *b, int64_t since, const char *tag,
                     as_window_count *out);
/* Adds the change's entry to its window in b, dropping those older than its
 * span (and the oldest past a bound). */
void risk_window_add(store_batch *b, const as_window *w);
/* The buyer's relationship survey with merchant ("" platform): as b would
 * leave it (b NULL: pending writes and committed data). */
int nps_load(store *db, store_batch *b, const char *buyer_id, const char *merchant_id, as_nps *out);
/* 1 when the buyer's survey with that merchant is known planned (b's writes
 * and the pending batches' included), without decoding it; 0 when it is not
 * or the store cannot say (a survey stored before the marker): load it. */
int nps_known_planned(store_batch *b, const char *buyer_id, const char *merchant_id);
void nps_key(store_key *k, const char *buyer_id, const char *merchant_id);
/* Writes the survey, its timer (from before and after) and, when a round is
 * answered, its survey-answers entry. */
void nps_store(store_batch *b, const as_nps *before, const as_nps *after);
/* The buyer and merchant of an "nps" timer's id ("buyer/merchant"). */
int nps_timer_id(const char *id, as_id buyer, as_id merchant);
/* Cases assigned to agent_id that are still active (committed data). */
int64_t agent_open_cases(store *db, const char *agent_id);
/* Every stored agent, with the pending batches' changes. */
int agents_read_all(store *db, as_agents *out);

#endif

/* case/migrate: bringing a data directory written by an earlier build up to
 * the layout this build reads (DB_META "schema").
 *
 * Schema 1 (the builds before the domain layer) had no claims ledgers and one
 * platform-wide buyer profile per buyer. Schema 2 adds, from what schema 1
 * stored: the claims ledger of every order with claims (each case's share as
 * its stored state says: active claims hold their quantity and approved
 * money, refunded ones keep what they were paid) and per-merchant buyer
 * profiles (each order's buyer details, the old profile as the platform's).
 * Cases, orders, timelines and the feed need no rewrite: the decoders read
 * what schema 1 stored. Schema 3 adds the indexes of case/indexes.h (the
 * work lists with the backlog, hashed contacts and tracking numbers) and the
 * survey answers index, derived from every stored case and order. The work is done in bounded batches before the server
 * listens, and is idempotent: a crash midway runs it again from the start. */
#ifndef AS_CASE_MIGRATE_H
#define AS_CASE_MIGRATE_H

#include <stdint.h>
#include <uv.h>

#include "store/store.h"

/* Schema 4 stores cases packed (store/pack.h): nothing is rewritten (plain
 * values read as before), but a build that reads up to schema 3 would serve
 * packed bytes as a case, so from this build on a start refuses a directory
 * of a newer schema than its own instead of misreading it. */
#define AS_SCHEMA 4

typedef struct {
    int from, to;
    uint64_t orders, cases, ledgers; /* records read / ledgers written */
    int64_t ms;
} migrate_report;

/* A directory of a newer schema than AS_SCHEMA is refused: STORE_EINVAL,
 * with report->from the schema it holds. */
/* Runs every step from the stored schema to AS_SCHEMA, driving loop until
 * each batch is durable. 0, or a negative store error (nothing later than the
 * failed batch was written; the next start runs it again). */
int store_migrate(store *db, migrate_report *report);

#endif

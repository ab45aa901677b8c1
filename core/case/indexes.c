/* case/indexes: the work list and contact indexes (see indexes.h).
 *
 * Each update computes the keys the record had before and has after, deletes
 * the ones it lost and puts the ones it gained: the same diff the commit
 * makes for the 'c' indexes and the timers. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "case/indexes.h"
#include "util/digest.h"
#include "util/jsonw.h"

/* ---- derived values ---- */

int64_t case_sla_next_due(const as_case *c) {
    if (c == NULL || !case_status_active(c->status)) return AS_NONE;
    int64_t due = AS_NONE;
    if (c->sla.first_response_due != AS_NONE && c->first_response_at == AS_NONE) due = c->sla.first_response_due;
    if (c->sla.resolution_due != AS_NONE && (due == AS_NONE || c->sla.resolution_due < due))
        due = c->sla.resolution_due;
    return due;
}

int case_in_backlog(const as_case *c) {
    return c && case_status_active(c->status) && c->queue[0] && !c->assignee[0];
}

/* ---- key sets ---- */

typedef struct {
    store_key *k;
    size_t n, cap;
    int failed;
} keyset;

static store_key *ks_add(keyset *ks) {
    if (ks->n == ks->cap) {
        size_t cap = ks->cap ? ks->cap * 2 : 16;
        store_key *grown = realloc(ks->k, cap * sizeof *grown);
        if (grown == NULL) {
            ks->failed = 1;
            return NULL;
        }
        ks->k = grown;
        ks->cap = cap;
    }
    store_key *k = &ks->k[ks->n++];
    key_init(k);
    return k;
}

static int ks_has(const keyset *ks, const store_key *k) {
    for (size_t i = 0; i < ks->n; i++)
        if (ks->k[i].len == k->len && memcmp(ks->k[i].buf, k->buf, k->len) == 0) return 1;
    return 0;
}

/* Deletes what `was` has and `now` has not, puts what `now` gained. */
static void ks_apply(store_batch *b, const keyset *was, const keyset *now, const void *val, size_t vlen) {
    if (was->failed || now->failed) {
        store_batch_fail(b, STORE_ENOMEM);
        return;
    }
    for (size_t i = 0; i < was->n; i++)
        if (!was->k[i].overflow && !ks_has(now, &was->k[i])) store_batch_del(b, DB_INDEX, was->k[i].buf, was->k[i].len);
    for (size_t i = 0; i < now->n; i++)
        if (!now->k[i].overflow && !ks_has(was, &now->k[i]))
            store_batch_put(b, DB_INDEX, now->k[i].buf, now->k[i].len, val, vlen);
}

/* ---- the work list ---- */

void work_prefix(store_key *k, work_order order, const char *scope, const char *value) {
    key_init(k);
    key_u8(k, IDX_WORK);
    key_u8(k, (uint8_t)order);
    key_str(k, scope);
    key_str(k, value);
}

uint64_t work_key_due(const unsigned char *key, size_t klen) { return klen >= 16 ? key_get_u64(key + klen - 16) : 0; }

int work_key_priority(const unsigned char *key, size_t klen) { return klen >= 17 ? key[klen - 17] : 0; }

static void work_keys(const as_case *c, keyset *ks) {
    if (c == NULL || !case_status_active(c->status)) return;
    int64_t due = case_sla_next_due(c);
    uint64_t d = due == AS_NONE ? UINT64_MAX : (uint64_t)(due < 0 ? 0 : due);
    uint8_t prio = (uint8_t)(c->priority < 1 ? 1 : c->priority > 5 ? 5 : c->priority);
    const char *scopes[][2] = {
        {"all", ""}, {"queue", c->queue}, {"assignee", c->assignee}, {"merchant_id", c->merchant_id}};
    for (size_t i = 0; i < sizeof scopes / sizeof scopes[0]; i++) {
        if (i != 0 && i != 2 && scopes[i][1][0] == '\0') continue; /* no queue, no merchant: not listed there */
        for (int by = 0; by < 2; by++) {
            store_key *k = ks_add(ks);
            if (k == NULL) return;
            work_prefix(k, by ? WORK_BY_PRIORITY : WORK_BY_DUE, scopes[i][0], scopes[i][1]);
            if (by) key_u8(k, prio);
            key_u64(k, d);
            key_u64(k, c->seq);
        }
    }
    if (case_in_backlog(c)) {
        store_key *k = ks_add(ks);
        if (k == NULL) return;
        work_prefix(k, WORK_BY_PRIORITY, "backlog", c->queue);
        key_u8(k, prio);
        key_u64(k, d);
        key_u64(k, c->seq);
    }
}

void work_index_update(store_batch *b, const as_case *before, const as_case *after) {
    const as_case *any = after ? after : before;
    if (any == NULL) return;
    keyset was = {0}, now = {0};
    work_keys(before, &was);
    work_keys(after, &now);
    store_key val; /* created_at be64 | type, as the 'c' indexes hold */
    key_init(&val);
    key_u64(&val, (uint64_t)any->created_at);
    key_raw(&val, case_type_name(any->type), strlen(case_type_name(any->type)));
    ks_apply(b, &was, &now, val.buf, val.len);
    free(was.k);
    free(now.k);
}

/* ---- contacts ---- */

static const char *const CONTACT_KINDS[] = {"phone", "email", "address", "tracking"};

/* The normalised contact into out (as long as in); 0 if it is empty. */
static size_t normalise(const char *kind, const char *in, char *out) {
    size_t n = 0;
    int blank = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        if (!strcmp(kind, "phone")) {
            if (isdigit(*p)) out[n++] = (char)*p;
        } else if (!strcmp(kind, "tracking")) {
            if (!isspace(*p) && *p != '-') out[n++] = (char)toupper(*p);
        } else if (isspace(*p)) {
            blank = n > 0;
        } else {
            if (blank && !strcmp(kind, "address")) out[n++] = ' ';
            blank = 0;
            out[n++] = (char)(*p < 0x80 ? tolower(*p) : *p);
        }
    }
    out[n] = '\0';
    return n;
}

int contact_hash(const char *kind, const char *value, char out[65]) {
    int known = 0;
    for (size_t i = 0; i < sizeof CONTACT_KINDS / sizeof *CONTACT_KINDS; i++) known |= !strcmp(kind, CONTACT_KINDS[i]);
    if (!known || value == NULL) return -1;
    size_t klen = strlen(kind), vlen = strlen(value);
    char *text = malloc(klen + 1 + vlen + 1);
    if (text == NULL) return -1;
    memcpy(text, kind, klen);
    text[klen] = ':';
    size_t n = normalise(kind, value, text + klen + 1);
    int rc = n == 0 ? -1 : sha256_hex(text, klen + 1 + n, out);
    free(text);
    return rc;
}

void contact_prefix(store_key *k, const char *kind, const char *hash) {
    key_init(k);
    key_u8(k, IDX_CONTACT);
    key_str(k, kind);
    key_str(k, hash);
}

/* Adds 'h' | kind | hash(value) | a | b, unless the value is empty. */
static void contact_key(keyset *ks, const char *kind, const char *value, const char *a, const char *b) {
    char hash[65];
    if (value == NULL || contact_hash(kind, value, hash) != 0) return;
    store_key *k = ks_add(ks);
    if (k == NULL) return;
    contact_prefix(k, kind, hash);
    key_str(k, a);
    key_str(k, b);
}

static void order_contact_keys(const as_order *o, keyset *ks) {
    if (o == NULL) return;
    contact_key(ks, "phone", o->buyer.phone, o->buyer_id, o->order_id);
    contact_key(ks, "email", o->buyer.email, o->buyer_id, o->order_id);
    contact_key(ks, "address", o->buyer.address, o->buyer_id, o->order_id);
    for (size_t i = 0; i < o->ntracking; i++) {
        size_t before = ks->n;
        contact_key(ks, "tracking", o->tracking[i].tracking_no, o->order_id, "");
        if (ks->n > before && ks_has(&(keyset){ks->k, before, 0, 0}, &ks->k[before])) ks->n = before; /* a repeat */
    }
}

void order_contacts_update(store_batch *b, const as_order *before, const as_order *after) {
    keyset was = {0}, now = {0};
    order_contact_keys(before, &was);
    order_contact_keys(after, &now);
    ks_apply(b, &was, &now, "", 0);
    free(was.k);
    free(now.k);
}

static void case_contact_keys(const as_case *c, keyset *ks) {
    if (c == NULL || !c->order_id[0]) return;
    for (size_t i = 0; i < c->nshipments; i++) {
        size_t before = ks->n;
        contact_key(ks, "tracking", c->shipments[i].tracking_no, c->order_id, c->case_id);
        if (ks->n > before && ks_has(&(keyset){ks->k, before, 0, 0}, &ks->k[before])) ks->n = before;
    }
}

void case_derived_rebuild(store_batch *b, const as_case *c) {
    work_index_update(b, NULL, c);
    case_contacts_update(b, NULL, c);
    answers_index_case(b, NULL, c);
}

/* ---- survey answers ---- */

void answers_prefix(store_key *k) {
    key_init(k);
    key_u8(k, IDX_ANSWERS);
}

static void answer_put(store_batch *b, int64_t at, const char *kind, const char *id, const char *case_id,
                       const char *buyer, const char *merchant, int channel, int64_t csat, int64_t nps) {
    store_key k;
    answers_prefix(&k);
    key_u64(&k, (uint64_t)(at < 0 ? 0 : at));
    key_str(&k, kind);
    key_str(&k, id);
    textbuf tb = {0};
    jsonw w;
    jsonw_init(&w, &tb);
    emitter *e = jsonw_emitter(&w);
    emit_object(e);
    emit_kstr(e, "kind", kind);
    emit_kint(e, "answered_at", at);
    emit_kstr(e, "case_id", case_id);
    emit_kstr(e, "buyer_id", buyer && buyer[0] ? buyer : NULL);
    emit_kstr(e, "merchant_id", merchant && merchant[0] ? merchant : NULL);
    emit_kstr(e, "channel", channel >= 0 ? case_channel_name((case_channel)channel) : NULL);
    emit_kopt(e, "csat", csat);
    emit_kopt(e, "nps", nps);
    emit_object_end(e);
    size_t len;
    char *text = tb_take(&tb, &len);
    if (text == NULL || k.overflow) store_batch_fail(b, text ? STORE_EINVAL : STORE_ENOMEM);
    else store_batch_put(b, DB_INDEX, k.buf, k.len, text, len);
    free(text);
}

void answers_index_case(store_batch *b, const as_case *before, const as_case *after) {
    if (after == NULL || after->survey.answered_at == AS_NONE) return;
    if (before && before->survey.answered_at != AS_NONE) return; /* an answer is given once */
    answer_put(b, after->survey.answered_at, "case", after->case_id, after->case_id, after->buyer_id,
               after->merchant_id, (int)after->channel, after->survey.csat, after->survey.nps);
}

void answers_index_nps(store_batch *b, const as_nps *before, const as_nps *after) {
    if (after == NULL || after->answered_at == AS_NONE) return;
    if (before && before->answered_at == after->answered_at) return;
    char id[2 * AS_ID_MAX + 2];
    snprintf(id, sizeof id, "%s/%s", after->buyer_id, after->merchant_id);
    answer_put(b, after->answered_at, "relationship", id, NULL, after->buyer_id, after->merchant_id, after->channel,
               AS_NONE, after->nps);
}

void case_contacts_update(store_batch *b, const as_case *before, const as_case *after) {
    if ((before == NULL || before->nshipments == 0) && (after == NULL || after->nshipments == 0)) return;
    keyset was = {0}, now = {0};
    case_contact_keys(before, &was);
    case_contact_keys(after, &now);
    ks_apply(b, &was, &now, "", 0);
    free(was.k);
    free(now.k);
}

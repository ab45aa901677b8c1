/* api/backlog: cases waiting unassigned are given out when an agent has
 * room, and an agent can ask for (or pull) the next case it should take.
 *
 * The backlog is the work list 'w' | 'p' | "backlog" | queue (case/indexes.h):
 * active unassigned cases of a queue by priority, then due, then age. An
 * agent's next cases are the best of the backlogs of its queues that need no
 * skill it lacks (and, for an agent whose tokens are bound to merchants, of
 * those merchants). The index is read committed; each case is checked as
 * the latest writes (the batch being built included) left it, so a case
 * given out by a batch still pending is never given twice. Every trigger
 * takes a bounded number of cases:
 *   - capacity freed by a change of a request or a timer round: a case
 *     resolved, rejected or closed, moved to another queue or agent
 *     (backlog_after, backlog_note_freed);
 *   - an agent registered, going online or given more capacity or queues
 *     (POST /v1/agents, POST /v1/agents/{id}/availability);
 *   - the agent pulling its next case (POST /v1/agents/{id}/next). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "case/codec.h"
#include "case/indexes.h"
#include "util/jsonw.h"

#define FILL_MAX 20         /* cases one trigger gives one agent */
#define SCAN_PER_QUEUE 100  /* backlog entries read per queue and trigger */
#define CHECKS_MAX 400      /* cases loaded to check, per trigger */

typedef struct {
    uint8_t prio;
    uint64_t due, seq;
} slot;

static int slot_cmp(const void *a, const void *b) {
    const slot *x = a, *y = b;
    if (x->prio != y->prio) return x->prio < y->prio ? -1 : 1;
    if (x->due != y->due) return x->due < y->due ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int has_skills(const as_agent *a, const as_case *c) {
    for (size_t i = 0; i < c->nskills; i++) {
        int found = 0;
        for (size_t j = 0; j < a->nskills && !found; j++) found = !strcmp(a->skills[j], c->skills[i]);
        if (!found) return 0;
    }
    return 1;
}

/* The backlog entries of the agent's queues, best first (committed). */
static size_t read_slots(server *s, const as_agent *a, slot *out, size_t cap) {
    store_read *rd;
    if (store_read_begin(s->db, &rd) != 0) return 0;
    size_t n = 0;
    for (size_t q = 0; q < a->nqueues; q++) {
        store_key prefix;
        work_prefix(&prefix, WORK_BY_PRIORITY, "backlog", a->queues[q]);
        store_iter *it;
        if (prefix.overflow || store_iter_open(rd, DB_INDEX, prefix.buf, prefix.len, NULL, 0, 0, &it) != 0) continue;
        const void *k, *v;
        size_t klen, vlen;
        for (int i = 0; i < SCAN_PER_QUEUE && n < cap && store_iter_next(it, &k, &klen, &v, &vlen) == 1; i++) {
            if (klen != prefix.len + 17) continue;
            out[n++] = (slot){(uint8_t)work_key_priority(k, klen), work_key_due(k, klen),
                              key_get_u64((const unsigned char *)k + klen - 8)};
        }
        store_iter_close(it);
    }
    store_read_end(rd);
    qsort(out, n, sizeof *out, slot_cmp);
    return n;
}

/* Up to max cases the agent should take next, best first, each checked as
 * the latest writes left it (b's own included when b is given). who (may be
 * NULL) narrows them to what the caller sees. The cases are the caller's to
 * free. */
static size_t next_cases(server *s, store_batch *b, const as_agent *a, const principal *who, uint64_t exclude,
                         as_case *out, size_t max) {
    size_t cap = a->nqueues * SCAN_PER_QUEUE, n = 0;
    slot *slots = cap ? malloc(cap * sizeof *slots) : NULL;
    if (slots == NULL) return 0;
    size_t ns = read_slots(s, a, slots, cap);
    for (size_t i = 0, checks = 0; i < ns && n < max && checks < CHECKS_MAX; i++) {
        if (slots[i].seq == exclude || (i > 0 && slots[i].seq == slots[i - 1].seq)) continue;
        as_case_id id;
        case_id_format(slots[i].seq, id);
        as_case c;
        checks++;
        if ((b ? case_load_in(b, id, &c) : case_load(s->db, id, 1, &c)) != 0) continue;
        const char *merchant = c.merchant_id[0] ? c.merchant_id : NULL;
        if (case_in_backlog(&c) && agent_serves(a, c.queue) && has_skills(a, &c) &&
            (who ? principal_sees_merchant(who, merchant) : agent_may_work(s, a->agent_id, merchant)))
            out[n++] = c;
        else
            case_free(&c);
    }
    free(slots);
    return n;
}

int backlog_fill(server *s, store_batch *b, as_decider *d, const char *agent_id, uint64_t exclude) {
    as_agent *a = agents_find(&s->agents, agent_id);
    if (a == NULL || !a->online || a->load >= a->capacity || a->nqueues == 0) return 0;
    size_t room = (size_t)(a->capacity - a->load);
    if (room > FILL_MAX) room = FILL_MAX;
    as_case cases[FILL_MAX];
    size_t n = next_cases(s, b, a, NULL, exclude, cases, room);
    as_actor system = actor_of(NULL);
    int taken = 0;
    for (size_t i = 0; i < n; i++) {
        as_changes ch;
        as_error err = {0};
        if (case_take(d, &cases[i], agent_id, "backlog", &system, &ch, &err) == 0) {
            changes_into(s, b, d, &ch); /* the mirror's load grows at once */
            changes_free(&ch);
            taken++;
        } else if (err.code == AS_ENOMEM) {
            store_batch_fail(b, STORE_ENOMEM);
        }
        case_free(&cases[i]);
    }
    return taken;
}

/* The agent a change took a case from (an active case resolved, moved to
 * another agent or queue, or closed), or NULL. */
static const char *freed_agent(const as_changes *ch) {
    const as_case *was = ch->before, *now = ch->after;
    if (was == NULL || now == NULL || !case_status_active(was->status) || !was->assignee[0]) return NULL;
    if (case_status_active(now->status) && !strcmp(was->assignee, now->assignee)) return NULL;
    return was->assignee;
}

void backlog_after(server *s, store_batch *b, as_decider *d, const as_changes *ch) {
    const char *agent = freed_agent(ch);
    if (agent) backlog_fill(s, b, d, agent, ch->after ? ch->after->seq : 0);
}

void backlog_note_freed(const as_changes *ch, as_id *agents, size_t *n, size_t max) {
    const char *agent = freed_agent(ch);
    if (agent == NULL) return;
    for (size_t i = 0; i < *n; i++)
        if (!strcmp(agents[i], agent)) return;
    if (*n < max) AS_IDSET(agents[(*n)++], agent);
}

/* ---- an agent's next case ---- */

/* The registered agent of the path, if the caller may act for it (an admin,
 * or the agent's own token); answers and returns NULL otherwise. */
static as_agent *agent_for(server *s, http_request *req, const route_params *p, const principal *who) {
    const char *id = route_param(p, "id");
    if (who->role == ROLE_AGENT && (who->agent == NULL || strcmp(who->agent, id) != 0)) {
        reply_forbidden(req, "an agent's token acts for its own agent only");
        return NULL;
    }
    as_agent *a = agents_find(&s->agents, id);
    if (a == NULL) reply_not_found(req, "agent");
    return a;
}

/* {"agent_id":..., "case": TEXT|null, ...}: text is the case as stored. */
static char *next_answer(const as_agent *a, const char *case_text, int with_room) {
    textbuf tb = {0};
    tb_append(&tb, "{\"agent_id\":", 12);
    jsonw_quote(&tb, a->agent_id, strlen(a->agent_id));
    tb_append(&tb, ",\"case\":", 8);
    if (case_text) tb_append(&tb, case_text, strlen(case_text));
    else tb_append(&tb, "null", 4);
    if (with_room)
        tb_printf(&tb, ",\"online\":%s,\"load\":%" PRId64 ",\"capacity\":%" PRId64, a->online ? "true" : "false",
                  a->load, a->capacity);
    tb_append(&tb, "}", 1);
    return tb_take(&tb, NULL);
}

/* GET /v1/agents/{id}/next: the case the agent should take next, nothing
 * changed. */
void h_agent_next(server *s, http_request *req, const route_params *p, const principal *who) {
    static const char *const none[] = {NULL};
    if (req_query_known(req, none) != 0) return;
    as_agent *a = agent_for(s, req, p, who);
    if (a == NULL) return;
    as_case c;
    size_t n = next_cases(s, NULL, a, who, 0, &c, 1);
    char *text = n ? case_to_json(&c, NULL) : NULL;
    char *answer = n && text == NULL ? NULL : next_answer(a, text, 1);
    if (answer) http_respond(req, 200, "application/json", answer, strlen(answer));
    else http_respond_error(req, 503, "unavailable", "out of memory", NULL);
    free(answer);
    free(text);
    if (n) case_free(&c);
}

/* POST /v1/agents/{id}/next: the agent takes that case (assignment by
 * "pull"); answers it assigned, or case null when the backlog has none. A
 * pull is the agent's own choice, like a hand assignment: capacity limits
 * what the server gives out, not what an agent takes. */
void h_agent_take_next(server *s, http_request *req, const route_params *p, const principal *who) {
    static const char *const none[] = {NULL};
    if (req_query_known(req, none) != 0 || idem_replay(s, req, who)) return;
    size_t blen;
    const char *body = http_request_body(req, &blen);
    if (blen > 0 && body) { /* a body, if any, is an empty object */
        json_t *in = req_json_body(req);
        if (in == NULL) return;
        int ok = req_only_known(req, in, none) == 0;
        json_decref(in);
        if (!ok) return;
    }
    as_agent *a = agent_for(s, req, p, who);
    if (a == NULL) return;
    as_case c;
    store_batch *b = store_batch_new(s->db);
    size_t n = next_cases(s, b, a, who, 0, &c, 1);
    if (n == 0) {
        store_batch_free(b);
        char *answer = next_answer(a, NULL, 0);
        if (answer) http_respond(req, 200, "application/json", answer, strlen(answer));
        else http_respond_error(req, 503, "unavailable", "out of memory", NULL);
        free(answer);
        return;
    }
    as_decider d;
    live_decider(s, &d, clock_now(&s->clock));
    as_actor actor = actor_of(who);
    as_changes ch;
    as_error err = {0};
    if (case_take(&d, &c, a->agent_id, "pull", &actor, &ch, &err) != 0) {
        store_batch_free(b);
        reply_error(req, &err);
    } else {
        commit_ctx cc = {s->db, &s->seqs, &s->agents, &d, s->kpi_offset};
        char *text = changes_commit(&cc, b, &ch, NULL);
        char *answer = text ? next_answer(a, text, 0) : NULL;
        if (answer == NULL) store_batch_fail(b, STORE_ENOMEM);
        commit_and_reply_text(s, b, req, who, 200, answer ? answer : strdup("{}"));
        free(text);
        changes_free(&ch);
    }
    case_free(&c);
}

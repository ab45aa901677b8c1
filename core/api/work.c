/* api/work: running the domain's operations for live requests.
 *
 * The live decider reads the store as it is now (pending writes included
 * where a read-modify-write needs them), decides with the active policy set
 * (and its shadow), assigns from the agents mirror. A change set is written
 * by case/commit into one batch and the answer goes out once it is durable. */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"

static int live_customer(void *ud, const char *merchant_id, const char *buyer_id, as_customer *out) {
    server *s = ud;
    return customer_read(s->db, merchant_id, buyer_id, clock_now(&s->clock), 0, out);
}

static int64_t live_complaints(void *ud, const char *merchant_id, const char *sku, int64_t since) {
    return complaints_count(((server *)ud)->db, merchant_id, sku, since);
}

static int live_window(void *ud, const char *scope, const char *a, const char *b, int64_t since, const char *tag,
                       as_window_count *out) {
    return risk_window_read(((server *)ud)->db, scope, a, b, since, tag, out);
}

/* An agent a token names: if that token is bound to a merchant, only for
 * that merchant's cases. */
static int token_agent(void *ud, const char *agent_id, const char *merchant_id) {
    server *s = ud;
    for (size_t i = 0; i < s->ntokens; i++)
        if (s->tokens[i].agent && strcmp(s->tokens[i].agent, agent_id) == 0 &&
            principal_sees_merchant(&s->tokens[i], merchant_id))
            return 1;
    return 0;
}

/* An agent that tokens name works the cases those tokens may see; an agent
 * no token names works any merchant's. Routing and the backlog both ask. */
int agent_may_work(server *s, const char *agent_id, const char *merchant) {
    int named = 0;
    for (size_t i = 0; i < s->ntokens; i++) {
        if (s->tokens[i].agent == NULL || strcmp(s->tokens[i].agent, agent_id) != 0) continue;
        named = 1;
        if (principal_sees_merchant(&s->tokens[i], merchant)) return 1;
    }
    return !named;
}

static int live_agent_may_work(void *ud, const char *agent_id, const char *merchant_id) {
    return agent_may_work(ud, agent_id, merchant_id);
}

void live_decider(server *s, as_decider *d, int64_t now) {
    s->reads = (as_reads){s, live_customer, live_complaints, token_agent, live_window, live_agent_may_work};
    s->monitor = (as_policy_monitor){s, policy_errors_failed};
    *d = (as_decider){.policies = s->policies, .shadow = s->shadow, .now = now, .reads = &s->reads,
                      .agents = &s->agents, .next_case_seq = &s->seqs.next_case, .monitor = &s->monitor,
                      .shadow_tally = &s->shadow_tally};
}

as_actor actor_of(const principal *who) {
    as_actor a;
    memset(&a, 0, sizeof a);
    if (who == NULL) {
        strcpy(a.role, "system");
        return a;
    }
    strcpy(a.role, role_name(who->role));
    const char *id = who->agent ? who->agent : who->merchant;
    if (id) AS_IDSET(a.id, id);
    return a;
}

void changes_into(server *s, store_batch *b, as_decider *d, const as_changes *ch) {
    commit_ctx cc = {s->db, &s->seqs, &s->agents, d, s->kpi_offset};
    free(changes_commit(&cc, b, ch, NULL));
}

void changes_reply(server *s, http_request *req, const principal *who, as_decider *d, as_changes *ch, int status) {
    commit_ctx cc = {s->db, &s->seqs, &s->agents, d, s->kpi_offset};
    store_batch *b = store_batch_new(s->db);
    char *text = changes_commit(&cc, b, ch, NULL);
    backlog_after(s, b, d, ch); /* capacity the change freed goes to the backlog in the same write */
    const as_case *c = ch->after;
    if (ch->before == NULL && c && c->channel != CH_SYSTEM) /* a buyer's new case: activity */
        nps_activity(s, b, d, c->merchant_id, c->buyer_id);
    commit_and_reply_text(s, b, req, who, status, text);
}

int case_load_for(server *s, http_request *req, const principal *who, const char *case_id, int latest,
                  as_case *out) {
    int rc = case_load(s->db, case_id, latest, out);
    if (rc == 0 && !principal_sees_merchant(who, out->merchant_id[0] ? out->merchant_id : NULL)) {
        case_free(out);
        rc = STORE_ENOTFOUND;
    }
    if (rc == STORE_ENOTFOUND) reply_not_found(req, "case");
    else if (rc != 0) reply_store_error(req, rc);
    return rc == 0 ? 0 : -1;
}

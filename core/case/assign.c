/* case/assign: a waiting case taken from its queue's backlog, by the server
 * when an agent's capacity frees (going online, a raise, a case resolved)
 * or by the agent pulling its next case (case_take, domain.h). Which case
 * an agent takes is the caller's reading of the backlog (api/backlog.c);
 * here only the change itself. */
#include <stdlib.h>
#include <string.h>

#include "case/indexes.h"
#include "case/internal.h"

int case_take(const as_decider *d, const as_case *c, const char *agent_id, const char *by, const as_actor *who,
              as_changes *out, as_error *err) {
    changes_init(out);
    if (!case_in_backlog(c)) {
        err->kase = c;
        err->no_actions = 1;
        return as_fail(err, AS_ETRANSITION, NULL, "case %s no longer waits in its queue's backlog", c->case_id);
    }
    out->before = malloc(sizeof *out->before);
    out->after = malloc(sizeof *out->after);
    if (out->before == NULL || out->after == NULL || case_copy(out->before, c) != 0) {
        free(out->before);
        out->before = NULL;
        changes_free(out);
        return as_fail(err, AS_ENOMEM, NULL, "out of memory");
    }
    if (case_copy(out->after, c) != 0) {
        free(out->after);
        out->after = NULL;
        changes_free(out);
        return as_fail(err, AS_ENOMEM, NULL, "out of memory");
    }
    as_case *k = out->after;
    AS_IDSET(k->assignee, agent_id);
    k->updated_at = d->now > c->updated_at ? d->now : c->updated_at;
    members_w m;
    emitter *e = mw_begin(&m);
    emit_kstr(e, "agent_id", agent_id);
    emit_knull(e, "from");
    emit_kstr(e, "by", by);
    note_from(out, "assignment", who, k->updated_at, &m);
    e = mw_begin(&m);
    emit_kstr(e, "action", "assign");
    emit_kstr(e, "by", by);
    emit_kstr(e, "status", case_status_name(k->status));
    emit_kstr(e, "stage", case_stage_name(k->stage));
    event_from(out, "case.updated", k->updated_at, &m, EV_CASE_MEMBER);
    if (out->failed) {
        changes_free(out);
        return as_fail(err, AS_ENOMEM, NULL, "out of memory");
    }
    return 0;
}

/* case/preview: what an opening would do, as one JSON document: the answer
 * of dry-run and of `aftersaled policy eval` (see domain.h). */
#include <stdlib.h>
#include <string.h>

#include "case/internal.h"

char *case_preview(const as_changes *ch, const char *policy_version) {
    const as_case *c = ch->after;
    textbuf tb = {0};
    jsonw w;
    jsonw_init(&w, &tb);
    emitter *e = jsonw_emitter(&w);
    emit_object(e);
    if (c->decision.outcome != OUT_NONE) {
        emit_key(e, "eligibility");
        emit_object(e);
        emit_kstr(e, "outcome", outcome_name(c->decision.outcome));
        emit_kstr(e, "reason_code", c->decision.reason_code);
        emit_kstr(e, "message", c->decision.message);
        emit_kstr(e, "module", c->decision.module);
        emit_kstr(e, "policy_version", c->decision.policy_version);
        emit_object_end(e);
    }
    if (c->refund.approved_cents > 0) {
        emit_key(e, "refund");
        emit_object(e);
        emit_kint(e, "amount_cents", c->refund.approved_cents);
        emit_object_end(e);
    }
    emit_key(e, "routing");
    emit_object(e);
    emit_kstr(e, "queue", c->queue);
    emit_kint(e, "priority", c->priority);
    emit_key(e, "skills");
    emit_array(e);
    for (size_t i = 0; i < c->nskills; i++) emit_str(e, c->skills[i]);
    emit_array_end(e);
    emit_object_end(e);
    emit_kstr(e, "policy_version", policy_version);
    /* what failed, on its own: a broken override the floor answered for must
     * not pass for a clean run */
    emit_key(e, "errors");
    emit_array(e);
    for (size_t i = 0; i < ch->nnotes; i++)
        if (!strcmp(ch->notes[i].type, "policy.error")) {
            textbuf data = {0};
            tb_printf(&data, "{%s}", ch->notes[i].members ? ch->notes[i].members : "");
            if (data.failed) emit_null(e);
            else e->ops->raw(e, data.buf, data.len);
            tb_free(&data);
        }
    emit_array_end(e);
    emit_key(e, "notes");
    emit_array(e);
    for (size_t i = 0; i < ch->nnotes; i++) {
        const as_note *n = &ch->notes[i];
        emit_object(e);
        emit_kstr(e, "type", n->type);
        emit_key(e, "data");
        textbuf data = {0};
        tb_printf(&data, "{%s", n->members ? n->members : "");
        if (n->inputs_ref >= 0 && ch->notes[n->inputs_ref].members)
            tb_printf(&data, "%s\"inputs\":{%s}", n->members && n->members[0] ? "," : "",
                      ch->notes[n->inputs_ref].members);
        tb_append(&data, "}", 1);
        if (data.failed) emit_null(e);
        else e->ops->raw(e, data.buf, data.len);
        tb_free(&data);
        emit_object_end(e);
    }
    emit_array_end(e);
    emit_object_end(e);
    /* sla, compensation and the case as they would be: from the case's own text */
    char *text = tb_take(&tb, NULL);
    size_t clen;
    char *case_text = case_to_json(c, &clen);
    json_t *out = text ? json_loads(text, 0, NULL) : NULL;
    json_t *kase = case_text ? json_loads(case_text, 0, NULL) : NULL;
    free(text);
    free(case_text);
    if (out == NULL || kase == NULL) {
        json_decref(out);
        json_decref(kase);
        return NULL;
    }
    json_object_set(out, "sla", json_object_get(kase, "sla"));
    json_object_set(out, "compensation", json_object_get(kase, "compensation"));
    json_object_set_new(out, "case", kase);
    char *answer = json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(out);
    return answer;
}


/* case/changes: building change sets and errors (see domain.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "case/domain.h"

int as_fail(as_error *err, as_errcode code, const char *field, const char *fmt, ...) {
    err->code = code;
    snprintf(err->field, sizeof err->field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return -1;
}

void changes_init(as_changes *ch) { memset(ch, 0, sizeof *ch); }

static void changes_free_one(as_changes *ch) {
    if (ch->before) case_free(ch->before);
    if (ch->after) case_free(ch->after);
    free(ch->before);
    free(ch->after);
    for (size_t i = 0; i < ch->nnotes; i++) free(ch->notes[i].members);
    free(ch->notes);
    for (size_t i = 0; i < ch->nevents; i++) free(ch->events[i].members);
    free(ch->events);
    for (size_t i = 0; i < ch->nalerts; i++) free(ch->alerts[i].details);
    free(ch->alerts);
    if (ch->ledger) ledger_free(ch->ledger);
    free(ch->ledger);
    if (ch->order) order_free(ch->order);
    free(ch->order);
    if (ch->order_before) order_free(ch->order_before);
    free(ch->order_before);
    if (ch->nps) nps_free(ch->nps);
    free(ch->nps);
    if (ch->nps_before) nps_free(ch->nps_before);
    free(ch->nps_before);
}

void changes_free(as_changes *ch) {
    if (ch == NULL) return;
    as_changes *s = ch->spawned;
    while (s) {
        as_changes *next = s->next;
        changes_free(s);
        free(s);
        s = next;
    }
    changes_free_one(ch);
    changes_init(ch);
}

int changes_begin_update(as_changes *ch, const as_case *c) {
    changes_init(ch);
    as_case *before = malloc(sizeof *before), *after = malloc(sizeof *after);
    if (before && after && case_copy(before, c) == 0) {
        if (case_copy(after, c) == 0) {
            ch->before = before;
            ch->after = after;
            return 0;
        }
        case_free(before);
    }
    free(before);
    free(after);
    return -1;
}

/* Grows an array of n elements of size sz by one; the new element zeroed. */
static void *grow(void **arr, size_t *n, size_t sz) {
    void *p = realloc(*arr, (*n + 1) * sz);
    if (p == NULL) return NULL;
    *arr = p;
    memset((char *)p + *n * sz, 0, sz);
    return (char *)p + (*n)++ * sz;
}

int changes_note(as_changes *ch, const char *type, const as_actor *who, int64_t at, char *members) {
    as_note *n = grow((void **)&ch->notes, &ch->nnotes, sizeof *ch->notes);
    if (n == NULL) {
        free(members);
        ch->failed = 1;
        return -1;
    }
    snprintf(n->type, sizeof n->type, "%s", type);
    if (who) n->actor = *who;
    else snprintf(n->actor.role, sizeof n->actor.role, "system");
    n->at = at;
    n->members = members;
    n->inputs_ref = -1;
    return (int)(ch->nnotes - 1);
}

int changes_event(as_changes *ch, const char *type, int64_t at, char *members, as_event_case with_case) {
    as_event *ev = grow((void **)&ch->events, &ch->nevents, sizeof *ch->events);
    if (ev == NULL) {
        free(members);
        ch->failed = 1;
        return -1;
    }
    snprintf(ev->type, sizeof ev->type, "%s", type);
    ev->at = at;
    ev->members = members;
    ev->with_case = with_case;
    return 0;
}

void changes_alert(as_changes *ch, const char *kind, int64_t at, char *details, const char *fmt, ...) {
    as_alert *a = grow((void **)&ch->alerts, &ch->nalerts, sizeof *ch->alerts);
    if (a == NULL) {
        free(details);
        ch->failed = 1;
        return;
    }
    snprintf(a->kind, sizeof a->kind, "%s", kind);
    a->at = at;
    a->details = details;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->message, sizeof a->message, fmt, ap);
    va_end(ap);
}

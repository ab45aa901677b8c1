/* policy/contract: the contract's names, and the likely-misspelling test the
 * strict load uses on the function names of a module. */
#include "policy/contract.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    const char *module, *field;
    contract_kind kind;
} contract_entry;

/* Every name the core asks a policy set for (core/case: open.c, steps.c,
 * timers.c, the desk's warnings and escalations, api/surveys.c; policy.c
 * builds the calendar). */
static const contract_entry CONTRACT[] = {
    {"returns", "evaluate", CONTRACT_FN},
    {"compensation", "refund", CONTRACT_FN},
    {"compensation", "compensate", CONTRACT_FN},
    {"routing", "route", CONTRACT_FN},
    {"sla", "targets", CONTRACT_FN},
    {"sla", "calendar", CONTRACT_VALUE},
    {"sla", "warnings", CONTRACT_FN},
    {"sla", "on_breach", CONTRACT_FN},
    {"sla", "escalate", CONTRACT_FN},
    {"survey", "plan", CONTRACT_FN},
    {"survey", "on_answer", CONTRACT_FN},
    {"survey", "relationship", CONTRACT_FN},
    {"risk", "rules", CONTRACT_VALUE},
};
#define NCONTRACT (sizeof CONTRACT / sizeof CONTRACT[0])

static const char *const MODULES[] = {"returns", "compensation", "routing", "sla", "survey", "risk", "floor"};
#define NMODULES (sizeof MODULES / sizeof MODULES[0])

int contract_is_module(const char *name) {
    for (size_t i = 0; i < NMODULES; i++)
        if (strcmp(MODULES[i], name) == 0) return 1;
    return 0;
}

const char *contract_modules(void) {
    return "returns, compensation, routing, sla, survey, risk, floor";
}

/* "returns_evaluate" -> the entry of returns.evaluate, if a function. */
static const contract_entry *floor_entry(const char *field) {
    for (size_t i = 0; i < NCONTRACT; i++) {
        size_t m = strlen(CONTRACT[i].module);
        if (CONTRACT[i].kind == CONTRACT_FN && strncmp(field, CONTRACT[i].module, m) == 0 && field[m] == '_' &&
            strcmp(field + m + 1, CONTRACT[i].field) == 0)
            return &CONTRACT[i];
    }
    return NULL;
}

int contract_field(const char *module, const char *field) {
    if (strcmp(module, "floor") == 0) return floor_entry(field) ? CONTRACT_FN : 0;
    for (size_t i = 0; i < NCONTRACT; i++)
        if (strcmp(CONTRACT[i].module, module) == 0 && strcmp(CONTRACT[i].field, field) == 0)
            return (int)CONTRACT[i].kind;
    return 0;
}

const char *contract_names(const char *module, char *buf, size_t len) {
    size_t n = 0;
    buf[0] = '\0';
    int floor = strcmp(module, "floor") == 0;
    for (size_t i = 0; i < NCONTRACT && n < len; i++) {
        if (floor ? CONTRACT[i].kind != CONTRACT_FN : strcmp(CONTRACT[i].module, module) != 0) continue;
        int w = floor ? snprintf(buf + n, len - n, "%s%s_%s", n ? ", " : "", CONTRACT[i].module, CONTRACT[i].field)
                      : snprintf(buf + n, len - n, "%s%s", n ? ", " : "", CONTRACT[i].field);
        if (w < 0) break;
        n += (size_t)w;
    }
    return buf;
}

/* name lower-cased without underscores, in out (at most 63 chars). */
static void fold(const char *name, char *out) {
    size_t n = 0;
    for (; *name && n < 63; name++)
        if (*name != '_') out[n++] = (char)tolower((unsigned char)*name);
    out[n] = '\0';
}

/* Levenshtein distance of two short strings, capped at 3. */
static int distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return 3;
    if ((la > lb ? la - lb : lb - la) > 2) return 3;
    int prev[64], cur[64];
    for (size_t j = 0; j <= lb; j++) prev[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            int del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, (lb + 1) * sizeof *prev);
    }
    return prev[lb] > 3 ? 3 : prev[lb];
}

/* Close: the same once case and underscores are ignored, or within two
 * edits of a name of 5 letters or more (one edit below that: "plan" and
 * "play" are one apart, "route" and "routes" too). */
static int close_to(const char *name, const char *want) {
    char a[64], b[64];
    fold(name, a);
    fold(want, b);
    if (strcmp(a, b) == 0) return 1;
    int d = distance(a, b);
    return d <= (strlen(b) >= 5 ? 2 : 1);
}

int contract_misspelt(const char *module, const char *name, char *out, size_t len) {
    if (contract_field(module, name)) return 0;
    int floor = strcmp(module, "floor") == 0;
    for (size_t i = 0; i < NCONTRACT; i++) {
        if (floor) {
            if (CONTRACT[i].kind != CONTRACT_FN) continue;
            char want[64];
            snprintf(want, sizeof want, "%s_%s", CONTRACT[i].module, CONTRACT[i].field);
            if (close_to(name, want)) {
                snprintf(out, len, "%s", want);
                return 1;
            }
        } else if (strcmp(CONTRACT[i].module, module) == 0 && close_to(name, CONTRACT[i].field)) {
            snprintf(out, len, "%s", CONTRACT[i].field);
            return 1;
        }
    }
    return 0;
}

/* api/policy_errors: where policy failures are counted.
 *
 * Every failure of a policy call (it raised, looped, broke a cap, answered
 * something of the wrong shape, or a merchant's override failed and the floor
 * answered for it) is counted by module, function and merchant: /metrics
 * shows the counts, and when one of them fails --policy-error-alert times
 * within an hour (a fixed window per key) the change that saw the last of
 * them raises a policy_errors alert, once per window. The table is bounded
 * (POLICY_ERRORS_MAX keys; further keys count in one overflow line) and lives
 * in memory: the counters start again with the process, like the others of
 * /metrics. */
#include <stdio.h>
#include <string.h>

#include "api/api.h"

#define WINDOW 3600

static policy_error_count *find_or_add(policy_errors *pe, const char *module, const char *fn, const char *merchant) {
    const char *m = merchant ? merchant : "";
    for (size_t i = 0; i < pe->n; i++) {
        policy_error_count *c = &pe->keys[i];
        if (!strcmp(c->module, module) && !strcmp(c->function, fn) && !strcmp(c->merchant, m)) return c;
    }
    if (pe->n == POLICY_ERRORS_MAX) return NULL;
    policy_error_count *c = &pe->keys[pe->n++];
    memset(c, 0, sizeof *c);
    snprintf(c->module, sizeof c->module, "%s", module);
    snprintf(c->function, sizeof c->function, "%s", fn);
    snprintf(c->merchant, sizeof c->merchant, "%s", m);
    c->alerted_window = -1;
    return c;
}

int policy_errors_failed(void *ud, const char *module, const char *fn, const char *merchant, int64_t now) {
    server *s = ud;
    policy_errors *pe = &s->policy_errors;
    policy_error_count *c = find_or_add(pe, module, fn, merchant);
    if (c == NULL) {
        pe->overflow++;
        return 0;
    }
    c->total++;
    if (c->window_count == 0 || now - c->window_start >= WINDOW || now < c->window_start) {
        c->window_start = now;
        c->window_count = 0;
    }
    c->window_count++;
    unsigned rate = s->cfg.policy_error_alert;
    if (rate == 0 || c->window_count < rate || c->alerted_window == c->window_start) return 0;
    c->alerted_window = c->window_start;
    return 1;
}

void policy_errors_metrics(const server *s, textbuf *tb) {
    const policy_errors *pe = &s->policy_errors;
    tb_printf(tb, "# HELP aftersale_policy_failures_total Policy calls that failed (or whose merchant override "
                  "failed and the floor answered), by module, function and merchant.\n"
                  "# TYPE aftersale_policy_failures_total counter\n");
    for (size_t i = 0; i < pe->n; i++) {
        const policy_error_count *c = &pe->keys[i];
        tb_printf(tb, "aftersale_policy_failures_total{module=\"%s\",function=\"%s\",merchant=\"%s\"} %llu\n",
                  c->module, c->function, c->merchant, (unsigned long long)c->total);
    }
    if (pe->overflow)
        tb_printf(tb, "aftersale_policy_failures_total{module=\"(more)\",function=\"(more)\",merchant=\"(more)\"} %llu\n",
                  (unsigned long long)pe->overflow);
}

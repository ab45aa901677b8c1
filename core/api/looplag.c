/* api/looplag: how late the loop thread gets to its work (issue 11: "a loop
 * that never stalls").
 *
 * A timer asks to run every LAG_INTERVAL_MS; the time between when it was
 * due and when it ran is how long something on the loop thread (a handler,
 * a commit callback, a timer round) kept every other request waiting. Every
 * value goes into the histogram aftersale_loop_lag_seconds (_bucket, _sum,
 * _count); the gauges aftersale_loop_lag_last_seconds and
 * aftersale_loop_lag_max_seconds hold the latest and the largest (a gauge
 * cannot take the histogram's family name). The timer is unref'd: it
 * never keeps the loop alive, and a stopping server closes it. */
#include "api/api.h"

#define LAG_INTERVAL_MS 100

static const double LAG_BOUNDS[LAG_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};

static void on_tick(uv_timer_t *t) {
    loop_lag *l = t->data;
    uint64_t now = uv_hrtime();
    uint64_t due = l->last_ns + (uint64_t)LAG_INTERVAL_MS * 1000000u;
    double lag = now > due ? (double)(now - due) / 1e9 : 0;
    l->last_ns = now;
    l->last_s = lag;
    l->sum_s += lag;
    l->count++;
    if (lag > l->max_s) l->max_s = lag;
    for (int i = 0; i < LAG_BUCKETS; i++)
        if (lag <= LAG_BOUNDS[i]) l->buckets[i]++;
}

int looplag_start(server *s) {
    loop_lag *l = &s->lag;
    if (uv_timer_init(s->loop, &l->timer) != 0) return -1;
    l->timer.data = l;
    l->last_ns = uv_hrtime();
    if (uv_timer_start(&l->timer, on_tick, LAG_INTERVAL_MS, LAG_INTERVAL_MS) != 0) return -1;
    uv_unref((uv_handle_t *)&l->timer);
    l->started = 1;
    return 0;
}

void looplag_stop(server *s) {
    if (!s->lag.started) return;
    s->lag.started = 0;
    uv_timer_stop(&s->lag.timer);
    uv_close((uv_handle_t *)&s->lag.timer, NULL);
}

void looplag_metrics(const server *s, textbuf *tb) {
    const loop_lag *l = &s->lag;
    tb_printf(tb, "# HELP aftersale_loop_lag_seconds How late the loop thread ran each %d ms check: what a "
                  "request arriving then waited for.\n# TYPE aftersale_loop_lag_seconds histogram\n",
              LAG_INTERVAL_MS);
    for (int i = 0; i < LAG_BUCKETS; i++)
        tb_printf(tb, "aftersale_loop_lag_seconds_bucket{le=\"%g\"} %llu\n", LAG_BOUNDS[i],
                  (unsigned long long)l->buckets[i]);
    tb_printf(tb, "aftersale_loop_lag_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)l->count);
    tb_printf(tb, "aftersale_loop_lag_seconds_sum %.6f\naftersale_loop_lag_seconds_count %llu\n", l->sum_s,
              (unsigned long long)l->count);
    /* a gauge cannot share the histogram's family name in the text format */
    tb_printf(tb, "# HELP aftersale_loop_lag_last_seconds The loop lag of the latest check.\n"
                  "# TYPE aftersale_loop_lag_last_seconds gauge\naftersale_loop_lag_last_seconds %.6f\n", l->last_s);
    tb_printf(tb, "# HELP aftersale_loop_lag_max_seconds The largest loop lag since the start.\n"
                  "# TYPE aftersale_loop_lag_max_seconds gauge\naftersale_loop_lag_max_seconds %.6f\n", l->max_s);
}

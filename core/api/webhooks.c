/* api/webhooks: the events feed pushed to --webhook URL (core/webhook does the
 * HTTP).
 *
 * Pages are the stored event texts joined as {"events":[...]} (every
 * merchant's: the webhook is the platform's own endpoint), read from
 * committed data only, so nothing is pushed that a crash could take back.
 * The acknowledged seq is kept in DB_META and a restart resumes after it;
 * a page acknowledged but not yet persisted when the process dies is pushed
 * again (at-least-once, as the feed promises). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "util/log.h"
#include "util/textbuf.h"

#define WEBHOOK_PAGE 100
#define CURSOR_KEY "webhook_delivered"

static int next_page(void *ud, uint64_t after, char **body, size_t *len, uint64_t *last) {
    server *s = ud;
    store_key from;
    key_init(&from);
    key_u64(&from, after + 1);
    store_read *rd;
    store_iter *it = NULL;
    textbuf tb = {0};
    int count = 0, rc = store_read_begin(s->db, &rd);
    if (rc != 0) return -1;
    rc = store_iter_open(rd, DB_EVENTS, NULL, 0, from.buf, from.len, 0, &it);
    const void *k, *v;
    size_t klen, vlen;
    tb_append(&tb, "{\"events\":[", 11);
    while (rc == 0 && count < WEBHOOK_PAGE && (rc = store_iter_next(it, &k, &klen, &v, &vlen)) == 1) {
        const char *text;
        size_t len;
        if ((rc = store_read_text(rd, v, vlen, &text, &len)) != 0) break;
        if (count > 0) tb_append(&tb, ",", 1);
        tb_append(&tb, text, len); /* the stored event text as it is */
        *last = key_get_u64(k);
        count++;
    }
    if (it) store_iter_close(it);
    store_read_end(rd);
    tb_append(&tb, "]}", 2);
    if (rc < 0 || count == 0) {
        tb_free(&tb);
        return rc < 0 ? -1 : 0;
    }
    *body = tb_take(&tb, len);
    return *body ? 1 : -1;
}

static void cursor_committed(int status, void *ud) {
    (void)ud;
    if (status != 0) log_msg(LOG_WARN, "webhook cursor not saved (%s): a page may be sent again", store_strerror(status));
}

static void acknowledged(void *ud, uint64_t seq) {
    server *s = ud;
    if (s->db == NULL || s->stopping) return; /* the next start sends it again */
    char text[24];
    int n = snprintf(text, sizeof text, "%" PRIu64, seq);
    store_batch *b = store_batch_new(s->db);
    store_batch_put(b, DB_META, CURSOR_KEY, sizeof CURSOR_KEY - 1, text, (size_t)n);
    store_submit(b, cursor_committed, NULL);
}

/* The seq the endpoint acknowledged last (0: from the start of the feed). */
static uint64_t load_cursor(server *s) {
    char *val;
    size_t vlen;
    if (store_get_latest(s->db, DB_META, CURSOR_KEY, sizeof CURSOR_KEY - 1, &val, &vlen) != 0) return 0;
    uint64_t seq = strtoull(val, NULL, 10);
    free(val);
    return seq;
}

int webhooks_start(server *s) {
    if (s->cfg.webhook_url == NULL) return 0;
    webhook_config wc = {.url = s->cfg.webhook_url, .secret = s->cfg.webhook_secret};
    webhook_source src = {.next_page = next_page, .acknowledged = acknowledged, .ud = s};
    char err[256];
    uint64_t from = load_cursor(s);
    if (webhook_start(&s->webhook, s->loop, &wc, &src, from, err, sizeof err) != 0) {
        log_emit(LOG_ERROR, "cannot start the webhook", json_pack("{s:s,s:s}", "url", s->cfg.webhook_url, "error", err));
        return -1;
    }
    log_emit(LOG_INFO, "webhook", json_pack("{s:s,s:I,s:b}", "url", s->cfg.webhook_url, "after_seq",
                                            (json_int_t)from, "signed", s->cfg.webhook_secret != NULL));
    return 0;
}

/* Only when the feed grew past what the endpoint has: most commits (orders,
 * agents, the webhook's own cursor) carry no event. */
void webhooks_poke(server *s) {
    if (s->webhook == NULL) return;
    webhook_stats st;
    webhook_get_stats(s->webhook, &st);
    if (store_seq_durable(s->db, DB_EVENTS) > st.delivered_seq) webhook_poke(s->webhook);
}

void webhooks_stop(server *s) {
    webhook_stop(s->webhook);
    s->webhook = NULL;
}

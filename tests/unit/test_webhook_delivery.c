/* Webhook delivery against an endpoint in the same loop: pages in order,
 * the same page again after a failure, the signature, and URL parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "webhook/webhook.h"

/* ---- the endpoint: one request per connection, answers from a plan ---- */

typedef struct {
    uv_tcp_t listener;
    int port;
    const int *plan; /* statuses to answer, then 200 */
    int nplan, answered;
    char requests[8][4096];
    int nrequests;
} endpoint;

typedef struct {
    uv_tcp_t tcp;
    endpoint *ep;
    char buf[4096];
    size_t len;
    uv_write_t write;
    char answer[128];
} peer;

static void peer_closed(uv_handle_t *h) { free(h->data); }

static void answered(uv_write_t *w, int status) {
    (void)status;
    peer *p = w->data;
    uv_close((uv_handle_t *)&p->tcp, peer_closed);
}

/* A whole request: headers, then Content-Length bytes. */
static int request_complete(const peer *p) {
    const char *end = strstr(p->buf, "\r\n\r\n");
    const char *cl = strstr(p->buf, "Content-Length: ");
    return end && cl && p->len >= (size_t)(end + 4 - p->buf) + strtoul(cl + 16, NULL, 10);
}

static void peer_alloc(uv_handle_t *h, size_t n, uv_buf_t *b) {
    (void)n;
    peer *p = h->data;
    *b = uv_buf_init(p->buf + p->len, (unsigned)(sizeof p->buf - 1 - p->len));
}

static void peer_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
    (void)b;
    peer *p = s->data;
    if (n < 0) {
        uv_close((uv_handle_t *)&p->tcp, peer_closed);
        return;
    }
    p->len += (size_t)n;
    p->buf[p->len] = '\0';
    if (!request_complete(p)) return;
    uv_read_stop(s);
    endpoint *ep = p->ep;
    if (ep->nrequests < 8) snprintf(ep->requests[ep->nrequests++], sizeof ep->requests[0], "%s", p->buf);
    int status = ep->answered < ep->nplan ? ep->plan[ep->answered] : 200;
    ep->answered++;
    int m = snprintf(p->answer, sizeof p->answer, "HTTP/1.1 %d X\r\nContent-Length: 0\r\n\r\n", status);
    uv_buf_t out = uv_buf_init(p->answer, (unsigned)m);
    p->write.data = p;
    uv_write(&p->write, s, &out, 1, answered);
}

static void on_connection(uv_stream_t *server, int status) {
    assert_int_equal(status, 0);
    endpoint *ep = server->data;
    peer *p = calloc(1, sizeof *p);
    p->ep = ep;
    uv_tcp_init(server->loop, &p->tcp);
    p->tcp.data = p;
    assert_int_equal(uv_accept(server, (uv_stream_t *)&p->tcp), 0);
    uv_read_start((uv_stream_t *)&p->tcp, peer_alloc, peer_read);
}

static void endpoint_listen(uv_loop_t *loop, endpoint *ep) {
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", 0, &addr);
    assert_int_equal(uv_tcp_init(loop, &ep->listener), 0);
    ep->listener.data = ep;
    assert_int_equal(uv_tcp_bind(&ep->listener, (const struct sockaddr *)&addr, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&ep->listener, 16, on_connection), 0);
    struct sockaddr_storage name;
    int len = sizeof name;
    uv_tcp_getsockname(&ep->listener, (struct sockaddr *)&name, &len);
    ep->port = ntohs(((struct sockaddr_in *)&name)->sin_port);
}

/* ---- the source: pages of one event each, seqs 1..3 ---- */

typedef struct {
    uint64_t acked[8];
    int nacked;
    uint64_t max_seq;
} source;

static int next_page(void *ud, uint64_t after, char **body, size_t *len, uint64_t *last) {
    source *src = ud;
    if (after >= src->max_seq) return 0;
    *last = after + 1;
    char text[64];
    int n = snprintf(text, sizeof text, "{\"events\":[{\"seq\":%llu}]}", (unsigned long long)*last);
    *body = strdup(text);
    *len = (size_t)n;
    return 1;
}

static void acknowledged(void *ud, uint64_t seq) {
    source *src = ud;
    src->acked[src->nacked++] = seq;
}

static void run_until_acked(uv_loop_t *loop, source *src, int n) {
    for (int i = 0; i < 2000 && src->nacked < n; i++) uv_run(loop, UV_RUN_ONCE);
}

/* A deliverer to http://127.0.0.1:PORT PATH, with cfg's other settings. */
static webhook *start_to(uv_loop_t *loop, int port, const char *path, webhook_config cfg,
                         source *src, uint64_t delivered) {
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    cfg.url = url; /* the deliverer keeps its own copy of the parts */
    webhook_source ws = {next_page, acknowledged, src};
    webhook *w;
    char err[128];
    assert_int_equal(webhook_start(&w, loop, &cfg, &ws, delivered, err, sizeof err), 0);
    return w;
}

/* Stops the deliverer and checks that every handle it had is closed. */
static void stop_and_close(uv_loop_t *loop, webhook *w, endpoint *ep) {
    webhook_stop(w);
    if (ep) uv_close((uv_handle_t *)&ep->listener, NULL);
    for (int i = 0; i < 100 && uv_run(loop, UV_RUN_NOWAIT) != 0; i++) {}
    assert_int_equal(uv_loop_close(loop), 0);
}

static void delivers_pages_in_order_and_retries_a_failed_one(void **state) {
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    static const int plan[] = {500, 502};
    endpoint ep = {.plan = plan, .nplan = 2};
    endpoint_listen(&loop, &ep);
    source src = {.max_seq = 3};
    webhook_config cfg = {.secret = "k", .backoff_min_ms = 5, .poll_ms = 5};
    webhook *w = start_to(&loop, ep.port, "/in", cfg, &src, 0);
    run_until_acked(&loop, &src, 3);
    assert_int_equal(src.nacked, 3);
    for (int i = 0; i < 3; i++) assert_int_equal(src.acked[i], i + 1);
    assert_int_equal(ep.nrequests, 5); /* seq 1 three times (500, 502, 200), then 2 and 3 */
    assert_non_null(strstr(ep.requests[0], "{\"seq\":1}"));
    assert_non_null(strstr(ep.requests[2], "{\"seq\":1}"));
    assert_non_null(strstr(ep.requests[4], "{\"seq\":3}"));
    webhook_stats st;
    webhook_get_stats(w, &st);
    assert_int_equal(st.delivered_seq, 3);
    assert_int_equal(st.deliveries, 3);
    assert_int_equal(st.failures, 2);
    /* the request line and the signature of the last body */
    assert_true(strncmp(ep.requests[4], "POST /in HTTP/1.1\r\n", 19) == 0);
    const char *body = "{\"events\":[{\"seq\":3}]}";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen;
    HMAC(EVP_sha256(), "k", 1, (const unsigned char *)body, strlen(body), md, &mdlen);
    char want[128] = "X-Aftersale-Signature: sha256=";
    for (unsigned int i = 0; i < mdlen; i++) snprintf(want + 30 + 2 * i, 3, "%02x", md[i]);
    assert_non_null(strstr(ep.requests[4], want));
    stop_and_close(&loop, w, &ep);
}

static void resumes_after_the_given_seq(void **state) {
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    endpoint ep = {0};
    endpoint_listen(&loop, &ep);
    source src = {.max_seq = 3};
    webhook *w = start_to(&loop, ep.port, "", (webhook_config){.poll_ms = 5}, &src, 2);
    run_until_acked(&loop, &src, 1);
    assert_int_equal(src.nacked, 1);
    assert_int_equal(src.acked[0], 3);
    assert_true(strncmp(ep.requests[0], "POST / HTTP/1.1\r\n", 17) == 0);
    assert_null(strstr(ep.requests[0], "X-Aftersale-Signature"));
    stop_and_close(&loop, w, &ep);
}

static void an_unreachable_endpoint_is_retried_not_skipped(void **state) {
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    endpoint ep = {0};
    endpoint_listen(&loop, &ep);
    int port = ep.port;
    uv_close((uv_handle_t *)&ep.listener, NULL); /* nothing listens there now */
    uv_run(&loop, UV_RUN_NOWAIT);
    source src = {.max_seq = 1};
    webhook *w = start_to(&loop, port, "/", (webhook_config){.backoff_min_ms = 1}, &src, 0);
    webhook_stats st = {0};
    for (int i = 0; i < 2000 && st.failures < 3; i++) {
        uv_run(&loop, UV_RUN_ONCE);
        webhook_get_stats(w, &st);
    }
    assert_true(st.failures >= 3);
    assert_int_equal(st.delivered_seq, 0);
    assert_int_equal(src.nacked, 0);
    stop_and_close(&loop, w, NULL);
}

static void urls_we_can_and_cannot_call(void **state) {
    (void)state;
    char host[64], path[64], err[128];
    int port;
    assert_int_equal(webhook_parse_url("http://hooks.example:8080/a/b?x=1", host, sizeof host, &port, path,
                                       sizeof path, err, sizeof err), 0);
    assert_string_equal(host, "hooks.example");
    assert_int_equal(port, 8080);
    assert_string_equal(path, "/a/b?x=1");
    assert_int_equal(webhook_parse_url("http://10.0.0.1", host, sizeof host, &port, path, sizeof path, err,
                                       sizeof err), 0);
    assert_int_equal(port, 80);
    assert_string_equal(path, "/");
    const char *bad[] = {"https://x/", "ftp://x", "http://", "http://:80/", "http://x:0/", "http://x:99999/",
                         "http://x:80x/", "http://x/a b", "http://x/\r\nEvil: 1", "http://[::1]:80/", NULL};
    for (int i = 0; bad[i]; i++)
        assert_int_equal(webhook_parse_url(bad[i], host, sizeof host, &port, path, sizeof path, err,
                                           sizeof err), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(delivers_pages_in_order_and_retries_a_failed_one),
        cmocka_unit_test(resumes_after_the_given_seq),
        cmocka_unit_test(an_unreachable_endpoint_is_retried_not_skipped),
        cmocka_unit_test(urls_we_can_and_cannot_call),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

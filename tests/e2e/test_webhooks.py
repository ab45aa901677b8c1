"""--webhook pushes the events feed: in order, signed, at least once, resumed
after a restart, retried while the endpoint fails. The receiver is a local
HTTP server; the test waits for what it receives (bounded), never sleeps."""
import hashlib
import hmac
import http.server
import json
import os
import subprocess
import tempfile
import threading
import time

from harness import BINARY, Server, ServerTestCase, main, order_body, stop_cleanly

SECRET = "s3cret"


class Receiver:
    """A webhook endpoint that answers each push with the next status in `plan`
    (then 200), and keeps what it accepted."""

    def __init__(self, plan=()):
        self.plan = list(plan)
        self.accepted = []  # (signature, body dict)
        self.refused = 0
        self.lock = threading.Condition()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with outer.lock:
                    status = outer.plan.pop(0) if outer.plan else 200
                    if status == 200:
                        outer.accepted.append((self.headers.get("X-Aftersale-Signature"),
                                               self.path, body))
                    else:
                        outer.refused += 1
                    outer.lock.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def seqs(self):
        with self.lock:
            return [e["seq"] for _, _, body in self.accepted for e in json.loads(body)["events"]]

    def wait_for_seq(self, seq, timeout=10.0):
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                got = [e["seq"] for _, _, b in self.accepted for e in json.loads(b)["events"]]
                if got and got[-1] >= seq:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("webhook never delivered seq %d (got %r)" % (seq, got))
                self.lock.wait(left)


def wait_delivered(server, seq, timeout=10.0):
    """Until the server has the endpoint's answer for seq (its metrics say so)."""
    deadline = time.monotonic() + timeout
    want = "aftersale_webhook_delivered_seq %d\n" % seq
    while want not in server.get("/metrics", token=None).raw.decode():
        if time.monotonic() > deadline:
            raise AssertionError("the server never saw seq %d acknowledged" % seq)
        time.sleep(0.01)  # polling the server's own state, not waiting for time to pass


class WebhookServer(ServerTestCase):
    """A server pushing to a fresh Receiver (self.recv)."""
    plan = ()

    def secret_args(self):
        return ["--webhook-secret", SECRET]

    def setUp(self):
        self.recv = Receiver(plan=self.plan)
        self.addCleanup(self.recv.close)
        self.server_kwargs = {"extra_args": ["--webhook", "http://127.0.0.1:%d/hooks/aftersale" % self.recv.port]
                              + self.secret_args()}
        super().setUp()

    def feed(self):
        return self.s.get("/v1/events?limit=1000").json["events"]

    def work(self, n):
        for i in range(n):
            self.open_case(type="consultation", buyer_id="b%d" % i, reason="other", channel="chat")


class Webhooks(WebhookServer):
    def test_pushes_the_feed_in_order_signed(self):
        self.make_order()
        self.work(3)
        feed = self.feed()
        got = self.recv.wait_for_seq(feed[-1]["seq"])
        self.assertEqual(got, [e["seq"] for e in feed])
        pushed = [e for _, _, b in self.recv.accepted for e in json.loads(b)["events"]]
        self.assertEqual(pushed, feed)  # the same events, byte for byte in JSON terms
        for sig, path, body in self.recv.accepted:
            self.assertEqual(path, "/hooks/aftersale")
            want = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            self.assertEqual(sig, "sha256=" + want)
        # the receiver holds the last page before the server has read its 2xx
        wait_delivered(self.s, feed[-1]["seq"])

    def test_resumes_after_a_restart_without_repeating(self):
        self.work(2)
        first = self.recv.wait_for_seq(self.feed()[-1]["seq"])
        wait_delivered(self.s, first[-1])
        self.assertEqual(self.s.stop(), 0)
        again = Server(data=self.s.data, extra_args=self.server_kwargs["extra_args"]).start()
        self.addCleanup(stop_cleanly, self, again)
        r = again.post("/v1/cases", {"type": "consultation", "buyer_id": "bz", "reason": "other",
                                     "channel": "chat"})
        self.assertStatus(r, 201)
        last = again.get("/v1/events?limit=1000").json["events"][-1]["seq"]
        got = self.recv.wait_for_seq(last)
        self.assertEqual(got[:len(first)], first)
        self.assertEqual(got, sorted(set(got)))  # nothing twice, nothing out of order
        self.assertEqual(got[-1], last)


class FailingEndpoint(WebhookServer):
    plan = (500, 503)  # the first two pushes fail

    def test_a_failing_endpoint_gets_the_same_page_again_until_it_accepts(self):
        self.work(1)
        feed = self.feed()
        got = self.recv.wait_for_seq(feed[-1]["seq"])
        self.assertEqual(got, [e["seq"] for e in feed])
        self.assertEqual(self.recv.refused, 2)
        metrics = self.s.get("/metrics", token=None).raw.decode()
        self.assertIn("aftersale_webhook_failures_total 2", metrics)


def secret_file(text):
    fd, path = tempfile.mkstemp(prefix="as-secret-")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


class SecretFromFile(WebhookServer):
    """--webhook-secret-file: the same signature, the secret off the command line."""

    def secret_args(self):
        path = secret_file(SECRET + "\n")
        self.addCleanup(os.unlink, path)
        return ["--webhook-secret-file", path]

    def test_signs_with_the_file_secret_without_its_newline(self):
        self.work(1)
        self.recv.wait_for_seq(self.feed()[-1]["seq"])
        self.assertTrue(self.recv.accepted)
        for sig, _, body in self.recv.accepted:
            self.assertEqual(sig, "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest())

    def test_a_missing_or_empty_file_stops_the_start(self):
        empty = secret_file("\n")
        self.addCleanup(os.unlink, empty)
        for path in (empty, "/nonexistent/secret"):
            run = subprocess.run([BINARY, "--webhook-secret-file", path], capture_output=True, text=True,
                                 timeout=10)
            self.assertEqual(run.returncode, 2, run.stderr)
            self.assertIn("bad flag or value: --webhook-secret-file " + path, run.stderr)


class BadUrl(ServerTestCase):
    def setUp(self):
        pass

    def test_a_url_we_cannot_call_stops_the_start(self):
        s = Server(extra_args=["--webhook", "https://example.com/hook"])
        with self.assertRaises(RuntimeError) as ctx:
            s.start()
        self.assertIn("https is not supported", str(ctx.exception))
        s.cleanup()


if __name__ == "__main__":
    main()

"""HTTP layer, end to end: keep-alive, pipelining, chunked bodies, Connection
handling, the limits (431, 413), malformed input (400 and close), JSON and
UTF-8 errors, 404/405, slow clients, and a graceful SIGTERM.

The idle and request timeouts and the connection cap, which need short
values set by flags, are in test_http_timeouts.py.
"""
import json
import os
import signal
import socket
import time

from harness import Server, ServerTestCase, T0, main, order_body

AUTH = "Authorization: Bearer adm\r\n"


class RawResponse:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    def __repr__(self):
        return "<%d %r %r>" % (self.status, self.headers, self.body[:300])


class RawConn:
    """One client connection driven by hand (bytes in, parsed answers out)."""

    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        b = self.sock.recv(65536)
        if not b:
            raise EOFError("connection closed by the server")
        self.buf += b

    def read_response(self, to_head=False):
        """The next answer; to_head: the answer to a HEAD request (no body)."""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        version, status, reason = (lines[0].split(" ", 2) + [""])[:3]
        assert version == "HTTP/1.1", lines[0]
        headers = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
        n = 0 if to_head else int(headers.get("content-length", "0"))
        while len(self.buf) < n:
            self._fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        return RawResponse(int(status), reason, headers, body)

    def at_eof(self):
        """True if the server closed the connection (EOF, or a reset after
        its answer) with no further bytes."""
        try:
            b = self.sock.recv(65536)
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False
        return b == b"" and self.buf == b""


def req(method, path, body=None, headers="", auth=True, version="HTTP/1.1"):
    data = b""
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
    head = "%s %s %s\r\nHost: test\r\n%s%s" % (method, path, version, AUTH if auth else "", headers)
    if body is not None:
        head += "Content-Type: application/json\r\nContent-Length: %d\r\n" % len(data)
    return head.encode() + b"\r\n" + data


class HttpTest(ServerTestCase):
    def conn(self, timeout=5.0):
        c = RawConn(self.s.port, timeout)
        self.addCleanup(c.close)
        return c

    def assertAlive(self):
        r = self.s.get("/healthz", token=None)
        self.assertStatus(r, 200)
        self.assertEqual(r["status"], "ok")

    def assertRawError(self, r, status, code):
        self.assertEqual(r.status, status, repr(r))
        self.assertIsInstance(r.json, dict, repr(r))
        self.assertEqual(r.json["error"]["code"], code, repr(r))
        self.assertIsInstance(r.json["error"]["message"], str)
        self.assertEqual(r.headers.get("content-type"), "application/json")
        return r.json["error"]

    # ---- keep-alive and pipelining ------------------------------------------------

    def test_keep_alive_serves_many_requests_on_one_connection(self):
        c = self.conn()
        ids = []
        for i in range(5):
            c.send(req("POST", "/v1/orders", order_body(order_id="k%d" % i)))
            r = c.read_response()
            self.assertEqual(r.status, 201, repr(r))
            self.assertEqual(r.headers.get("connection"), "keep-alive")
            c.send(req("GET", "/v1/orders/k%d" % i))
            r = c.read_response()
            self.assertEqual(r.status, 200, repr(r))
            self.assertEqual(r.json["order_id"], "k%d" % i)
            ids.append(int(r.headers["x-request-id"]))
        self.assertEqual(ids, sorted(set(ids)), "request ids grow on the connection")

    def test_http10_closes_unless_keep_alive_asked(self):
        c = self.conn()
        c.send(req("GET", "/healthz", auth=False, version="HTTP/1.0"))
        r = c.read_response()
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers.get("connection"), "close")
        self.assertTrue(c.at_eof())
        c = self.conn()
        c.send(req("GET", "/healthz", auth=False, version="HTTP/1.0", headers="Connection: keep-alive\r\n"))
        self.assertEqual(c.read_response().status, 200)
        c.send(req("GET", "/healthz", auth=False, version="HTTP/1.0", headers="Connection: keep-alive\r\n"))
        self.assertEqual(c.read_response().status, 200)

    def test_pipelined_requests_are_answered_in_order(self):
        c = self.conn()
        # A durable write in the middle: its answer comes after a commit, and
        # the reads queued behind it must still come after it, in order.
        batch = (req("GET", "/healthz", auth=False)
                 + req("POST", "/v1/orders", order_body(order_id="p1"))
                 + req("GET", "/v1/orders/p1")
                 + req("GET", "/v1/orders/nope")
                 + req("POST", "/v1/orders", order_body(order_id="p1", shipping_cents=1))
                 + req("GET", "/v1/orders/p1")
                 + req("DELETE", "/v1/orders/p1"))
        c.send(batch)
        got = [c.read_response() for _ in range(7)]
        self.assertEqual([r.status for r in got], [200, 201, 200, 404, 200, 200, 405], got)
        self.assertEqual(got[2].json["order_id"], "p1")
        self.assertEqual(got[2].json["shipping_cents"], 800)
        self.assertEqual(got[5].json["shipping_cents"], 1)
        ids = [int(r.headers["x-request-id"]) for r in got]
        self.assertEqual(ids, sorted(ids))
        # and the connection is still usable afterwards
        c.send(req("GET", "/healthz", auth=False))
        self.assertEqual(c.read_response().status, 200)

    def test_pipelined_batch_then_half_close_gets_every_answer(self):
        c = self.conn()
        c.send(b"".join(req("POST", "/v1/orders", order_body(order_id="h%d" % i)) for i in range(4)))
        c.sock.shutdown(socket.SHUT_WR)
        got = [c.read_response() for _ in range(4)]
        self.assertEqual([r.status for r in got], [201] * 4)
        self.assertEqual(got[-1].headers.get("connection"), "close")
        self.assertTrue(c.at_eof())
        for i in range(4):
            self.assertStatus(self.s.get("/v1/orders/h%d" % i), 200)

    def test_head_is_get_without_a_body(self):
        self.make_order()
        c = self.conn()
        get = req("GET", "/v1/orders/o1")
        c.send(get.replace(b"GET ", b"HEAD ", 1) + get + req("HEAD", "/v1/orders/none") + req("HEAD", "/healthz", auth=False))
        h = c.read_response(to_head=True)
        self.assertEqual(h.status, 200, repr(h))
        g = c.read_response()  # parses only if the HEAD answer carried no body bytes
        self.assertEqual(g.status, 200)
        self.assertEqual(g.json["order_id"], "o1")
        self.assertEqual(int(h.headers["content-length"]), len(g.body))
        self.assertEqual(c.read_response(to_head=True).status, 404)
        self.assertEqual(c.read_response(to_head=True).status, 200)
        c.send(req("GET", "/healthz", auth=False))
        self.assertEqual(c.read_response().json["status"], "ok")
        # HEAD needs the same token as GET
        c.send(req("HEAD", "/v1/orders/o1", auth=False))
        self.assertEqual(c.read_response(to_head=True).status, 401)

    # ---- bodies ----------------------------------------------------------------------

    def test_chunked_request_body(self):
        body = json.dumps(order_body(order_id="ch1", shipping_cents=123)).encode()
        parts = [body[:10], body[10:11], body[11:200], body[200:]]
        chunked = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts if p) + b"0\r\n\r\n"
        c = self.conn()
        head = ("POST /v1/orders HTTP/1.1\r\nHost: t\r\n" + AUTH +
                "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
        # written in pieces, so chunks straddle reads
        c.send(head)
        for i in range(0, len(chunked), 37):
            c.send(chunked[i:i + 37])
        r = c.read_response()
        self.assertEqual(r.status, 201, repr(r))
        self.assertEqual(r.json["shipping_cents"], 123)
        c.send(req("GET", "/v1/orders/ch1"))
        r = c.read_response()
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json["shipping_cents"], 123)

    def test_chunked_body_over_the_limit_is_413(self):
        s = Server(extra_args=["--max-body", "1000"]).start()
        self.addCleanup(s.cleanup)
        c = RawConn(s.port)
        self.addCleanup(c.close)
        head = ("POST /v1/orders HTTP/1.1\r\nHost: t\r\n" + AUTH +
                "Transfer-Encoding: chunked\r\n\r\n").encode()
        chunk = b"x" * 600
        c.send(head + b"%x\r\n%s\r\n" % (len(chunk), chunk) * 2 + b"0\r\n\r\n")
        r = c.read_response()
        self.assertRawError(r, 413, "body_too_large")
        self.assertEqual(r.headers.get("connection"), "close")
        self.assertTrue(c.at_eof())
        self.assertStatus(s.get("/healthz", token=None), 200)

    def test_expect_100_continue(self):
        c = self.conn()
        body = json.dumps(order_body(order_id="e1")).encode()
        c.send(("POST /v1/orders HTTP/1.1\r\nHost: t\r\n" + AUTH +
                "Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body)).encode())
        while b"\r\n\r\n" not in c.buf:
            c._fill()
        self.assertTrue(c.buf.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), c.buf)
        c.buf = c.buf[len(b"HTTP/1.1 100 Continue\r\n\r\n"):]
        c.send(body)
        self.assertEqual(c.read_response().status, 201)

    # ---- Connection: close ---------------------------------------------------------------

    def test_connection_close_is_honoured(self):
        c = self.conn()
        # a second request written behind the closing one is never answered
        c.send(req("GET", "/healthz", auth=False, headers="Connection: close\r\n")
               + req("POST", "/v1/orders", order_body(order_id="after-close")))
        r = c.read_response()
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers.get("connection"), "close")
        self.assertTrue(c.at_eof(), "the server closes after a Connection: close request")
        self.assertStatus(self.s.get("/v1/orders/after-close"), 404)

    # ---- limits --------------------------------------------------------------------------

    def test_a_single_valued_header_given_twice_is_400(self):
        # two Authorization headers (a proxy that added its own): which one
        # counts would be a guess, so neither does
        for extra in ("Authorization: Bearer svc1\r\n", "Idempotency-Key: a\r\nIdempotency-Key: b\r\n"):
            with self.subTest(extra=extra):
                c = self.conn()
                c.send(req("GET", "/v1/agents", headers=extra))
                err = self.assertRawError(c.read_response(), 400, "bad_request")
                self.assertIn("appears more than once", err["message"])
        self.assertAlive()

    def test_header_section_over_16k_is_431_and_closes(self):
        c = self.conn()
        c.send(req("GET", "/healthz", auth=False, headers="X-Big: %s\r\n" % ("a" * (17 * 1024))))
        r = c.read_response()
        err = self.assertRawError(r, 431, "headers_too_large")
        self.assertEqual(err["message"], "the header section is too large")  # not llhttp's words
        self.assertEqual(r.headers.get("connection"), "close")
        self.assertTrue(c.at_eof())
        self.assertAlive()

    def test_trailers_that_break_a_limit_after_the_headers(self):
        # trailers grow the header buffer after the path is known; the answer
        # and its access log line must not read the buffer it had moved from
        head = (b"POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"1\r\na\r\n0\r\nX-T1: " + b"b" * 3000 + b"\r\n")
        for tail, status, code in ((b"X-T2: " + b"c" * 20000 + b"\r\n\r\n", 431, "headers_too_large"),
                                   (b"X\x01bad: y\r\n\r\n", 400, "bad_request")):
            with self.subTest(status=status):
                c = self.conn()
                c.send(head + tail)
                self.assertRawError(c.read_response(), status, code)
                self.assertAlive()

    def test_request_target_over_16k_is_414(self):
        c = self.conn()
        c.send(req("GET", "/v1/orders/" + "a" * (20 * 1024)))
        r = c.read_response()
        err = self.assertRawError(r, 414, "uri_too_long")
        self.assertEqual(err["message"], "the request target is too long")
        self.assertTrue(c.at_eof())
        self.assertAlive()

    def test_absolute_form_target_is_served_as_its_path(self):
        self.assertStatus(self.s.post("/v1/orders", order_body(order_id="abs1")), 201)
        c = self.conn()
        for target, status in (("http://example.com/healthz", 200), ("HTTPS://x:8080/v1/orders/abs1", 200),
                               ("http://example.com/v1/cases?limit=1", 200),
                               ("http://example.com", 404), ("http://example.com?q=1", 404)):
            with self.subTest(target=target):
                c.send(req("GET", target))
                r = c.read_response()
                self.assertEqual(r.status, status, repr(r))

    def test_many_headers_over_16k_is_431(self):
        headers = "".join("X-H%d: %s\r\n" % (i, "v" * 100) for i in range(200))  # ~21 KiB
        r = RawConn(self.s.port)
        self.addCleanup(r.close)
        r.send(req("GET", "/healthz", auth=False, headers=headers))
        err = self.assertRawError(r.read_response(), 431, "headers_too_large")
        self.assertEqual(err["message"], "the header section is too large")
        self.assertAlive()

    def test_header_section_under_16k_is_fine(self):
        c = self.conn()
        c.send(req("GET", "/v1/orders/none", headers="X-Big: %s\r\n" % ("a" * (14 * 1024))))
        r = c.read_response()
        self.assertRawError(r, 404, "not_found")
        self.assertEqual(r.headers.get("connection"), "keep-alive")

    def test_body_over_default_limit_is_413(self):
        c = self.conn()
        # refused on the Content-Length alone: the client need not send 1 MiB
        c.send(("POST /v1/orders HTTP/1.1\r\nHost: t\r\n" + AUTH +
                "Content-Length: %d\r\n\r\n" % (1024 * 1024 + 1)).encode() + b"{")
        r = c.read_response()
        err = self.assertRawError(r, 413, "body_too_large")
        self.assertEqual(err["message"], "the body is larger than the limit")
        self.assertTrue(c.at_eof())
        self.assertAlive()

    def test_body_over_max_body_flag_is_413(self):
        s = Server(extra_args=["--max-body", "1000"]).start()
        self.addCleanup(s.cleanup)
        small = order_body(order_id="small")
        self.assertLess(len(json.dumps(small)), 1000)
        self.assertEqual(s.post("/v1/orders", small).status, 201)
        big = order_body(order_id="big", items=[{"sku": "s%d" % i, "category": "apparel",
                                                  "price_cents": 100, "qty": 1} for i in range(30)])
        self.assertGreater(len(json.dumps(big)), 1000)
        r = s.post("/v1/orders", big)
        self.assertError(r, 413, "body_too_large")
        self.assertEqual(r.headers.get("connection"), "close")
        self.assertEqual(s.get("/v1/orders/big").status, 404)
        self.assertEqual(s.get("/v1/orders/small").status, 200)
        # exactly at the limit is accepted (as far as size goes)
        pad = b" " * (1000 - len(json.dumps(small).encode()))
        self.assertEqual(s.post("/v1/orders", raw_body=json.dumps(small).encode() + pad).status, 200)
        r = s.post("/v1/orders", raw_body=json.dumps(small).encode() + pad + b" ")
        self.assertError(r, 413, "body_too_large")

    # ---- malformed input -----------------------------------------------------------------

    def test_malformed_request_line_is_400_and_closes(self):
        for bad in (b"GARBAGE\r\n\r\n", b"GET /healthz HTTP/9.9\r\n\r\n",
                    b"GET /healthz HTTP/2.0\r\n\r\n", b"GET /healthz HTTP/1.2\r\n\r\n",
                    b"GET /healthz\r\n\r\n",  # HTTP/0.9: not answered in 1.1 framing
                    b"get /healthz HTTP/1.1\r\n\r\n", b"\x00\x01\x02\r\n\r\n",
                    b"GET /healthz HTTP/1.1\r\nBad Header\r\n\r\n",
                    b"POST /v1/orders HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
                    b"POST /v1/orders HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                    b"POST /v1/orders HTTP/1.1\r\nContent-Length: 1\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                    b"POST /v1/orders HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"):
            with self.subTest(bad=bad):
                c = self.conn()
                c.send(bad)
                r = c.read_response()
                self.assertRawError(r, 400, "bad_request")
                self.assertEqual(r.headers.get("connection"), "close")
                self.assertTrue(c.at_eof(), "closed after a malformed request")
                self.assertAlive()

    def test_malformed_request_after_a_good_one_answers_both(self):
        c = self.conn()
        c.send(req("GET", "/healthz", auth=False) + b"NOT HTTP AT ALL\r\n\r\n")
        self.assertEqual(c.read_response().status, 200)
        self.assertRawError(c.read_response(), 400, "bad_request")
        self.assertTrue(c.at_eof())
        self.assertAlive()

    def test_invalid_json_is_400_saying_where(self):
        r = self.s.post("/v1/orders", raw_body=b'{"order_id": "o1",\n  "buyer_id": }')
        err = self.assertError(r, 400, "invalid_json")
        self.assertEqual(err["line"], 2)
        self.assertIsInstance(err["column"], int)
        self.assertIsInstance(err["position"], int)
        self.assertGreater(err["position"], 18)
        self.assertIn("line 2", err["message"])
        for body in (b"", b"[1,2]", b"nul", b'{"a":1,"a":2}', b"{" * 5000):
            with self.subTest(body=body[:20]):
                self.assertError(self.s.post("/v1/orders", raw_body=body), 400, "invalid_json")
        self.assertAlive()

    def test_invalid_utf8_is_400(self):
        good = json.dumps(order_body(order_id="u1")).encode()
        for bad in (good.replace(b'"item s1"', b'"item \xff\xfe"'),
                    good.replace(b'"item s1"', b'"\xc3"'),
                    good.replace(b'"item s1"', b'"\xed\xa0\x80"')):  # a UTF-16 surrogate
            with self.subTest(bad=bad[-60:]):
                r = self.s.post("/v1/orders", raw_body=bad)
                self.assertError(r, 400)
        self.assertStatus(self.s.get("/v1/orders/u1"), 404)
        # valid non-ASCII text is fine and comes back as sent
        body = order_body(order_id="u2")
        body["items"][0]["title"] = "连衣裙 \u00e9\U0001F600"
        self.assertStatus(self.s.post("/v1/orders", raw_body=json.dumps(body, ensure_ascii=False).encode()), 201)
        self.assertEqual(self.s.get("/v1/orders/u2")["items"][0]["title"], "连衣裙 \u00e9\U0001F600")
        self.assertAlive()

    def test_unknown_route_is_404(self):
        for path in ("/v1/nope", "/", "/v1/orders/o1/nope", "/v2/orders", "/healthz/x"):
            with self.subTest(path=path):
                self.assertError(self.s.get(path), 404, "not_found")
        self.assertAlive()

    def test_wrong_method_is_405_with_allow(self):
        r = self.s.request("DELETE", "/v1/orders/o1")
        err = self.assertError(r, 405, "method_not_allowed")
        self.assertEqual(err["allow"], "GET")
        self.assertEqual(r.headers.get("allow"), "GET")
        r = self.s.request("PUT", "/v1/orders")
        self.assertEqual(self.assertError(r, 405, "method_not_allowed")["allow"], "POST")
        r = self.s.request("PATCH", "/v1/cases")
        allow = self.assertError(r, 405, "method_not_allowed")["allow"]
        self.assertEqual(sorted(a.strip() for a in allow.split(",")), ["GET", "POST"])
        self.assertEqual(self.s.request("POST", "/healthz").status, 405)
        self.assertAlive()

    def test_server_keeps_serving_after_bad_requests(self):
        c = self.conn()
        c.send(b"\xff" * 100 + b"\r\n\r\n")
        self.assertEqual(c.read_response().status, 400)
        self.s.post("/v1/orders", raw_body=b"{")
        self.s.post("/v1/orders", raw_body=b"\xff")
        self.s.raw(req("GET", "/healthz", headers="X: %s\r\n" % ("b" * 20000)))
        self.s.raw(b"GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\n", timeout=0.3)  # then gone
        self.s.raw(b"GET /healthz HTTP/1.1\r\n", timeout=0.3)  # half a request, then gone
        self.assertEqual(self.s.post("/v1/orders", order_body(order_id="ok")).status, 201)
        self.assertEqual(self.s.get("/v1/orders/ok")["order_id"], "ok")

    # ---- slow clients ----------------------------------------------------------------------

    def test_slow_client_does_not_hold_up_others(self):
        slow = self.conn()
        body = json.dumps(order_body(order_id="slow")).encode()
        data = req("POST", "/v1/orders", body)
        # the slow client has sent a few bytes and keeps trickling
        slow.send(data[:20])
        for i in range(20, 60):
            slow.send(data[i:i + 1])
            if i % 10 == 0:
                other = self.conn(timeout=2.0)
                t = time.monotonic()
                other.send(req("POST", "/v1/orders", order_body(order_id="fast%d" % i)))
                r = other.read_response()
                self.assertEqual(r.status, 201)
                self.assertLess(time.monotonic() - t, 1.0, "another client waits behind a slow one")
        slow.send(data[60:])
        r = slow.read_response()
        self.assertEqual(r.status, 201, repr(r))
        self.assertEqual(self.s.get("/v1/orders/slow")["order_id"], "slow")

    def test_slow_reader_does_not_hold_up_others(self):
        # a client pipelines many requests and never reads its answers
        hog = self.conn()
        hog.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        hog.send(req("GET", "/metrics", auth=False) * 200)
        t = time.monotonic()
        r = self.s.get("/healthz", token=None, timeout=2)
        self.assertEqual(r.status, 200)
        self.assertLess(time.monotonic() - t, 1.0)

    # ---- SIGTERM --------------------------------------------------------------------------

    def test_sigterm_answers_the_request_in_flight_and_exits_0(self):
        c = self.conn()
        body = json.dumps(order_body(order_id="term")).encode()
        post = req("POST", "/v1/orders", body)
        # a complete request and, behind it, the first half of another: once
        # the first is answered the server has read (and started parsing) both
        c.send(req("GET", "/healthz", auth=False) + post[:-10])
        self.assertEqual(c.read_response().status, 200)
        self.s.proc.send_signal(signal.SIGTERM)
        # the listener closes; the request in flight still completes
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.s.port), timeout=0.2).close()
            except OSError:
                break
        c.send(post[-10:])
        r = c.read_response()
        self.assertEqual(r.status, 201, repr(r))
        self.assertEqual(r.headers.get("connection"), "close")
        self.assertTrue(c.at_eof())
        self.assertEqual(self.s.proc.wait(timeout=10), 0, self.s.tail())
        self.s.stop()
        s2 = Server(data=self.s.data).start()
        self.addCleanup(s2.stop)
        self.assertEqual(s2.get("/v1/orders/term")["order_id"], "term")

    def test_sigterm_with_idle_connections_exits_0(self):
        idle = [self.conn() for _ in range(3)]
        for c in idle:
            c.send(req("GET", "/healthz", auth=False))
            self.assertEqual(c.read_response().status, 200)
        t = time.monotonic()
        self.assertEqual(self.s.stop(), 0, self.s.tail())
        self.assertLess(time.monotonic() - t, 5, "idle keep-alive connections do not delay the stop")
        for c in idle:
            self.assertTrue(c.at_eof())


if __name__ == "__main__":
    main()

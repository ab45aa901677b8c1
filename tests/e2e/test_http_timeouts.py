"""Transport limits set by flags: idle keep-alive timeout, request timeout
(408), the connection cap (503) and the write backlog (503 overloaded). These are wall-clock transport timers,
not business time, so the tests wait for the server's own event (a close, an
answer) with a bounded socket timeout instead of sleeping."""
import socket
import time

from harness import ServerTestCase, main

GET = b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"


def read_all(sock, limit=10.0):
    """Everything the server sends until it closes; fails the wait at limit."""
    sock.settimeout(limit)
    chunks = []
    while True:
        b = sock.recv(65536)
        if not b:
            return b"".join(chunks)
        chunks.append(b)


class Timeouts(ServerTestCase):
    server_kwargs = {"extra_args": ["--idle-timeout", "200", "--request-timeout", "300"]}

    def connect(self):
        s = socket.create_connection(("127.0.0.1", self.s.port), timeout=5)
        self.addCleanup(s.close)
        return s

    def test_idle_keep_alive_connection_is_closed(self):
        c = self.connect()
        c.sendall(GET)
        started = time.monotonic()
        got = read_all(c)
        self.assertTrue(got.startswith(b"HTTP/1.1 200"), got)
        self.assertGreaterEqual(time.monotonic() - started, 0.15)  # kept alive a while first

    def test_request_that_never_completes_gets_408_and_is_closed(self):
        c = self.connect()
        c.sendall(b"POST /v1/orders HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n{\"order")
        got = read_all(c)
        self.assertTrue(got.startswith(b"HTTP/1.1 408"), got)
        self.assertIn(b'"code":"request_timeout"', got)

    def test_a_trickling_client_is_cut_off_while_others_are_served(self):
        slow = self.connect()
        slow.sendall(b"GET /healthz HTTP/1.1\r\n")
        for _ in range(3):
            self.assertStatus(self.s.get("/healthz", token=None), 200)
        got = read_all(slow)
        self.assertTrue(got.startswith(b"HTTP/1.1 408"), got)
        self.assertStatus(self.s.get("/healthz", token=None), 200)

    def open_connections(self):
        text = self.s.get("/metrics", token=None).raw.decode()
        return int(text.split("\naftersale_http_connections ")[1].split()[0])

    def test_a_client_that_stops_reading_its_answers_is_closed(self):
        # pipelined answers pile up in the socket buffers of a client that
        # never reads; the server must not hold them (or its shutdown) forever
        c = socket.socket()
        self.addCleanup(c.close)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        c.connect(("127.0.0.1", self.s.port))
        c.settimeout(5)
        burst = GET * 500
        try:
            for _ in range(40):  # ~20000 answers, far more than the buffers hold
                c.sendall(burst)
            c.sendall(GET.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
        except (ConnectionResetError, BrokenPipeError):
            pass  # on a slow machine the server's timer closed it before we finished: the point of the test
        deadline = time.monotonic() + 10
        while self.open_connections() > 1 and time.monotonic() < deadline:
            time.sleep(0.05)  # waiting for the server's own timer, not for time to pass
        self.assertEqual(self.open_connections(), 1, "only the /metrics connection is left")


class ConnectionCap(ServerTestCase):
    server_kwargs = {"extra_args": ["--max-connections", "2"]}

    def test_connections_over_the_cap_get_503_and_a_freed_slot_serves_again(self):
        held = []
        for _ in range(2):
            c = socket.create_connection(("127.0.0.1", self.s.port), timeout=5)
            c.sendall(GET)
            self.assertTrue(c.recv(65536).startswith(b"HTTP/1.1 200"))
            held.append(c)
        over = socket.create_connection(("127.0.0.1", self.s.port), timeout=5)
        over.sendall(GET)
        got = read_all(over)
        over.close()
        self.assertTrue(got.startswith(b"HTTP/1.1 503"), got)
        self.assertIn(b"too_many_connections", got)
        held.pop().close()
        deadline = time.monotonic() + 5
        while True:  # the server learns of the close asynchronously
            r = self.s.get("/healthz", token=None)
            if r.status == 200 or time.monotonic() > deadline:
                break
        self.assertStatus(r, 200)
        for c in held:
            c.close()


class WriteBacklog(ServerTestCase):
    server_kwargs = {"extra_args": ["--max-pending-writes", "1"]}

    def test_writes_past_the_backlog_get_503_and_reads_still_work(self):
        from test_http import RawConn, req
        from harness import order_body
        conns = [RawConn(self.s.port) for _ in range(20)]
        for c in conns:
            self.addCleanup(c.close)
        # twenty writes at once: the loop reads them while the first one's
        # commit (an fsync) is still running, so all but it find the backlog full
        for i, c in enumerate(conns):
            c.send(req("POST", "/v1/orders", order_body(order_id="o%d" % i)))
        answers = [c.read_response() for c in conns]
        statuses = [a.status for a in answers]
        self.assertIn(201, statuses)
        self.assertIn(503, statuses)
        self.assertEqual(set(statuses), {201, 503})
        for i, a in enumerate(answers):
            if a.status == 503:
                self.assertEqual(a.json["error"]["code"], "overloaded")
                self.assertEqual(a.headers.get("retry-after"), "1")
                self.assertStatus(self.s.get("/v1/orders/o%d" % i), 404)  # nothing half-written
            else:
                self.assertStatus(self.s.get("/v1/orders/o%d" % i), 200)
        self.assertStatus(self.s.post("/v1/orders", order_body(order_id="later")), 201)


class Flags(ServerTestCase):
    def test_bad_values_are_refused_at_start(self):
        import subprocess
        from harness import BINARY
        for flag, value in (("--idle-timeout", "0"), ("--request-timeout", "-5"),
                            ("--max-connections", "many"), ("--max-pending-writes", "0")):
            run = subprocess.run([BINARY, flag, value], capture_output=True, text=True, timeout=10)
            self.assertEqual(run.returncode, 2, (flag, value, run.stderr))
            self.assertIn("bad flag or value: %s %s" % (flag, value), run.stderr)


if __name__ == "__main__":
    main()

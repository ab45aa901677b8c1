"""End-to-end harness: start the real aftersaled on a free loopback port with a
temporary data dir, talk HTTP to it, stop it. Python 3 standard library only.

Time is the manual clock: every server starts with --clock manual set to T0, a
fixed Monday morning in Beijing, so windows and SLAs are deterministic and tests
move time with advance()/set_clock(), never with sleeps.
"""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

BINARY = os.environ.get("AFTERSALED") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "aftersaled")
POLICIES = os.environ.get("AS_POLICIES") or os.path.join(
    os.path.dirname(__file__), "..", "..", "policies")

DAY = 86400
HOUR = 3600
# 2026-11-02 10:00 +08:00 (a Monday, working hours in the default calendar).
T0 = 1793584800

TOKENS = [
    {"token": "adm", "role": "admin"},
    {"token": "ag1", "role": "agent", "merchant": "m1", "agent": "a1"},
    {"token": "svc1", "role": "service", "merchant": "m1"},
    {"token": "svc2", "role": "service", "merchant": "m2"},
    {"token": "ag2", "role": "agent", "merchant": "m2", "agent": "a2"},
    {"token": "svc", "role": "service"},
]


# ctest sets AS_ANSWERS_DIR: every answer a test gets through Server.request is
# appended there (a JSON line), and ctest's openapi.answers checks them all
# against docs/openapi.json once the e2e tests are done (openapi_check.py).
ANSWERS_DIR = os.environ.get("AS_ANSWERS_DIR")
_answers_lock = threading.Lock()


def record_answer(method, path, response):
    if not ANSWERS_DIR:
        return
    big = len(response.raw) > 65536  # (a full-disk test's huge orders): its status and type only
    line = json.dumps({"test": os.path.basename(sys.argv[0]), "method": method, "path": path,
                       "status": response.status, "content_type": response.headers.get("content-type"),
                       "body": None if big else response.raw.decode("utf-8", "replace")})
    with _answers_lock:
        os.makedirs(ANSWERS_DIR, exist_ok=True)
        with open(os.path.join(ANSWERS_DIR, "%d.jsonl" % os.getpid()), "a") as f:
            f.write(line + "\n")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Response:
    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers
        self.raw = raw
        try:
            self.json = json.loads(raw) if raw else None
        except ValueError:
            self.json = None

    def __getitem__(self, key):
        return self.json[key]

    def __repr__(self):
        return "<%d %s>" % (self.status, self.raw[:400])


class Server:
    """One aftersaled process. Reuse `data` to restart on the same store."""

    def __init__(self, data=None, policies=None, tokens=TOKENS, manual_clock=True,
                 extra_args=(), t0=T0):
        self.owns_data = data is None
        self.data = data or tempfile.mkdtemp(prefix="as-e2e-")
        self.policies = policies or POLICIES
        self.tokens = tokens
        self.manual_clock = manual_clock
        self.extra_args = list(extra_args)
        self.t0 = t0
        self.proc = None
        self.port = None
        self.log_path = os.path.join(self.data, "server.log")

    def start(self):
        tok_path = os.path.join(self.data, "tokens.json")
        if self.tokens is not None:
            with open(tok_path, "w") as f:
                json.dump({"tokens": self.tokens}, f)
        self.port = free_port()
        args = [BINARY, "--listen", "127.0.0.1:%d" % self.port,
                "--data", os.path.join(self.data, "db"), "--policies", self.policies]
        if self.tokens is not None:
            args += ["--tokens", tok_path]
        if self.manual_clock:
            args += ["--clock", "manual"]
        args += self.extra_args
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        self.wait_ready()
        if self.manual_clock and self.t0 is not None:
            self.set_clock(self.t0)
        return self

    def wait_ready(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited %d: %s" % (self.proc.returncode, self.tail()))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)  # waiting for the process to listen, not for server time
        raise RuntimeError("server did not listen: " + self.tail())

    def tail(self, n=4000):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-n:].decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=15):
        """Stop the process; answers its exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.proc = None
        self.log.close()
        return rc

    def kill9(self):
        return self.stop(signal.SIGKILL)

    def cleanup(self):
        self.stop()
        if self.owns_data:
            shutil.rmtree(self.data, ignore_errors=True)

    # --- HTTP -------------------------------------------------------------
    def request(self, method, path, body=None, token="adm", headers=None, raw_body=None,
                timeout=30):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            h = {}
            if token is not None:
                h["Authorization"] = "Bearer " + token
            data = raw_body
            if body is not None:
                data = json.dumps(body).encode()
            if data is not None:
                h["Content-Type"] = "application/json"
            h.update(headers or {})
            conn.request(method, path, body=data, headers=h)
            r = conn.getresponse()
            response = Response(r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read())
            record_answer(method, path, response)
            return response
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body, **kw)

    def raw(self, data, timeout=5.0, read_until_close=True):
        """Send raw bytes on a new connection; answers everything read until the
        server closes (or the timeout)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            s.sendall(data)
            chunks = []
            try:
                while True:
                    b = s.recv(65536)
                    if not b:
                        break
                    chunks.append(b)
                    if not read_until_close:
                        break
            except socket.timeout:
                pass
            return b"".join(chunks)

    # --- clock ------------------------------------------------------------
    def set_clock(self, ts):
        r = self.post("/v1/admin/clock", {"set": ts})
        assert r.status == 200, r
        return r["now"]

    def advance(self, seconds):
        r = self.post("/v1/admin/clock", {"advance": seconds})
        assert r.status == 200, r
        return r["now"]


def order_body(order_id="o1", buyer_id="b1", merchant_id="m1", paid_at=None,
               delivered_at="default", shipping_cents=800, category="apparel",
               price_cents=5000, qty=2, sku="s1", buyer=None, items=None, now=T0):
    """A valid order: paid 3 days before `now`, delivered 2 days before."""
    body = {
        "order_id": order_id, "buyer_id": buyer_id, "merchant_id": merchant_id,
        "paid_at": paid_at if paid_at is not None else now - 3 * DAY,
        "shipping_cents": shipping_cents,
        "items": items or [{"sku": sku, "category": category, "price_cents": price_cents,
                            "qty": qty, "title": "item " + sku}],
        "buyer": buyer if buyer is not None else {"tier": "regular", "phone": "13812345678",
                                                  "email": "alice@example.com"},
    }
    if delivered_at == "default":
        body["delivered_at"] = now - 2 * DAY
    elif delivered_at is not None:
        body["delivered_at"] = delivered_at
    return body


def policies_copy(test):
    """A private copy of the default policy set, removed after the test: for
    tests that edit policies or reload them."""
    path = tempfile.mkdtemp(prefix="as-policies-")
    test.addCleanup(shutil.rmtree, path, True)
    shutil.copytree(POLICIES, path, dirs_exist_ok=True)
    return path


def wrap_module(pol, name, hook):
    """Inserts hook (Lua that redefines functions of M) before the module's
    final `return M`, so the set's own functions stay reachable."""
    path = os.path.join(pol, name)
    with open(path) as f:
        src = f.read()
    idx = src.rstrip().rfind("return M")
    with open(path, "w") as f:
        f.write(src[:idx] + hook + "return M\n")


def stop_cleanly(test, server):
    """SIGTERM must end the server with 0: a crash, or a leak the sanitizers
    report at exit, fails the test that caused it."""
    if server.proc is None:
        return  # the test stopped it itself
    rc = server.stop()
    test.assertEqual(rc, 0, "server exit code %r; log tail:\n%s" % (rc, server.tail()))


class ServerTestCase(unittest.TestCase):
    """A fresh server per test; self.s is it."""
    server_kwargs = {}

    def setUp(self):
        self.s = Server(**self.server_kwargs).start()
        self.addCleanup(self.s.cleanup)
        self.addCleanup(self.stop_cleanly, self.s)

    def stop_cleanly(self, server):
        stop_cleanly(self, server)

    def assertStatus(self, r, status, msg=None):
        self.assertEqual(r.status, status, msg or repr(r))

    def assertError(self, r, status, code=None):
        self.assertStatus(r, status)
        self.assertIsInstance(r.json, dict, repr(r))
        self.assertIn("error", r.json, repr(r))
        self.assertIsInstance(r.json["error"].get("message"), str, repr(r))
        if code is not None:
            self.assertEqual(r.json["error"].get("code"), code, repr(r))
        return r.json["error"]

    def make_order(self, token="adm", **kw):
        r = self.s.post("/v1/orders", order_body(**kw), token=token)
        self.assertStatus(r, 201)
        return r.json

    def make_agent(self, agent_id="a1", queues=("after_sales",), skills=(), capacity=5,
                   online=True, token="adm", **extra):
        body = {"agent_id": agent_id, "name": agent_id.upper(), "queues": list(queues),
                "skills": list(skills), "capacity": capacity, "online": online}
        body.update(extra)
        r = self.s.post("/v1/agents", body, token=token)
        self.assertIn(r.status, (200, 201), repr(r))
        return r.json

    def open_case(self, token="adm", expect=201, headers=None, **fields):
        body = {"channel": "app", "reason": "no_reason"}
        body.update(fields)
        r = self.s.post("/v1/cases", body, token=token, headers=headers)
        self.assertStatus(r, expect)
        return r.json

    def act(self, case_id, action, token="adm", expect=200, headers=None, **fields):
        body = {"action": action}
        body.update(fields)
        r = self.s.post("/v1/cases/%s/actions" % case_id, body, token=token, headers=headers)
        self.assertStatus(r, expect)
        return r.json


def main():
    unittest.main(verbosity=2)

"""Durability end to end: a 2xx answer to a write means it is on disk.

Several threads write orders (and one opens cases) as fast as the server
answers; the server is killed with SIGKILL (or stopped with SIGTERM) in the
middle of the burst and restarted on the same data dir. Every write that was
acknowledged must be there, equal to what was answered, and nothing may be
torn. A write that was sent but not answered may or may not be there.
"""
import http.client
import json
import threading
import time
import unittest

from harness import Server, T0, main, order_body, stop_cleanly

THREADS = 6
TARGET_ACKS = 600   # acknowledged writes before the server is stopped
MAX_BURST_S = 15.0  # give up waiting for TARGET_ACKS after this long


class Writer(threading.Thread):
    """Writes new orders w{n}-{i}, and every third request replaces its own
    order w{n}-r with shipping_cents = i (so the last acknowledged version,
    not just any version, must survive)."""

    def __init__(self, port, n):
        super().__init__(daemon=True)
        self.port, self.n = port, n
        self.acked = {}          # order_id -> answered body (admin: unmasked)
        self.replace_acked = None  # (i, answered body) of the last acknowledged replace
        self.replace_sent = None   # shipping_cents of a replace sent but not answered
        self.unacked = set()     # new order ids sent without a 2xx answer
        self.errors = []         # non-2xx answers (there should be none)
        self.stop = False

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        i = 0
        while not self.stop:
            i += 1
            replace = i % 3 == 0
            oid = "w%d-r" % self.n if replace else "w%d-%d" % (self.n, i)
            body = order_body(order_id=oid, buyer_id="b%d" % self.n, shipping_cents=i,
                              price_cents=100 + i, qty=1 + i % 4)
            if replace:
                self.replace_sent = i
            else:
                self.unacked.add(oid)
            try:
                conn.request("POST", "/v1/orders", body=json.dumps(body).encode(),
                             headers={"Authorization": "Bearer adm", "Content-Type": "application/json"})
                r = conn.getresponse()
                data = r.read()
            except (OSError, http.client.HTTPException):
                break  # the server went away: this write is unacknowledged
            if r.status not in (200, 201):
                if r.status != 503:  # shutting down is a fair answer
                    self.errors.append((r.status, data[:200]))
                break
            answer = json.loads(data)
            if replace:
                self.replace_acked = (i, answer)
                self.replace_sent = None
            else:
                self.unacked.discard(oid)
                self.acked[oid] = answer
        conn.close()

    def count(self):
        return len(self.acked) + (1 if self.replace_acked else 0)


class CaseWriter(threading.Thread):
    """Opens return cases on one order as fast as answered."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.acked = {}
        self.errors = []
        self.stop = False

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        body = json.dumps({"type": "return", "order_id": "co", "channel": "app",
                           "reason": "quality"}).encode()
        while not self.stop:
            try:
                conn.request("POST", "/v1/cases", body=body,
                             headers={"Authorization": "Bearer adm", "Content-Type": "application/json"})
                r = conn.getresponse()
                data = r.read()
            except (OSError, http.client.HTTPException):
                break
            if r.status != 201:
                if r.status != 503:
                    self.errors.append((r.status, data[:200]))
                break
            c = json.loads(data)
            self.acked[c["case_id"]] = c
        conn.close()


class DurabilityTest(unittest.TestCase):
    def start_burst(self, s):
        r = s.post("/v1/orders", order_body(order_id="co", buyer_id="bc"))
        self.assertEqual(r.status, 201, repr(r))
        writers = [Writer(s.port, n) for n in range(THREADS)]
        cw = CaseWriter(s.port)
        for w in writers + [cw]:
            w.start()
        deadline = time.monotonic() + MAX_BURST_S
        # waiting for the writers' progress, not for server time
        while sum(w.count() for w in writers) < TARGET_ACKS and time.monotonic() < deadline:
            time.sleep(0.005)
        self.assertGreater(sum(w.count() for w in writers), 20, "the burst barely started: " + s.tail())
        return writers, cw

    def end_burst(self, writers, cw):
        for w in writers + [cw]:
            w.stop = True
        for w in writers + [cw]:
            w.join(timeout=20)
            self.assertFalse(w.is_alive())
            self.assertEqual(w.errors, [])

    def restart(self, old):
        s = Server(data=old.data).start()
        self.addCleanup(s.stop)
        self.addCleanup(stop_cleanly, self, s)  # the recovered server too
        return s

    def check_all_acknowledged(self, s, writers, cw):
        n_orders = 0
        for w in writers:
            for oid, answer in w.acked.items():
                r = s.get("/v1/orders/" + oid)
                self.assertEqual(r.status, 200, "acknowledged order %s lost: %r" % (oid, r))
                self.assertEqual(r.json, answer, oid)
                n_orders += 1
            if w.replace_acked:
                i, answer = w.replace_acked
                r = s.get("/v1/orders/w%d-r" % w.n)
                self.assertEqual(r.status, 200, repr(r))
                got = r.json["shipping_cents"]
                # the last acknowledged replace, or the one sent after it
                self.assertIn(got, (i, w.replace_sent), "an older version came back")
                if got == i:
                    self.assertEqual(r.json, answer)
            for oid in w.unacked:  # maybe there, but then whole
                r = s.get("/v1/orders/" + oid)
                self.assertIn(r.status, (200, 404), repr(r))
                if r.status == 200:
                    self.assertEqual(r.json["order_id"], oid)
        for cid, answer in cw.acked.items():
            r = s.get("/v1/cases/" + cid)
            self.assertEqual(r.status, 200, "acknowledged case %s lost" % cid)
            self.assertEqual(r.json, answer, cid)
        case_ids = s.get("/v1/orders/co")["case_ids"]
        self.assertTrue(set(cw.acked) <= set(case_ids))
        # the store is whole: lists, the feed and new writes work, ids are not reused
        self.assertEqual(s.get("/v1/cases?limit=200").status, 200)
        evs = s.get("/v1/events?limit=1000")
        self.assertEqual(evs.status, 200)
        seqs = [e["seq"] for e in evs["events"]]
        self.assertEqual(seqs, sorted(set(seqs)))
        r = s.post("/v1/orders", order_body(order_id="after-restart"))
        self.assertEqual(r.status, 201, repr(r))
        r = s.post("/v1/cases", {"type": "return", "order_id": "co", "channel": "app", "reason": "quality"})
        self.assertEqual(r.status, 201, repr(r))
        self.assertNotIn(r["case_id"], case_ids, "a case id was handed out twice")
        return n_orders

    def test_kill9_during_burst_loses_no_acknowledged_write(self):
        s = Server().start()
        self.addCleanup(s.cleanup)
        writers, cw = self.start_burst(s)
        s.kill9()
        self.end_burst(writers, cw)
        s2 = self.restart(s)
        n = self.check_all_acknowledged(s2, writers, cw)
        self.assertGreater(n, 20)

    def test_kill9_twice_in_a_row(self):
        # recovery itself leaves a store that survives the next crash
        s = Server().start()
        self.addCleanup(s.cleanup)
        writers, cw = self.start_burst(s)
        s.kill9()
        self.end_burst(writers, cw)
        s2 = Server(data=s.data).start()
        self.addCleanup(s2.stop)
        cw2 = CaseWriter(s2.port)
        cw2.start()
        w = Writer(s2.port, 99)
        w.start()
        deadline = time.monotonic() + MAX_BURST_S
        while w.count() < 30 and time.monotonic() < deadline:
            time.sleep(0.005)
        s2.kill9()
        self.end_burst([w], cw2)
        s3 = self.restart(s)
        self.check_all_acknowledged(s3, writers + [w], cw)
        for cid, answer in cw2.acked.items():
            self.assertEqual(s3.get("/v1/cases/" + cid).json, answer)

    def test_sigterm_during_burst_exits_0_with_every_acknowledged_write(self):
        s = Server().start()
        self.addCleanup(s.cleanup)
        writers, cw = self.start_burst(s)
        rc = s.stop()  # SIGTERM
        self.assertEqual(rc, 0, s.tail())
        self.end_burst(writers, cw)
        self.assertNotIn("still had handles", s.tail())
        s2 = self.restart(s)
        n = self.check_all_acknowledged(s2, writers, cw)
        self.assertGreater(n, 20)


if __name__ == "__main__":
    main()

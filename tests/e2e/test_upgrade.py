"""An upgrade keeps existing data directories working: the server starts on a
data directory written by the build before the domain layer (schema 1,
fixtures/schema1, made by fixtures/make_schema1.py with that build), upgrades
it once (claims ledgers and per-merchant buyer profiles from what it stored),
and serves, lists, acts on and times the old cases as if they were new."""
import os
import shutil
import tempfile
import unittest

from harness import DAY, Server, ServerTestCase, main, stop_cleanly

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "schema1", "data.mdb")
RETURN, REFUND_ONLY, CONSULTATION = "C0000000001", "C0000000002", "C0000000003"


class UpgradeTest(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="as-upgrade-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        os.makedirs(os.path.join(self.dir, "db"))
        shutil.copy(FIXTURE, os.path.join(self.dir, "db", "data.mdb"))
        self.s = Server(data=self.dir).start()
        self.addCleanup(lambda: stop_cleanly(self, self.s))

    def open_case(self, token="adm", **fields):
        body = {"channel": "app", "reason": "no_reason"}
        body.update(fields)
        r = self.s.post("/v1/cases", body, token=token)
        self.assertEqual(r.status, 201, r)
        return r.json

    def act(self, cid, action, **fields):
        r = self.s.post("/v1/cases/%s/actions" % cid, dict(fields, action=action))
        self.assertEqual(r.status, 200, r)
        return r.json

    def test_the_old_cases_read_as_before(self):
        cases = {c["case_id"]: c for c in self.s.get("/v1/cases")["cases"]}
        self.assertEqual(len(cases), 4)
        self.assertEqual((cases[RETURN]["status"], cases[RETURN]["stage"]), ("awaiting_customer", "awaiting_shipment"))
        self.assertEqual((cases[REFUND_ONLY]["status"], cases[REFUND_ONLY]["stage"]), ("resolved", "refunded"))
        self.assertEqual(cases[REFUND_ONLY]["refund"]["refunded_cents"], 10800)
        self.assertIsNotNone(cases[CONSULTATION]["first_response_at"])
        # the old decisions keep the inputs they were stored with
        tl = self.s.get("/v1/cases/%s/timeline" % RETURN)["events"]
        evaluate = [e for e in tl if e["type"] == "decision" and e["data"]["module"] == "returns"][0]
        self.assertEqual(evaluate["data"]["inputs"][0]["type"], "return")
        # orders answer their cases from the index (old orders stored case_ids)
        self.assertEqual(self.s.get("/v1/orders/o-ret")["case_ids"], [RETURN])
        self.assertEqual(self.s.get("/v1/agents")["agents"][0]["agent_id"], "a1")

    def test_the_old_cases_are_on_the_work_lists(self):
        # schema 3 derives the work lists (and the backlog) from the stored cases
        active = {c["case_id"] for c in self.s.get("/v1/cases?status=open,awaiting_customer,in_progress")["cases"]}
        self.assertIn(RETURN, active)
        self.assertEqual({c["case_id"] for c in self.s.get("/v1/cases?sort=due")["cases"]}, active)
        self.assertEqual({c["case_id"] for c in self.s.get("/v1/cases?sort=priority")["cases"]}, active)

    def test_old_claims_hold_their_lines(self):
        # the refunded refund_only keeps what it was paid: nothing left on o-ro
        c = self.open_case(type="refund_only", order_id="o-ro", reason="not_received")
        self.assertEqual((c["status"], c["stage"]), ("rejected", "already_claimed"))
        # the approved return holds o-ret's line
        c = self.open_case(type="return", order_id="o-ret", reason="quality")
        self.assertEqual(c["decision"]["claimed_by"], [RETURN])
        # and goes on to its refund
        self.act(RETURN, "ship_back", carrier="SF", tracking_no="1")
        self.act(RETURN, "receive")
        c = self.act(RETURN, "inspect", result="pass")
        self.assertEqual(c["refund"]["approved_cents"], 10000)
        c = self.act(RETURN, "refund", amount_cents=10000)
        self.assertEqual(c["status"], "resolved")

    def test_buyer_profiles_are_kept_per_merchant(self):
        c = self.open_case(type="consultation", order_id="o-vip", reason="other")
        self.assertEqual(c["priority"], 1)
        c = self.open_case(type="consultation", buyer_id="bv", reason="other")  # no order, no merchant
        self.assertEqual(c["priority"], 1)

    def test_timers_and_the_feed_go_on(self):
        last = self.s.get("/v1/events?limit=1000")["next_after"]
        self.assertGreater(last, 0)
        self.s.advance(6 * DAY)  # past the old return's 3 working days
        c = self.s.get("/v1/cases/" + RETURN).json
        self.assertEqual(c["sla"]["breached"], ["resolution"])
        events = self.s.get("/v1/events?after=%d&limit=1000" % last)["events"]
        self.assertEqual(events[0]["seq"], last + 1)
        self.assertIn("sla.breached", [e["type"] for e in events])

    def test_the_upgrade_runs_once(self):
        self.s.stop()
        self.s.start()
        log = self.s.tail(20000)
        self.assertEqual(log.count('"data upgraded"'), 1, log)
        c = self.open_case(type="return", order_id="o-ret", reason="quality")
        self.assertEqual(c["decision"]["claimed_by"], [RETURN])  # the ledger was not written twice


class NewStoreTest(ServerTestCase):
    """A new data directory is written at today's schema and says so: its
    restarts upgrade nothing (it used to be taken for schema 1 at its first
    restart and upgraded: every case and order read again and rewritten)."""

    def test_a_new_store_is_never_upgraded(self):
        self.make_order()
        self.open_case(type="return", order_id="o1", sku="s1", qty=1, reason="no_reason", channel="app")
        for _ in range(2):
            self.s.stop()
            self.s.start()
        log = self.s.tail(20000)
        self.assertNotIn('"data upgraded"', log)
        self.assertEqual(len(self.s.get("/v1/cases")["cases"]), 1)


if __name__ == "__main__":
    main()

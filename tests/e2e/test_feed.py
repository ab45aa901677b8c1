"""The events feed as a merchant-bound platform token reads it: every event
about its merchant's cases, whatever wrote it (actions, timers, alerts), with
case_id, order_id and merchant_id on the envelope, and nothing of another
merchant's."""
from harness import DAY, HOUR, ServerTestCase, main


class BoundFeed(ServerTestCase):
    def feed(self, token):
        r = self.s.get("/v1/events?after=0&limit=1000", token=token)
        self.assertStatus(r, 200)
        return r["events"]

    def walk_return_to_auto_close(self, order_id, token):
        """A return from creation through refund, survey and auto-close."""
        c = self.open_case(token=token, type="return", order_id=order_id, reason="quality")
        cid = c["case_id"]
        self.act(cid, "ship_back", token=token, carrier="SF", tracking_no="T1")
        self.act(cid, "receive", token=token)
        kase = self.act(cid, "inspect", token=token, result="pass")
        self.act(cid, "refund", token=token, amount_cents=kase["refund"]["approved_cents"])
        return cid

    def test_bound_token_sees_every_event_of_its_cases_and_none_of_others(self):
        self.make_order(order_id="o1", merchant_id="m1", qty=1)
        self.make_order(order_id="o2", merchant_id="m2", buyer_id="b2", qty=1)
        mine = self.walk_return_to_auto_close("o1", "svc1")
        theirs = self.walk_return_to_auto_close("o2", "svc2")
        self.s.advance(HOUR)      # surveys go out
        self.s.advance(8 * DAY)   # past every SLA and the 7-day auto-close
        everything = self.feed("adm")
        expected = [e for e in everything if e.get("merchant_id") == "m1"]
        types = {e["type"] for e in expected if e.get("case_id") == mine}
        for t in ("case.created", "case.updated", "refund.requested", "survey.requested"):
            self.assertIn(t, types)
        self.assertTrue(any(e["type"] == "case.updated" and e["data"].get("action") == "auto_close"
                            for e in expected if e.get("case_id") == mine), expected)
        self.assertEqual(self.feed("svc1"), expected)
        for e in self.feed("svc1"):
            self.assertNotEqual(e.get("case_id"), theirs)
            if e.get("case_id") == mine:
                self.assertEqual(e["order_id"], "o1", e)
        self.assertTrue(any(e.get("case_id") == theirs for e in self.feed("svc2")))

    def test_case_events_carry_the_case_as_stored(self):
        self.make_order(qty=1)
        c = self.open_case(type="return", order_id="o1", reason="quality")
        shipped = self.act(c["case_id"], "ship_back", carrier="SF", tracking_no="T1")
        evs = [e for e in self.feed("adm") if e.get("case_id") == c["case_id"]]
        self.assertEqual([e["type"] for e in evs], ["case.created", "case.updated"])
        self.assertEqual(evs[0]["data"], c)
        self.assertEqual(evs[1]["data"], {"action": "ship_back", "status": "in_progress",
                                          "stage": "in_transit", "case": shipped})
        self.assertEqual(shipped, self.s.get("/v1/cases/" + c["case_id"]).json)

    def test_alert_follows_the_case_that_raised_it(self):
        self.make_order(order_id="o1", qty=5)
        for _ in range(5):  # risk.rules: 5 complaints about one sku in 24 h
            self.open_case(type="complaint", order_id="o1", reason="attitude")
        evs = self.feed("svc1")
        alerts = [e for e in evs if e["type"] == "alert.raised"
                  and e["data"]["kind"] == "complaint_spike"]
        self.assertEqual(len(alerts), 1, alerts)
        created = [e for e in evs if e["type"] == "case.created"]
        self.assertEqual(alerts[0]["case_id"], created[-1]["case_id"])
        self.assertGreater(alerts[0]["seq"], created[-1]["seq"])
        self.assertEqual(alerts[0]["merchant_id"], "m1")


if __name__ == "__main__":
    main()

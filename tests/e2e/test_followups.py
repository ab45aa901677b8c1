"""Cases the server opens itself, and the one survey a case gets."""
from harness import DAY, HOUR, T0, ServerTestCase, main


class ServerOpenedCases(ServerTestCase):
    def test_follow_up_and_logistics_cases_carry_the_order_line_quantity(self):
        self.make_order(order_id="o1", qty=3, delivered_at=None)
        r = self.s.post("/v1/orders/o1/tracking", {"status": "shipped", "at": T0})
        self.assertStatus(r, 200)
        c = self.open_case(type="complaint", order_id="o1", reason="attitude")
        self.assertEqual(c["qty"], 3)
        self.act(c["case_id"], "resolve", resolution="apologised")
        self.s.advance(HOUR)
        self.assertStatus(self.s.post("/v1/cases/%s/survey" % c["case_id"], {"csat": 1}), 200)
        self.s.advance(2 * DAY)  # the parcel has been silent for 48 h
        opened = [k for k in self.s.get("/v1/cases?order_id=o1").json["cases"]
                  if k["channel"] == "system"]
        self.assertEqual(sorted(k["type"] for k in opened), ["complaint", "logistics"])
        for k in opened:
            self.assertEqual((k["sku"], k["qty"]), ("s1", 3), k)


class OneSurvey(ServerTestCase):
    def test_a_case_resolved_again_after_reopen_is_not_surveyed_twice(self):
        c = self.open_case(type="consultation", buyer_id="b1", reason="other", channel="chat")
        cid = c["case_id"]
        first = self.act(cid, "resolve", resolution="answered")["survey"]["due_at"]
        self.assertEqual(first, T0 + HOUR)
        self.s.advance(HOUR)
        self.act(cid, "reopen", reason="not solved")
        self.s.advance(HOUR)
        again = self.act(cid, "resolve", resolution="answered again")
        self.assertEqual(again["survey"]["due_at"], first)
        self.s.advance(2 * HOUR)
        sent = [e for e in self.s.get("/v1/events?limit=1000").json["events"]
                if e["type"] == "survey.requested" and e["case_id"] == cid]
        self.assertEqual(len(sent), 1)


if __name__ == "__main__":
    main()

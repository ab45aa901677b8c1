"""KPI figures agree with each other: a rejected case is neither resolved nor
an (instant) resolution time."""
from harness import DAY, HOUR, T0, ServerTestCase, main


class RejectedCases(ServerTestCase):
    def test_a_rejection_counts_as_a_case_not_as_a_resolution(self):
        self.make_order(order_id="late", delivered_at=T0 - 30 * DAY, paid_at=T0 - 31 * DAY)
        rejected = self.open_case(type="return", order_id="late", reason="no_reason")
        self.assertEqual(rejected["status"], "rejected")
        c = self.open_case(type="consultation", buyer_id="b9", reason="other", channel="chat")
        self.s.advance(3 * HOUR)
        self.act(c["case_id"], "resolve", resolution="answered")
        t = self.s.get("/v1/reports/kpi?from=%d&to=%d" % (T0, T0 + DAY)).json["totals"]
        self.assertEqual(t["cases"], 2)
        self.assertEqual(t["resolved"], 1)
        self.assertAlmostEqual(t["resolution_rate"], 0.5)
        self.assertEqual(t["resolution_seconds"], {"p50": 3 * HOUR, "p90": 3 * HOUR})


class ReportQuery(ServerTestCase):
    def test_the_window_must_be_a_window(self):
        for q, field in (("from=%d&to=%d" % (T0 + DAY, T0), "to"), ("from=%d&to=%d" % (T0, T0), "to"),
                         ("from=x", "from"), ("group_by=colour", "group_by")):
            with self.subTest(q=q):
                r = self.s.get("/v1/reports/kpi?" + q)
                self.assertEqual(self.assertError(r, 400, "invalid_field")["field"], field)
        self.assertStatus(self.s.get("/v1/reports/kpi?from=%d&to=%d" % (T0, T0 + 1)), 200)


if __name__ == "__main__":
    main()

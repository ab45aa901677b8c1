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

    def test_unknown_parameters_and_intervals_are_refused_by_name(self):
        r = self.s.get("/v1/reports/kpi?group_by=agent&colour=red")
        self.assertEqual(self.assertError(r, 400, "unknown_parameter")["field"], "colour")
        r = self.s.get("/v1/reports/kpi?interval=week")
        self.assertEqual(self.assertError(r, 400, "invalid_field")["field"], "interval")
        r = self.s.get("/v1/reports/kpi?interval=day&from=%d&to=%d" % (T0 - 400 * DAY, T0))
        self.assertEqual(self.assertError(r, 400, "invalid_field")["field"], "interval")


class ReportShapes(ServerTestCase):
    def setUp(self):
        super().setUp()
        self.make_agent("a1", queues=("customer_service",))
        for merchant, buyer in (("m1", "b1"), ("m2", "b2"), ("m1", "b3")):
            self.open_case(type="consultation", buyer_id=buyer, merchant_id=merchant, reason="other", channel="chat")

    def test_csv_on_accept_text_csv(self):
        r = self.s.get("/v1/reports/kpi?from=%d&to=%d&group_by=merchant" % (T0 - DAY, T0 + DAY),
                       headers={"Accept": "text/csv"})
        self.assertStatus(r, 200)
        self.assertTrue(r.headers["content-type"].startswith("text/csv"), r.headers)
        rows = r.raw.decode().strip().split("\r\n")
        self.assertTrue(rows[0].startswith("from,to,group_by,key,cases,resolved,resolution_rate,"))
        cells = [row.split(",") for row in rows[1:]]
        self.assertEqual([(c[2], c[3], c[4]) for c in cells],
                         [("all", '"all"', "3"), ("merchant", '"m1"', "2"), ("merchant", '"m2"', "1")])

    def test_a_token_bound_to_a_merchant_gets_its_own_figures(self):
        q = "/v1/reports/kpi?from=%d&to=%d&group_by=merchant" % (T0 - DAY, T0 + DAY)
        everyone = self.s.get(q).json
        self.assertEqual(everyone["totals"]["cases"], 3)
        mine = self.s.get(q, token="svc1").json
        self.assertEqual(mine["totals"]["cases"], 2)
        self.assertEqual([(g["key"], g["cases"]) for g in mine["groups"]], [("m1", 2)])
        self.assertEqual(self.s.get(q.replace("merchant", "agent"), token="svc2").json["totals"]["cases"], 1)

    def test_a_daily_series_cuts_its_first_and_last_day_to_the_range(self):
        r = self.s.get("/v1/reports/kpi?from=%d&to=%d&interval=day" % (T0 - 3 * HOUR, T0 + DAY)).json
        self.assertEqual(r["series"][0]["from"], T0 - 3 * HOUR)
        self.assertEqual(r["series"][-1]["to"], T0 + DAY)
        self.assertEqual(sum(d["totals"]["cases"] for d in r["series"]), 3)


if __name__ == "__main__":
    main()

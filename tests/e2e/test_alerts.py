"""Alerts stay exact: the complaint that brings a sku to risk.rules'
threshold (5 in 24 h) raises exactly one alert however complaints interleave,
survey follow-ups are not complaints, and a stalled parcel is judged by its
newest tracking update, not the last one posted."""
import http.client
import json
import threading

from harness import HOUR, T0, ServerTestCase, main

CLIENTS = 8
TRIALS = 5


class ComplaintSpike(ServerTestCase):
    def complain(self, order_id, results):
        conn = http.client.HTTPConnection("127.0.0.1", self.s.port, timeout=30)
        body = {"type": "complaint", "order_id": order_id, "reason": "attitude", "channel": "chat"}
        conn.request("POST", "/v1/cases", json.dumps(body),
                     {"Authorization": "Bearer adm", "Content-Type": "application/json"})
        r = conn.getresponse()
        results.append(r.status)
        r.read()
        conn.close()

    def sku_alerts(self, sku):
        r = self.s.get("/v1/alerts?kind=complaint_spike&limit=200")
        self.assertStatus(r, 200)
        return [a for a in r["alerts"] if a["data"]["scope"] == "sku" and a["sku"] == sku]

    def test_concurrent_complaints_raise_exactly_one_alert(self):
        for trial in range(TRIALS):
            order, sku = "o%d" % trial, "sku%d" % trial
            self.make_order(order_id=order, sku=sku, qty=9)
            results = []
            threads = [threading.Thread(target=self.complain, args=(order, results))
                       for _ in range(CLIENTS)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(results, [201] * CLIENTS)
            alerts = self.sku_alerts(sku)
            self.assertEqual(len(alerts), 1, (trial, alerts))
            self.assertEqual(alerts[0]["data"]["count"], 5)

    def test_low_survey_follow_ups_do_not_count_as_complaints(self):
        self.make_order(order_id="o1", sku="s1", qty=9)
        ids = []
        for _ in range(4):  # one short of the threshold
            c = self.open_case(type="complaint", order_id="o1", reason="attitude")
            self.act(c["case_id"], "resolve", resolution="apologised")
            ids.append(c["case_id"])
        self.s.advance(3600)  # surveys go out
        for case_id in ids:
            self.assertStatus(self.s.post("/v1/cases/%s/survey" % case_id, {"csat": 1}), 200)
        cases = self.s.get("/v1/cases?type=complaint&limit=200")["cases"]
        followups = [c for c in cases if c.get("followup")]
        self.assertEqual(len(followups), 4)
        self.assertEqual([c["sku"] for c in followups], ["s1"] * 4)
        self.assertEqual(self.sku_alerts("s1"), [])


class StalledParcel(ServerTestCase):
    def track(self, status, at):
        r = self.s.post("/v1/orders/o1/tracking", {"status": status, "at": at})
        self.assertStatus(r, 200)

    def test_a_late_older_scan_does_not_make_a_moving_parcel_stalled(self):
        self.make_order(delivered_at=None)
        self.s.advance(47 * HOUR)
        self.track("in_transit", T0 + 47 * HOUR)
        self.track("shipped", T0)  # the carrier reports the first scan late
        self.s.advance(HOUR)       # 48 h after the shipping scan, 1 h after the newest
        self.assertEqual(self.s.get("/v1/cases?type=logistics").json["cases"], [])
        self.s.advance(47 * HOUR)  # 48 h of silence since the newest scan
        cases = self.s.get("/v1/cases?type=logistics").json["cases"]
        self.assertEqual(len(cases), 1)
        self.assertIn(str(T0 + 47 * HOUR), cases[0]["description"])
        self.assertEqual(self.s.get("/v1/orders/o1").json["stall_reported_for"], T0 + 47 * HOUR)


if __name__ == "__main__":
    main()

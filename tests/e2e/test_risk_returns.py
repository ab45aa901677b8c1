"""Risk warnings on returns (GET /v1/alerts, feed alert.raised): return
spikes per sku and per merchant beside the complaint spikes, and serial
returners: returns across buyer ids whose orders share a phone or an address
(compared hashed; the alert shows the contact masked), thresholds in
risk.rules. Lower thresholds here keep the tests short."""
import os

from harness import DAY, HOUR, ServerTestCase, main, order_body, policies_copy

RULES = """
M.rules = {
    complaints_per_sku_24h = 5, complaints_per_merchant_24h = 20, stalled_parcel_hours = 48,
    returns_per_sku_24h = 3, returns_per_merchant_24h = 4,
    serial_returns_30d = 3, serial_returner_buyers = 2,
}
"""


class RiskTest(ServerTestCase):
    def setUp(self):
        pol = policies_copy(self)
        path = os.path.join(pol, "risk.lua")
        with open(path) as f:
            src = f.read()
        cut = src.rindex("return M")
        with open(path, "w") as f:
            f.write(src[:cut] + RULES + "return M\n")
        os.remove(os.path.join(pol, "tests", "survey_risk_test.lua"))  # it checks the default thresholds
        self.server_kwargs = {"policies": pol}
        self.n = 0
        super().setUp()

    def ret(self, buyer=None, sku="s1", merchant="m1", **buyer_fields):
        self.n += 1
        oid = "o%d" % self.n
        body = order_body(order_id=oid, buyer_id=buyer or "b%d" % self.n, merchant_id=merchant, sku=sku,
                          buyer=dict({"tier": "regular"}, **buyer_fields))
        self.assertStatus(self.s.post("/v1/orders", body), 201)
        return self.open_case(type="return", order_id=oid)["case_id"]

    def alerts(self, kind, token="adm"):
        return self.s.get("/v1/alerts?limit=200&kind=" + kind, token=token).json["alerts"]

    def test_return_spikes_per_sku_and_per_merchant(self):
        self.ret()
        self.ret()
        self.assertEqual(self.alerts("return_spike"), [])
        third = self.ret()
        alerts = self.alerts("return_spike")
        self.assertEqual([(a["case_id"], a["sku"], a["data"]) for a in alerts],
                         [(third, "s1", {"scope": "sku", "count": 3, "threshold": 3})])
        fourth = self.ret(sku="s2")  # another sku: the merchant's fourth return
        alerts = self.alerts("return_spike")
        self.assertEqual([(a["case_id"], a["data"]["scope"]) for a in alerts], [(fourth, "merchant"), (third, "sku")])
        self.ret()  # past the thresholds: raised once each
        self.assertEqual(len(self.alerts("return_spike")), 2)
        self.assertEqual(self.alerts("return_spike", token="svc2"), [])
        self.assertEqual(len(self.alerts("return_spike", token="svc1")), 2)
        feed = [e for e in self.s.get("/v1/events?limit=1000", token="svc1").json["events"]
                if e["type"] == "alert.raised" and e["data"]["kind"] == "return_spike"]
        self.assertEqual(len(feed), 2)
        # a day later the window starts over (a return exactly 24 h old no longer counts)
        self.s.advance(DAY)
        self.ret()
        self.ret()
        self.assertEqual(len(self.alerts("return_spike")), 2)
        self.ret()
        self.assertEqual(len(self.alerts("return_spike")), 3)

    def test_serial_returners_across_buyers_sharing_a_phone(self):
        self.ret(buyer="b1", phone="13812345678")
        self.ret(buyer="b1", phone="13812345678")
        self.ret(buyer="b9", phone="13999999999")  # someone else
        self.assertEqual(self.alerts("serial_returner"), [])
        third = self.ret(buyer="b2", phone="138 1234 5678")  # another account, the same number
        alerts = self.alerts("serial_returner", token="svc1")
        self.assertEqual(len(alerts), 1, alerts)
        a = alerts[0]
        self.assertEqual((a["case_id"], a["data"]["contact"], a["data"]["masked"], a["data"]["returns"],
                          a["data"]["buyers"], sorted(a["data"]["buyer_ids"])),
                         (third, "phone", "138****5678", 3, 2, ["b1", "b2"]))
        self.assertNotIn(b"12345678", self.s.get("/v1/alerts?kind=serial_returner", token="svc1").raw)
        self.ret(buyer="b2", phone="13812345678")
        self.assertEqual(len(self.alerts("serial_returner")), 1)  # once

    def test_one_buyer_alone_is_not_a_serial_returner_and_30_days_pass(self):
        for _ in range(4):
            self.ret(buyer="b1", phone="13812345678")
        self.assertEqual(self.alerts("serial_returner"), [])
        # each merchant counts its own returns (its alert names buyer ids, never another merchant's)
        self.ret(buyer="b5", merchant="m2", phone="13812345678")
        self.assertEqual(self.alerts("serial_returner"), [])
        self.s.advance(31 * DAY)
        self.ret(buyer="b2", phone="13812345678")  # the old returns are out of the window
        self.assertEqual(self.alerts("serial_returner"), [])

    def test_serial_returners_across_buyers_sharing_an_address(self):
        home = "上海市浦东新区世纪大道 100 号"
        self.ret(buyer="b1", address=home)
        self.s.advance(HOUR)
        self.ret(buyer="b2", address="上海市浦东新区世纪大道  100 号 ")
        self.s.advance(HOUR)
        last = self.ret(buyer="b3", address=home)
        alerts = self.alerts("serial_returner")
        self.assertEqual([(a["case_id"], a["data"]["contact"], a["data"]["masked"], a["data"]["buyers"])
                          for a in alerts], [(last, "address", "上海市***", 3)])


if __name__ == "__main__":
    main()

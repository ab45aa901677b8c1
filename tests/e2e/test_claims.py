"""One order line, one claim (SPEC section 1): the quantity and money of an
order line are shared by all its cases. A claim beyond what is left is
rejected (already_claimed, naming the open cases); a rejected or cancelled
claim frees its share; refunds across all cases of an order never exceed what
was paid for its lines, plus shipping where the merchant is at fault. Each
scenario of issue 9's adversarial run is here, with the concurrent claims."""
import http.client
import json
import threading

from harness import DAY, T0, ServerTestCase, main, order_body

PRICE, QTY, SHIPPING = 5000, 2, 800
PAID = PRICE * QTY + SHIPPING  # 10,800


class ClaimsTest(ServerTestCase):

    def refunded_total(self, order_id="o1"):
        cases = self.s.get("/v1/cases?order_id=%s&limit=200" % order_id)["cases"]
        return sum(c["refund"]["refunded_cents"] for c in cases)

    def pay_out(self, case):
        """Refunds everything approved and not yet refunded (if anything)."""
        left = case["refund"]["approved_cents"] - case["refund"]["refunded_cents"]
        if left > 0:
            case = self.act(case["case_id"], "refund", amount_cents=left)
        return case

    def assertClaimed(self, case, *holders):
        self.assertEqual(case["status"], "rejected", case)
        self.assertEqual(case["stage"], "already_claimed", case)
        self.assertEqual(case["decision"]["reason_code"], "already_claimed", case)
        self.assertEqual(case["decision"]["module"], "core")
        self.assertEqual(case["decision"]["claimed_by"], list(holders), case)
        for h in holders:
            self.assertIn(h, case["decision"]["message"])
        self.assertEqual(case["refund"]["approved_cents"], 0)

    def test_refund_only_three_times_on_an_undelivered_order_pays_once(self):
        self.make_order(delivered_at=None)
        first = self.open_case(type="refund_only", order_id="o1", reason="not_received")
        self.assertEqual(first["refund"]["approved_cents"], PAID)
        for _ in range(2):
            again = self.open_case(type="refund_only", order_id="o1", reason="not_received")
            self.assertClaimed(again, first["case_id"])
            # nothing to refund on the rejected claim
            r = self.s.post("/v1/cases/%s/actions" % again["case_id"], {"action": "refund", "amount_cents": 1})
            self.assertError(r, 409, "invalid_transition")
        self.pay_out(first)
        self.assertEqual(self.refunded_total(), PAID)

    def test_two_returns_of_the_whole_line(self):
        self.make_order()
        first = self.open_case(type="return", order_id="o1", qty=2)
        self.assertEqual(first["decision"]["outcome"], "approve")
        second = self.open_case(type="return", order_id="o1", qty=2)
        self.assertClaimed(second, first["case_id"])
        # without a quantity a claim asks for what is left: nothing
        self.assertClaimed(self.open_case(type="return", order_id="o1"), first["case_id"])

    def test_part_of_a_line_is_claimed_by_part(self):
        self.make_order(qty=3)
        a = self.open_case(type="return", order_id="o1", qty=1)
        b = self.open_case(type="return", order_id="o1")  # what is left: 2
        self.assertEqual((a["qty"], b["qty"]), (1, 2))
        self.assertEqual(b["decision"]["outcome"], "approve")
        c = self.open_case(type="exchange", order_id="o1", qty=1)
        self.assertClaimed(c, a["case_id"], b["case_id"])

    def test_refund_only_then_a_quality_return(self):
        self.make_order(delivered_at=None)
        ro = self.open_case(type="refund_only", order_id="o1", reason="not_received")
        self.pay_out(ro)
        ret = self.open_case(type="return", order_id="o1", reason="quality")
        self.assertClaimed(ret)  # the goods were paid for: nothing left, nobody holds it now
        self.assertEqual(self.refunded_total(), PAID)

    def test_price_protection_twice_then_a_return(self):
        self.make_order(paid_at=T0 - DAY)
        self.s.request("PUT", "/v1/orders/o1/prices/s1", {"price_cents": 3300, "at": T0})
        pp = self.open_case(type="price_protection", order_id="o1", reason="price_drop")
        self.assertEqual(pp["refund"]["approved_cents"], (5000 - 3300) * 2)
        # a second one while the first runs: already claimed
        self.assertClaimed(self.open_case(type="price_protection", order_id="o1", reason="price_drop"),
                           pp["case_id"])
        self.pay_out(pp)
        # after it is paid: the same drop is not paid twice
        self.assertClaimed(self.open_case(type="price_protection", order_id="o1", reason="price_drop"))
        # the return is refunded what the line has left after the protection
        ret = self.open_case(type="return", order_id="o1", qty=2)
        self.act(ret["case_id"], "ship_back", carrier="SF", tracking_no="1")
        self.act(ret["case_id"], "receive")
        ret = self.act(ret["case_id"], "inspect", result="pass")
        self.assertEqual(ret["refund"]["approved_cents"], PRICE * QTY - (5000 - 3300) * 2)
        tl = self.s.get("/v1/cases/%s/timeline" % ret["case_id"])["events"]
        self.assertEqual([e["data"]["approved_cents"] for e in tl if e["type"] == "claims.capped"],
                         [PRICE * QTY - (5000 - 3300) * 2])
        self.pay_out(ret)
        self.assertLessEqual(self.refunded_total(), PRICE * QTY)
        # a deeper drop later: the goods went back for money, there is nothing left to protect
        self.s.request("PUT", "/v1/orders/o1/prices/s1", {"price_cents": 3000, "at": T0 + 1})
        self.assertClaimed(self.open_case(type="price_protection", order_id="o1", reason="price_drop"))
        self.assertEqual(self.refunded_total(), PRICE * QTY)

    def test_a_deeper_drop_is_protected_for_the_difference(self):
        self.make_order(paid_at=T0 - DAY)
        self.s.request("PUT", "/v1/orders/o1/prices/s1", {"price_cents": 4000, "at": T0})
        first = self.pay_out(self.open_case(type="price_protection", order_id="o1", reason="price_drop"))
        self.assertEqual(first["refund"]["refunded_cents"], 2000)
        self.s.request("PUT", "/v1/orders/o1/prices/s1", {"price_cents": 3500, "at": T0 + 1})
        second = self.open_case(type="price_protection", order_id="o1", reason="price_drop")
        self.assertEqual(second["refund"]["approved_cents"], (5000 - 3500) * 2 - 2000)

    def test_a_rejected_or_cancelled_claim_frees_its_share(self):
        self.make_order()
        first = self.open_case(type="return", order_id="o1", opened=True)  # opened, no reason: review
        self.assertEqual(first["stage"], "manual_review")
        self.assertClaimed(self.open_case(type="exchange", order_id="o1", reason="quality"), first["case_id"])
        self.act(first["case_id"], "reject", reason="used")
        second = self.open_case(type="exchange", order_id="o1", reason="quality")
        self.assertEqual(second["decision"]["outcome"], "approve")
        c = self.act(second["case_id"], "cancel", reason="changed my mind")
        self.assertEqual((c["status"], c["stage"]), ("closed", "cancelled"))
        self.assertIn("cancel", [e["data"]["action"] for e in
                                 self.s.get("/v1/cases/%s/timeline" % c["case_id"])["events"] if e["type"] == "action"])
        third = self.open_case(type="return", order_id="o1", reason="quality")
        self.assertEqual(third["decision"]["outcome"], "approve")
        # the appeal of the rejected claim finds the line held again
        r = self.s.post("/v1/cases/%s/actions" % first["case_id"], {"action": "reopen", "reason": "not used"})
        err = self.assertError(r, 409, "already_claimed")
        self.assertEqual(err["claimed_by"], [third["case_id"]])

    def test_cancel_is_refused_once_money_moved(self):
        self.make_order(delivered_at=None)
        ro = self.open_case(type="refund_only", order_id="o1", reason="not_received")
        self.act(ro["case_id"], "refund", amount_cents=100)
        r = self.s.post("/v1/cases/%s/actions" % ro["case_id"], {"action": "cancel"})
        self.assertError(r, 400, "invalid_field")
        # shipped back goods are past cancelling
        self.make_order(order_id="o2")
        ret = self.open_case(type="return", order_id="o2")
        self.act(ret["case_id"], "ship_back", carrier="SF", tracking_no="1")
        self.assertError(self.s.post("/v1/cases/%s/actions" % ret["case_id"], {"action": "cancel"}),
                         409, "invalid_transition")

    def test_an_approval_by_hand_is_bounded_by_the_other_cases(self):
        self.make_order(qty=2)
        a = self.open_case(type="refund_only", order_id="o1", reason="quality", qty=1)  # delivered: review
        b = self.open_case(type="refund_only", order_id="o1", reason="quality", qty=1)
        self.act(a["case_id"], "approve", amount_cents=PRICE + SHIPPING)  # a unit and the shipping
        r = self.s.post("/v1/cases/%s/actions" % b["case_id"], {"action": "approve", "amount_cents": PRICE + 1})
        err = self.assertError(r, 400, "invalid_field")
        self.assertEqual(err["max_cents"], PRICE)  # the shipping went to a already
        b = self.act(b["case_id"], "approve")
        self.assertEqual(b["refund"]["approved_cents"], PRICE)
        self.pay_out(self.s.get("/v1/cases/" + a["case_id"]).json)
        self.pay_out(b)
        self.assertEqual(self.refunded_total(), PAID)

    def test_a_replace_cannot_take_a_claimed_line_away(self):
        self.make_order(qty=3, items=[{"sku": "s1", "category": "apparel", "price_cents": PRICE, "qty": 3},
                                      {"sku": "s2", "category": "apparel", "price_cents": 100, "qty": 1}])
        ret = self.open_case(type="return", order_id="o1", sku="s1", qty=2)
        def replace(items):
            body = {"order_id": "o1", "buyer_id": "b1", "merchant_id": "m1", "paid_at": T0 - 3 * DAY,
                    "delivered_at": T0 - 2 * DAY, "shipping_cents": SHIPPING, "items": items}
            return self.s.post("/v1/orders", body)
        s2 = {"sku": "s2", "category": "apparel", "price_cents": 100, "qty": 1}
        for items in ([s2],  # the claimed line dropped
                      [{"sku": "s1", "category": "apparel", "price_cents": PRICE, "qty": 1}, s2],  # below the 2 held
                      [{"sku": "s1", "category": "apparel", "price_cents": 1, "qty": 3}, s2]):  # its price changed
            err = self.assertError(replace(items), 400, "invalid_field")
            self.assertEqual(err["field"], "items")
            self.assertIn(ret["case_id"], err["message"])
        # an unclaimed line may go, and the claimed one may keep what its claims hold
        self.assertStatus(replace([{"sku": "s1", "category": "apparel", "price_cents": PRICE, "qty": 2}]), 200)

    def test_a_replace_cannot_take_back_shipping_a_refund_paid(self):
        # a refund_only of an undelivered order pays the line and the shipping;
        # the order may not then claim it cost less shipping than was refunded
        self.make_order(delivered_at=None)
        first = self.open_case(type="refund_only", order_id="o1", reason="not_received")
        self.pay_out(first)
        body = order_body(delivered_at=None)
        body["shipping_cents"] = 0
        err = self.assertError(self.s.post("/v1/orders", body), 400, "invalid_field")
        self.assertEqual(err["field"], "shipping_cents")
        body["shipping_cents"] = SHIPPING
        self.assertStatus(self.s.post("/v1/orders", body), 200)
        self.assertEqual(self.refunded_total(), PAID)

    def test_ledger_survives_a_restart(self):
        self.make_order(delivered_at=None)
        first = self.open_case(type="refund_only", order_id="o1", reason="not_received")
        self.s.stop()
        self.s.start()
        self.assertClaimed(self.open_case(type="refund_only", order_id="o1", reason="not_received"),
                           first["case_id"])

    def test_concurrent_claims_on_one_line(self):
        self.make_order(delivered_at=None, qty=3)
        results, lock = [], threading.Lock()

        def claim():
            conn = http.client.HTTPConnection("127.0.0.1", self.s.port, timeout=30)
            body = {"type": "refund_only", "order_id": "o1", "reason": "not_received", "channel": "app",
                    "qty": 1}
            for _ in range(4):
                conn.request("POST", "/v1/cases", json.dumps(body),
                             {"Authorization": "Bearer adm", "Content-Type": "application/json"})
                r = conn.getresponse()
                with lock:
                    results.append((r.status, json.loads(r.read())))
            conn.close()

        threads = [threading.Thread(target=claim) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual([s for s, _ in results], [201] * 24)
        approved = [c for _, c in results if c["decision"]["outcome"] == "approve"]
        self.assertEqual(len(approved), 3)  # one unit each, three units
        self.assertEqual(sum(c["refund"]["approved_cents"] for c in approved), PRICE * 3 + SHIPPING)
        for _, c in results:
            if c["decision"]["outcome"] != "approve":
                self.assertEqual(c["stage"], "already_claimed")
        for c in approved:
            self.pay_out(c)
        self.assertEqual(self.refunded_total(), PRICE * 3 + SHIPPING)

    def test_a_merchants_word_on_a_buyer_stays_with_that_merchant(self):
        # m2 calls b1 a VIP; m1's cases for b1 keep m1's own view of b1
        self.make_order(order_id="m1-order", buyer={"tier": "regular"})
        r = self.s.post("/v1/orders", {"order_id": "m2-order", "buyer_id": "b1", "merchant_id": "m2",
                                       "paid_at": T0 - DAY, "shipping_cents": 0, "buyer": {"tier": "vip"},
                                       "items": [{"sku": "x", "category": "apparel", "price_cents": 100, "qty": 1}]},
                        token="svc2")
        self.assertStatus(r, 201)
        m1_case = self.open_case(type="consultation", order_id="m1-order", reason="other")
        self.assertEqual(m1_case["priority"], 3)
        m2_case = self.open_case(type="consultation", order_id="m2-order", reason="other", token="svc2")
        self.assertEqual(m2_case["priority"], 1)


if __name__ == "__main__":
    main()

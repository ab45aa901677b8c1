"""The rules of SPEC section 1 as the default policies encode them, through
HTTP: each window just inside and just outside (docs/policies.md: windows are
inclusive and exact to the second), category exceptions, refund amounts,
price protection, anti-abuse and routing with the priority lane."""
from harness import DAY, HOUR, T0, ServerTestCase, main, order_body

MERCHANT_FAULT = ("quality", "wrong_item", "damaged_in_transit", "not_as_described", "not_received")


class RulesTest(ServerTestCase):

    def order(self, order_id="o1", **kw):
        return self.make_order(order_id=order_id, **kw)

    def claim(self, kind, reason="no_reason", order_id="o1", **kw):
        return self.open_case(type=kind, order_id=order_id, reason=reason, **kw)

    def outcome(self, case):
        return "%s/%s" % (case["decision"]["outcome"], case["decision"]["reason_code"])

    # --- 7-day no-reason return -------------------------------------------
    def test_no_reason_return_window_is_7_days_to_the_second(self):
        self.order("in", delivered_at=T0 - 7 * DAY, paid_at=T0 - 8 * DAY)
        self.order("out", delivered_at=T0 - 7 * DAY - 1, paid_at=T0 - 8 * DAY)
        c = self.claim("return", order_id="in")
        self.assertEqual(c["decision"]["outcome"], "approve")
        self.assertEqual(c["status"], "awaiting_customer")
        self.assertEqual(c["refund"]["shipping_paid_by"], "buyer")
        c = self.claim("return", order_id="out")
        self.assertEqual(self.outcome(c), "reject/window_expired")
        self.assertEqual(c["status"], "rejected")
        self.assertIn("2026-11-02", c["decision"]["message"])  # the day the window closed

    def test_no_reason_window_follows_the_server_clock(self):
        # two orders alike: one order line, one claim (SPEC section 1)
        self.order("o1", delivered_at=T0, paid_at=T0 - DAY)
        self.order("o2", delivered_at=T0, paid_at=T0 - DAY)
        self.s.set_clock(T0 + 7 * DAY)
        self.assertEqual(self.claim("return", order_id="o1")["decision"]["outcome"], "approve")
        self.s.advance(1)
        self.assertEqual(self.outcome(self.claim("return", order_id="o2")), "reject/window_expired")

    def test_quality_return_merchant_pays_even_when_opened(self):
        self.order(delivered_at=T0 - 7 * DAY)
        c = self.claim("return", "quality", opened=True)
        self.assertEqual(c["decision"]["outcome"], "approve")
        self.assertEqual(c["refund"]["shipping_paid_by"], "merchant")

    def test_quality_return_after_7_days_points_to_exchange_or_repair(self):
        self.order(delivered_at=T0 - 7 * DAY - 1, paid_at=T0 - 9 * DAY)
        c = self.claim("return", "quality", opened=True)
        self.assertEqual(self.outcome(c), "reject/window_expired")
        self.assertEqual(c["refund"]["shipping_paid_by"], "merchant")
        self.assertIn("exchange", c["decision"]["message"])

    def test_opened_ordinary_item_no_reason_goes_to_review(self):
        self.order()
        c = self.claim("return", opened=True)
        self.assertEqual(self.outcome(c), "review/opened_no_reason")
        self.assertEqual((c["status"], c["stage"]), ("open", "manual_review"))

    def test_return_before_delivery_is_rejected(self):
        self.order(delivered_at=None)
        self.assertEqual(self.outcome(self.claim("return", "quality")), "reject/not_delivered")

    # --- 15-day exchange ------------------------------------------------
    def test_exchange_window_is_15_days(self):
        for reason in ("no_reason", "quality"):
            self.order("in-" + reason, delivered_at=T0 - 15 * DAY, paid_at=T0 - 16 * DAY)
            self.order("out-" + reason, delivered_at=T0 - 15 * DAY - 1, paid_at=T0 - 16 * DAY)
            c = self.claim("exchange", reason, order_id="in-" + reason)
            self.assertEqual(c["decision"]["outcome"], "approve", reason)
            self.assertEqual(c["refund"]["shipping_paid_by"],
                             "merchant" if reason == "quality" else "buyer")
            c = self.claim("exchange", reason, order_id="out-" + reason)
            self.assertEqual(self.outcome(c), "reject/window_expired", reason)

    def test_exchange_of_a_used_item_needs_a_fault(self):
        self.order(delivered_at=T0 - 10 * DAY, paid_at=T0 - 11 * DAY)
        self.assertEqual(self.outcome(self.claim("exchange", "no_reason", opened=True)),
                         "reject/exchange_item_used")
        # the rejected claim freed the line
        self.assertEqual(self.claim("exchange", "not_as_described", opened=True)["decision"]["outcome"],
                         "approve")

    # --- repair and warranty --------------------------------------------
    def test_repair_within_365_day_warranty_for_electronics_and_appliances(self):
        for cat in ("electronics", "appliances"):
            self.order("in-" + cat, category=cat, qty=1, delivered_at=T0 - 365 * DAY,
                       paid_at=T0 - 366 * DAY)
            self.order("out-" + cat, category=cat, qty=1, delivered_at=T0 - 365 * DAY - 1,
                       paid_at=T0 - 366 * DAY)
            c = self.claim("repair", "quality", order_id="in-" + cat, opened=True)
            self.assertEqual(c["decision"]["outcome"], "approve", cat)
            self.assertEqual(c["status"], "awaiting_customer", cat)
            self.assertEqual(c["queue"], "tech_support")
            c = self.claim("repair", "quality", order_id="out-" + cat, opened=True)
            self.assertEqual(self.outcome(c), "reject/warranty_expired", cat)

    def test_repair_of_categories_without_warranty_is_rejected(self):
        # SPEC: electronics and appliances carry the 365-day warranty.
        for cat in ("apparel", "food", "liquor", "perishable"):
            self.order("o-" + cat, category=cat, qty=1, delivered_at=T0 - 30 * DAY,
                       paid_at=T0 - 31 * DAY)
            c = self.claim("repair", "quality", order_id="o-" + cat, opened=True)
            self.assertEqual(self.outcome(c), "reject/no_warranty", cat)

    def test_repair_without_a_defect_goes_to_review(self):
        self.order(category="electronics", qty=1)
        self.assertEqual(self.outcome(self.claim("repair", "other")), "review/fault_unclear")

    # --- category exceptions ----------------------------------------------
    def test_opened_liquor_food_personal_care_not_returnable_without_quality_reason(self):
        for cat in ("liquor", "food", "personal_care"):
            self.order("o-" + cat, category=cat, buyer_id="b-" + cat)  # no anti-abuse in the way
            self.order("u-" + cat, category=cat, buyer_id="b-" + cat)  # a second order: the first one's line is claimed
            c = self.claim("return", "no_reason", order_id="o-" + cat, opened=True)
            self.assertEqual(self.outcome(c), "reject/opened_" + cat)
            self.assertEqual(c["status"], "rejected")
            c = self.claim("exchange", "no_reason", order_id="o-" + cat, opened=True)
            self.assertEqual(c["decision"]["outcome"], "reject", cat)
            c = self.claim("return", "quality", order_id="o-" + cat, opened=True)
            self.assertEqual(c["decision"]["outcome"], "approve", cat)
            self.assertEqual(c["refund"]["shipping_paid_by"], "merchant", cat)
            # unopened: the ordinary 7-day no-reason return
            c = self.claim("return", "no_reason", order_id="u-" + cat, opened=False)
            self.assertEqual(c["decision"]["outcome"], "approve", cat)

    def test_opened_apparel_is_not_a_category_exception(self):
        self.order(category="apparel")
        self.assertEqual(self.claim("return", "no_reason", opened=True)["decision"]["outcome"], "review")

    def test_perishable_refund_only_with_photos_approved_at_once(self):
        self.order(category="perishable", price_cents=3000, qty=1, shipping_cents=500)
        c = self.claim("refund_only", "quality", photos=["https://img.example/rotten.jpg"])
        self.assertEqual(c["decision"]["outcome"], "approve")
        self.assertEqual((c["status"], c["stage"]), ("in_progress", "awaiting_refund"))
        self.assertEqual(c["refund"]["approved_cents"], 3000 + 500)

    def test_perishable_refund_only_without_photos_goes_to_review(self):
        for i, photos in enumerate((None, [])):
            self.order("o%d" % i, category="perishable", price_cents=3000, qty=1)
            fields = {} if photos is None else {"photos": photos}
            c = self.claim("refund_only", "quality", order_id="o%d" % i, **fields)
            self.assertEqual(self.outcome(c), "review/photos_required")
            self.assertEqual((c["status"], c["stage"]), ("open", "manual_review"))
            self.assertEqual(c["refund"]["approved_cents"], 0)

    def test_perishable_cannot_be_shipped_back(self):
        self.order(category="perishable")
        self.assertEqual(self.outcome(self.claim("return", "quality")), "reject/perishable_refund_only")

    # --- refund_only -------------------------------------------------------
    def test_refund_only_not_received_without_delivery_approved_at_once(self):
        self.order(delivered_at=None)
        c = self.claim("refund_only", "not_received")
        self.assertEqual(self.outcome(c), "approve/not_received")
        self.assertEqual((c["status"], c["stage"]), ("in_progress", "awaiting_refund"))
        self.assertEqual(c["refund"]["approved_cents"], 2 * 5000 + 800)

    def test_refund_only_of_a_delivered_item_goes_to_review(self):
        self.order()
        c = self.claim("refund_only", "not_received")
        self.assertEqual(c["decision"]["outcome"], "review")
        self.assertEqual(c["stage"], "manual_review")

    # --- refund amounts ----------------------------------------------------
    def approved_after_review(self, reason, qty=None, order=None):
        """One refund_only on an order of its own (one order line, one claim)."""
        self.n = getattr(self, "n", 0) + 1
        self.order("r%d" % self.n, **(order or {}))
        fields = {} if qty is None else {"qty": qty}
        c = self.claim("refund_only", reason, order_id="r%d" % self.n, **fields)  # delivered: manual review
        self.assertEqual(c["stage"], "manual_review")
        return self.act(c["case_id"], "approve")["refund"]["approved_cents"]

    def test_refund_is_price_times_qty_plus_shipping_when_merchant_at_fault(self):
        line = dict(price_cents=1234, qty=3, shipping_cents=650, buyer_id="b-refunds")
        for reason in MERCHANT_FAULT:
            self.assertEqual(self.approved_after_review(reason, order=line), 1234 * 3 + 650, reason)
            self.assertEqual(self.approved_after_review(reason, qty=2, order=line), 1234 * 2 + 650, reason)
        for reason in ("no_reason", "other", "price_drop", "late_delivery", "attitude"):
            self.assertEqual(self.approved_after_review(reason, order=line), 1234 * 3, reason)

    def test_return_refund_after_inspection_uses_compensation(self):
        amounts = {}
        for reason in ("no_reason", "wrong_item"):
            self.order("o-" + reason, price_cents=2599, qty=1, shipping_cents=1000)
            c = self.claim("return", reason, order_id="o-" + reason)
            self.act(c["case_id"], "ship_back", carrier="SF", tracking_no="t")
            self.act(c["case_id"], "receive")
            amounts[reason] = self.act(c["case_id"], "inspect", result="pass")["refund"]["approved_cents"]
        self.assertEqual(amounts, {"no_reason": 2599, "wrong_item": 2599 + 1000})

    # --- price protection --------------------------------------------------
    def test_price_protection_within_7_days_of_payment_refunds_the_drop(self):
        self.order("in", paid_at=T0 - 7 * DAY, delivered_at=T0 - 5 * DAY, price_cents=5000, qty=2)
        self.order("out", paid_at=T0 - 7 * DAY - 1, delivered_at=T0 - 5 * DAY, price_cents=5000, qty=2)
        for oid in ("in", "out"):
            r = self.s.put("/v1/orders/%s/prices/s1" % oid, {"price_cents": 4650, "at": T0 - HOUR})
            self.assertStatus(r, 200)
        c = self.claim("price_protection", "price_drop", order_id="in")
        self.assertEqual(c["decision"]["outcome"], "approve")
        self.assertEqual((c["status"], c["stage"]), ("in_progress", "awaiting_refund"))
        self.assertEqual(c["refund"]["approved_cents"], (5000 - 4650) * 2)
        c = self.claim("price_protection", "price_drop", order_id="out")
        self.assertEqual(self.outcome(c), "reject/window_expired")
        self.assertEqual(c["refund"]["approved_cents"], 0)

    def test_price_protection_day_8_is_rejected(self):
        self.order(paid_at=T0 - 8 * DAY, delivered_at=T0 - 6 * DAY)
        self.s.put("/v1/orders/o1/prices/s1", {"price_cents": 100, "at": T0})
        self.assertEqual(self.outcome(self.claim("price_protection", "price_drop")),
                         "reject/window_expired")

    def test_price_protection_needs_a_lower_price(self):
        self.order()
        self.assertEqual(self.outcome(self.claim("price_protection", "price_drop")),
                         "reject/no_price_drop")
        self.s.put("/v1/orders/o1/prices/s1", {"price_cents": 5000, "at": T0})
        self.assertEqual(self.outcome(self.claim("price_protection", "price_drop")),
                         "reject/no_price_drop")
        self.s.put("/v1/orders/o1/prices/s1", {"price_cents": 4999, "at": T0})
        c = self.claim("price_protection", "price_drop", qty=1)
        self.assertEqual(c["refund"]["approved_cents"], 1)

    # --- anti-abuse ----------------------------------------------------------
    def returns_for(self, buyer, n, start=0):
        out = []
        for i in range(start, start + n):
            self.order("ab%d" % i, buyer_id=buyer)
            out.append(self.claim("return", order_id="ab%d" % i))
        return out

    def test_more_than_5_returns_in_30_days_goes_to_review(self):
        first = self.returns_for("b9", 5)
        self.assertEqual([c["decision"]["outcome"] for c in first], ["approve"] * 5)
        # an exchange by a buyer with 5 returns: not more than 5
        self.order("abx0", buyer_id="b9")
        self.assertEqual(self.claim("exchange", order_id="abx0")["decision"]["outcome"], "approve")
        # the 6th return in 30 days makes more than 5
        c = self.returns_for("b9", 1, start=5)[0]
        self.assertEqual(self.outcome(c), "review/abuse_check")
        self.assertEqual((c["status"], c["stage"]), ("open", "manual_review"))
        # exchanges and refund_only of that buyer are checked too now
        self.order("abx", buyer_id="b9")
        self.assertEqual(self.outcome(self.claim("exchange", order_id="abx")), "review/abuse_check")
        # another buyer is not affected
        self.order("other", buyer_id="b10")
        self.assertEqual(self.claim("return", order_id="other")["decision"]["outcome"], "approve")

    def test_ineligible_claim_of_a_frequent_returner_is_still_rejected(self):
        self.returns_for("b9", 6)
        self.order("late", buyer_id="b9", delivered_at=T0 - 20 * DAY, paid_at=T0 - 21 * DAY)
        self.assertEqual(self.outcome(self.claim("return", order_id="late")), "reject/window_expired")

    def test_returns_older_than_30_days_do_not_count(self):
        self.returns_for("b9", 6)
        self.s.set_clock(T0 + 30 * DAY + 1)
        now = T0 + 30 * DAY + 1
        r = self.s.post("/v1/orders", order_body(order_id="later", buyer_id="b9", now=now))
        self.assertStatus(r, 201)
        self.assertEqual(self.claim("return", order_id="later")["decision"]["outcome"], "approve")

    # --- routing -------------------------------------------------------------
    def test_routing_queue_per_type(self):
        self.order(delivered_at=None)
        self.order("d", category="electronics", qty=1)
        want = {"return": "after_sales", "exchange": "after_sales", "refund_only": "after_sales",
                "price_protection": "after_sales", "repair": "tech_support",
                "complaint": "quality", "consultation": "customer_service",
                "logistics": "customer_service"}
        for kind, queue in sorted(want.items()):
            c = self.claim(kind, "quality", order_id="d")
            self.assertEqual(c["queue"], queue, kind)
        self.assertEqual(self.claim("consultation", "other", order_id=None, buyer_id="bx")["queue"],
                         "customer_service")

    def test_priority_vip_tier_and_high_spend_first_complaints_second(self):
        self.order("vip", buyer_id="bv", buyer={"tier": "vip"})
        self.order("rich", buyer_id="br", buyer={"tier": "regular", "lifetime_spend_cents": 1000000})
        self.order("almost", buyer_id="ba", buyer={"lifetime_spend_cents": 999999})
        self.order("plain", buyer_id="bp")
        prio = lambda kind, oid: self.claim(kind, "quality", order_id=oid)["priority"]
        self.assertEqual(prio("return", "vip"), 1)
        self.assertEqual(prio("complaint", "vip"), 1)
        self.assertEqual(prio("consultation", "vip"), 1)
        self.assertEqual(prio("return", "rich"), 1)
        self.assertEqual(prio("complaint", "rich"), 1)
        self.assertEqual(prio("return", "almost"), 3)
        self.assertEqual(prio("complaint", "almost"), 2)
        self.assertEqual(prio("return", "plain"), 3)
        self.assertEqual(prio("complaint", "plain"), 2)
        self.assertEqual(prio("logistics", "plain"), 3)
        # a buyer without an order is known from an earlier order's profile
        c = self.claim("consultation", "other", order_id=None, buyer_id="bv")
        self.assertEqual(c["priority"], 1)

    def test_decision_is_recorded_with_policy_version(self):
        self.order()
        pv = self.s.get("/v1/admin/policies").json["version"]
        c = self.claim("return")
        d = c["decision"]
        self.assertEqual(d["policy_version"], pv)
        self.assertEqual(d["reason_code"], "no_reason_return")
        self.assertTrue(d["message"].startswith("no_reason_return"))
        c = self.claim("complaint", "attitude")
        self.assertIsNone(c["decision"])


if __name__ == "__main__":
    main()

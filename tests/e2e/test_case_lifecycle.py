"""Every case type through its whole lifecycle, exactly as SPEC section 3's
table says: the status AND the stage after each step, the refund amounts, the
shipments, the times each step stamps, and the generic actions (close, reopen,
escalate, reply, note, assign, manual review)."""
from harness import DAY, HOUR, T0, ServerTestCase, main, order_body


def state(case):
    return "%s/%s" % (case["status"], case["stage"])


class LifecycleTest(ServerTestCase):

    def assertState(self, case, expected):
        self.assertEqual(state(case), expected, case)

    def get_case(self, case_id, token="adm"):
        r = self.s.get("/v1/cases/" + case_id, token=token)
        self.assertStatus(r, 200)
        return r.json

    def assertAllowed(self, case_id, action, must_list=(), **fields):
        """The action is refused with 409 and the allowed list; nothing changes."""
        before = self.get_case(case_id)
        body = {"action": action}
        body.update(fields)
        r = self.s.post("/v1/cases/%s/actions" % case_id, body)
        err = self.assertError(r, 409, "invalid_transition")
        self.assertIsInstance(err.get("allowed"), list, r)
        self.assertNotIn(action, err["allowed"], r)
        for a in must_list:
            self.assertIn(a, err["allowed"], r)
        after = self.get_case(case_id)
        self.assertEqual(state(after), state(before))
        self.assertEqual(after["refund"], before["refund"])
        return err

    # --- return -------------------------------------------------------------
    def test_return_no_reason_full_lifecycle_with_partial_refunds(self):
        self.make_order()  # 2 x 50.00, shipping 8.00, delivered 2 days ago
        c = self.open_case(type="return", order_id="o1", reason="no_reason")
        self.assertState(c, "awaiting_customer/awaiting_shipment")
        self.assertEqual(c["decision"]["outcome"], "approve")
        self.assertEqual(c["refund"], {"approved_cents": 0, "refunded_cents": 0,
                                       "shipping_paid_by": "buyer"})
        self.assertEqual((c["sku"], c["qty"], c["buyer_id"], c["merchant_id"]), ("s1", 2, "b1", "m1"))
        cid = c["case_id"]
        # Nothing can be refunded, received or inspected before the parcel is sent.
        self.assertAllowed(cid, "refund", ["ship_back"], amount_cents=100)
        self.assertAllowed(cid, "receive", ["ship_back"])
        self.assertAllowed(cid, "inspect", ["ship_back"], result="pass")

        self.s.advance(HOUR)
        c = self.act(cid, "ship_back", carrier="SF", tracking_no="SF123")
        self.assertState(c, "in_progress/in_transit")
        self.assertEqual(c["updated_at"], T0 + HOUR)
        self.assertEqual(len(c["shipments"]), 1)
        self.assertEqual(c["shipments"][0]["direction"], "to_merchant")
        self.assertEqual(c["shipments"][0]["carrier"], "SF")
        self.assertEqual(c["shipments"][0]["tracking_no"], "SF123")
        self.assertAllowed(cid, "inspect", ["receive"], result="pass")

        c = self.act(cid, "receive")
        self.assertState(c, "in_progress/received")
        self.assertEqual(c["refund"]["approved_cents"], 0)
        self.assertAllowed(cid, "refund", ["inspect"], amount_cents=100)

        c = self.act(cid, "inspect", result="pass", notes="complete, tags on")
        self.assertState(c, "in_progress/awaiting_refund")
        # compensation.refund: 50.00 x 2, no shipping for a no-reason return.
        self.assertEqual(c["refund"]["approved_cents"], 10000)
        self.assertEqual(c["refund"]["refunded_cents"], 0)

        c = self.act(cid, "refund", amount_cents=3000)
        self.assertState(c, "in_progress/awaiting_refund")
        self.assertEqual(c["refund"]["refunded_cents"], 3000)
        self.assertIsNone(c["resolved_at"])
        # Above what is left: refused, nothing paid.
        r = self.s.post("/v1/cases/%s/actions" % cid, {"action": "refund", "amount_cents": 7001})
        self.assertEqual(r.status // 100, 4, r)
        self.assertEqual(self.get_case(cid)["refund"]["refunded_cents"], 3000)
        c = self.act(cid, "refund", amount_cents=4000)
        self.assertState(c, "in_progress/awaiting_refund")
        self.assertEqual(c["refund"]["refunded_cents"], 7000)
        self.s.advance(HOUR)
        c = self.act(cid, "refund", amount_cents=3000)
        self.assertState(c, "resolved/refunded")
        self.assertEqual(c["refund"]["refunded_cents"], 10000)
        self.assertEqual(c["refund"]["approved_cents"], 10000)
        self.assertEqual(c["resolved_at"], T0 + 2 * HOUR)
        self.assertIsNone(c["closed_at"])
        # Fully refunded: no more money can go out.
        self.assertAllowed(cid, "refund", ["close", "reopen"], amount_cents=1)
        self.assertEqual(self.get_case(cid)["refund"]["refunded_cents"], 10000)

    def test_return_merchant_fault_refunds_item_and_shipping(self):
        self.make_order()
        c = self.open_case(type="return", order_id="o1", reason="quality", opened=True)
        self.assertState(c, "awaiting_customer/awaiting_shipment")
        self.assertEqual(c["refund"]["shipping_paid_by"], "merchant")
        cid = c["case_id"]
        self.act(cid, "ship_back", carrier="YTO", tracking_no="Y1")
        self.act(cid, "receive")
        c = self.act(cid, "inspect", result="pass")
        self.assertState(c, "in_progress/awaiting_refund")
        self.assertEqual(c["refund"]["approved_cents"], 10000 + 800)
        c = self.act(cid, "refund", amount_cents=10800)
        self.assertState(c, "resolved/refunded")
        self.assertEqual(c["refund"]["refunded_cents"], 10800)

    def test_return_of_part_of_a_line_refunds_that_quantity(self):
        self.make_order(qty=3, price_cents=1999)
        c = self.open_case(type="return", order_id="o1", reason="no_reason", qty=1)
        self.assertEqual(c["qty"], 1)
        cid = c["case_id"]
        self.act(cid, "ship_back", carrier="SF", tracking_no="1")
        self.act(cid, "receive")
        c = self.act(cid, "inspect", result="pass")
        self.assertEqual(c["refund"]["approved_cents"], 1999)

    def test_return_inspection_failed_is_rejected(self):
        self.make_order()
        cid = self.open_case(type="return", order_id="o1")["case_id"]
        self.act(cid, "ship_back", carrier="SF", tracking_no="1")
        self.act(cid, "receive")
        self.s.advance(600)
        c = self.act(cid, "inspect", result="fail", notes="worn, tags removed")
        self.assertState(c, "rejected/inspection_failed")
        self.assertEqual(c["refund"]["approved_cents"], 0)
        self.assertEqual(c["resolved_at"], T0 + 600)
        self.assertAllowed(cid, "refund", ["reopen"], amount_cents=1)
        self.assertAllowed(cid, "inspect", ["reopen"], result="pass")

    def test_inspect_result_must_be_pass_or_fail(self):
        self.make_order()
        cid = self.open_case(type="return", order_id="o1")["case_id"]
        self.act(cid, "ship_back", carrier="SF", tracking_no="1")
        self.act(cid, "receive")
        r = self.s.post("/v1/cases/%s/actions" % cid, {"action": "inspect", "result": "maybe"})
        self.assertEqual(self.assertError(r, 400, "invalid_field")["field"], "result")
        for notes in (1, True, {}, []):
            r = self.s.post("/v1/cases/%s/actions" % cid, {"action": "inspect", "result": "pass", "notes": notes})
            self.assertEqual(self.assertError(r, 400, "invalid_field")["field"], "notes", notes)
        self.assertState(self.get_case(cid), "in_progress/received")

    # --- exchange -----------------------------------------------------------
    def test_exchange_full_lifecycle(self):
        self.make_order(delivered_at=T0 - 10 * DAY, paid_at=T0 - 12 * DAY)
        c = self.open_case(type="exchange", order_id="o1", reason="quality", opened=True)
        self.assertState(c, "awaiting_customer/awaiting_shipment")
        self.assertEqual(c["decision"]["outcome"], "approve")
        cid = c["case_id"]
        c = self.act(cid, "ship_back", carrier="SF", tracking_no="B1")
        self.assertState(c, "in_progress/in_transit")
        c = self.act(cid, "receive")
        self.assertState(c, "in_progress/received")
        c = self.act(cid, "inspect", result="pass")
        self.assertState(c, "in_progress/awaiting_replacement")
        self.assertEqual(c["refund"]["approved_cents"], 0)  # an exchange pays nothing back
        self.assertAllowed(cid, "refund", ["ship_to_customer"], amount_cents=1)
        self.assertAllowed(cid, "repair_done", ["ship_to_customer"])
        self.s.advance(DAY)
        c = self.act(cid, "ship_to_customer", carrier="SF", tracking_no="F2")
        self.assertState(c, "resolved/replaced")
        self.assertEqual(c["resolved_at"], T0 + DAY)
        self.assertEqual([s["direction"] for s in c["shipments"]], ["to_merchant", "to_customer"])
        self.assertEqual(c["shipments"][1]["tracking_no"], "F2")

    def test_exchange_inspection_failed_is_rejected(self):
        self.make_order()
        cid = self.open_case(type="exchange", order_id="o1", reason="no_reason")["case_id"]
        self.act(cid, "ship_back", carrier="SF", tracking_no="1")
        self.act(cid, "receive")
        c = self.act(cid, "inspect", result="fail")
        self.assertState(c, "rejected/inspection_failed")

    # --- repair -------------------------------------------------------------
    def test_repair_full_lifecycle(self):
        self.make_order(category="electronics", qty=1, delivered_at=T0 - 100 * DAY,
                        paid_at=T0 - 103 * DAY)
        c = self.open_case(type="repair", order_id="o1", reason="quality", opened=True)
        self.assertState(c, "awaiting_customer/awaiting_shipment")
        self.assertEqual(c["queue"], "tech_support")
        cid = c["case_id"]
        c = self.act(cid, "ship_back", carrier="JD", tracking_no="R1")
        self.assertState(c, "in_progress/in_transit")
        self.assertAllowed(cid, "inspect", ["receive"], result="pass")
        c = self.act(cid, "receive")
        self.assertState(c, "in_progress/repairing")
        self.assertAllowed(cid, "ship_to_customer", ["repair_done"], carrier="JD", tracking_no="R2")
        c = self.act(cid, "repair_done")
        self.assertState(c, "in_progress/repaired")
        self.assertAllowed(cid, "refund", ["ship_to_customer"], amount_cents=1)
        c = self.act(cid, "ship_to_customer", carrier="JD", tracking_no="R2")
        self.assertState(c, "resolved/repaired")
        self.assertIsNotNone(c["resolved_at"])
        self.assertEqual([s["direction"] for s in c["shipments"]], ["to_merchant", "to_customer"])

    def test_repair_received_without_a_recorded_shipment(self):
        # The spec's repair row goes straight from the approval to `receive`
        # (a device handed in at a service point has no shipment of its own).
        self.make_order(category="appliances", qty=1)
        cid = self.open_case(type="repair", order_id="o1", reason="quality")["case_id"]
        c = self.act(cid, "receive")
        self.assertState(c, "in_progress/repairing")
        c = self.act(cid, "repair_done")
        self.assertState(c, "in_progress/repaired")
        c = self.act(cid, "ship_to_customer", carrier="JD", tracking_no="R9")
        self.assertState(c, "resolved/repaired")

    # --- money-only types ---------------------------------------------------
    def test_refund_only_not_received_approved_at_once_and_refunded(self):
        self.make_order(delivered_at=None)
        c = self.open_case(type="refund_only", order_id="o1", reason="not_received")
        self.assertState(c, "in_progress/awaiting_refund")
        self.assertEqual(c["decision"]["outcome"], "approve")
        self.assertEqual(c["refund"]["approved_cents"], 10000 + 800)
        cid = c["case_id"]
        self.assertAllowed(cid, "ship_back", ["refund"], carrier="x", tracking_no="y")
        c = self.act(cid, "refund", amount_cents=800)
        self.assertState(c, "in_progress/awaiting_refund")
        c = self.act(cid, "refund", amount_cents=10000)
        self.assertState(c, "resolved/refunded")
        self.assertEqual(c["refund"]["refunded_cents"], 10800)

    def test_price_protection_approved_with_the_drop_and_refunded(self):
        self.make_order()  # paid 3 days ago at 50.00 each, 2 of them
        r = self.s.put("/v1/orders/o1/prices/s1", {"price_cents": 4200, "at": T0 - HOUR})
        self.assertStatus(r, 200)
        c = self.open_case(type="price_protection", order_id="o1", reason="price_drop")
        self.assertState(c, "in_progress/awaiting_refund")
        self.assertEqual(c["refund"]["approved_cents"], (5000 - 4200) * 2)
        c = self.act(c["case_id"], "refund", amount_cents=1600)
        self.assertState(c, "resolved/refunded")
        self.assertEqual(c["refund"]["refunded_cents"], 1600)

    # --- types without a decision -------------------------------------------
    def test_complaint_consultation_logistics_open_new_then_resolve(self):
        self.make_order()
        for kind, reason in (("complaint", "attitude"), ("consultation", "other"),
                             ("logistics", "late_delivery")):
            c = self.open_case(type=kind, order_id="o1", reason=reason, channel="chat")
            self.assertState(c, "open/new")
            self.assertIsNone(c["decision"], kind)
            self.assertAllowed(c["case_id"], "ship_back", ["resolve"], carrier="x", tracking_no="y")
            self.assertAllowed(c["case_id"], "approve", ["resolve"])
            c = self.act(c["case_id"], "resolve", resolution="explained and apologised")
            self.assertEqual(c["status"], "resolved", kind)
            self.assertIsNotNone(c["resolved_at"])

    def test_consultation_with_only_a_buyer(self):
        c = self.open_case(type="consultation", buyer_id="b77", reason="other", channel="phone",
                           description="how do I measure my size?")
        self.assertState(c, "open/new")
        self.assertIsNone(c["order_id"])
        self.assertEqual(c["buyer_id"], "b77")
        self.assertEqual(c["queue"], "customer_service")
        self.assertIsNone(c["decision"])
        self.assertEqual(self.get_case(c["case_id"])["buyer_id"], "b77")
        c = self.act(c["case_id"], "reply", by="agent", body="See the size chart.")
        c = self.act(c["case_id"], "resolve", resolution="answered")
        self.assertEqual(c["status"], "resolved")

    def test_service_token_consultation_without_order_belongs_to_its_merchant(self):
        c = self.open_case(token="svc1", type="consultation", buyer_id="b5", reason="other")
        self.assertEqual(c["merchant_id"], "m1")
        self.assertStatus(self.s.get("/v1/cases/" + c["case_id"], token="svc1"), 200)
        self.assertError(self.s.get("/v1/cases/" + c["case_id"], token="svc2"), 404)

    # --- manual review ------------------------------------------------------
    def test_manual_review_approved_moves_on_like_an_approval(self):
        self.make_order()
        c = self.open_case(type="return", order_id="o1", reason="no_reason", opened=True)
        self.assertState(c, "open/manual_review")
        self.assertEqual(c["decision"]["outcome"], "review")
        self.assertAllowed(c["case_id"], "ship_back", ["approve", "reject"], carrier="x", tracking_no="y")
        c = self.act(c["case_id"], "approve", token="ag1")
        self.assertState(c, "awaiting_customer/awaiting_shipment")
        self.assertEqual(c["decision"]["outcome"], "approve")
        self.assertAllowed(c["case_id"], "approve", ["ship_back"])

    def test_manual_review_rejected(self):
        self.make_order()
        c = self.open_case(type="return", order_id="o1", reason="no_reason", opened=True)
        c = self.act(c["case_id"], "reject", reason="item is missing parts")
        self.assertEqual(c["status"], "rejected")
        self.assertEqual(c["decision"]["outcome"], "reject")
        self.assertIsNotNone(c["resolved_at"])

    def test_refund_only_review_approved_gets_the_amount_at_once(self):
        self.make_order()  # delivered, not perishable: manual review
        c = self.open_case(type="refund_only", order_id="o1", reason="damaged_in_transit")
        self.assertState(c, "open/manual_review")
        self.assertEqual(c["refund"]["approved_cents"], 0)
        self.assertAllowed(c["case_id"], "refund", ["approve"], amount_cents=1)
        c = self.act(c["case_id"], "approve")
        self.assertState(c, "in_progress/awaiting_refund")
        self.assertEqual(c["refund"]["approved_cents"], 10800)
        c = self.act(c["case_id"], "refund", amount_cents=10800)
        self.assertState(c, "resolved/refunded")

    def test_eligibility_reject_on_create(self):
        self.make_order(delivered_at=T0 - 20 * DAY, paid_at=T0 - 21 * DAY)
        c = self.open_case(type="return", order_id="o1", reason="no_reason")
        self.assertEqual(c["status"], "rejected")
        self.assertEqual(c["decision"]["outcome"], "reject")
        self.assertEqual(c["decision"]["reason_code"], "window_expired")
        self.assertTrue(c["decision"]["message"])
        self.assertTrue(c["decision"]["policy_version"])

    # --- close, reopen ------------------------------------------------------
    def test_close_ends_a_resolved_case_and_nothing_works_after(self):
        self.make_order()
        c = self.open_case(type="complaint", order_id="o1", reason="attitude")
        cid = c["case_id"]
        self.assertAllowed(cid, "close", ["resolve"])
        self.act(cid, "resolve", resolution="apologised")
        self.s.advance(HOUR // 2)
        c = self.act(cid, "close")
        self.assertEqual(c["status"], "closed")
        self.assertEqual(c["closed_at"], T0 + HOUR // 2)
        for action, fields in (("reply", {"by": "agent", "body": "hi"}), ("note", {"body": "x"}),
                               ("reopen", {"reason": "x"}), ("resolve", {"resolution": "x"}),
                               ("escalate", {"reason": "x"})):
            err = self.assertAllowed(cid, action, **fields)
            self.assertEqual(err["allowed"], [])

    def test_reopen_resolved_goes_back_to_in_progress(self):
        self.make_order()
        c = self.open_case(type="consultation", order_id="o1", reason="other")
        cid = c["case_id"]
        self.assertAllowed(cid, "reopen", ["resolve"], reason="x")
        c = self.act(cid, "resolve", resolution="answered")
        prio = c["priority"]
        r = self.s.post("/v1/cases/%s/actions" % cid, {"action": "reopen"})
        self.assertEqual(self.assertError(r, 400, "invalid_field")["field"], "reason")
        c = self.act(cid, "reopen", reason="customer says it is not answered")
        self.assertEqual(c["status"], "in_progress")
        self.assertIsNone(c["resolved_at"])
        self.assertFalse(c["escalated"])
        self.assertEqual(c["priority"], prio)
        c = self.act(cid, "resolve", resolution="answered again")
        self.assertEqual(c["status"], "resolved")

    def test_reopening_a_rejection_is_an_appeal_and_escalates(self):
        self.make_order(delivered_at=T0 - 9 * DAY, paid_at=T0 - 10 * DAY)
        c = self.open_case(type="return", order_id="o1", reason="no_reason")
        self.assertEqual(c["status"], "rejected")
        self.assertEqual(c["priority"], 3)
        c = self.act(c["case_id"], "reopen", reason="the parcel arrived late")
        self.assertEqual(c["status"], "in_progress")
        self.assertTrue(c["escalated"])
        self.assertEqual(c["priority"], 2)
        self.assertEqual(c["queue"], "after_sales")

    def test_an_appeal_granted_continues_where_the_rejection_stopped(self):
        self.make_order(delivered_at=T0 - 9 * DAY, paid_at=T0 - 10 * DAY)
        cid = self.open_case(type="return", order_id="o1", reason="no_reason")["case_id"]
        c = self.act(cid, "reopen", reason="the parcel arrived late")
        self.assertState(c, "in_progress/appealed")
        self.assertAllowed(cid, "ship_back", ["approve", "reject", "resolve"], carrier="SF", tracking_no="1")
        self.s.advance(HOUR)
        c = self.act(cid, "approve", reason="courier confirmed the late delivery")
        self.assertState(c, "awaiting_customer/awaiting_shipment")
        self.assertEqual(c["decision"]["outcome"], "approve")
        self.assertEqual(c["decision"]["reason_code"], "approved_on_appeal")
        self.assertEqual(c["decision"]["at"], T0 + HOUR)
        self.act(cid, "ship_back", carrier="SF", tracking_no="1")
        self.act(cid, "receive")
        c = self.act(cid, "inspect", result="pass")
        self.assertEqual(c["refund"]["approved_cents"], 10000)
        c = self.act(cid, "refund", amount_cents=10000)
        self.assertState(c, "resolved/refunded")

    def test_an_appeal_refused_is_rejected_again_and_may_be_appealed_again(self):
        self.make_order()
        c = self.open_case(type="refund_only", order_id="o1", reason="damaged_in_transit")
        cid = c["case_id"]
        self.act(cid, "reject", reason="no photos")
        c = self.act(cid, "reopen", reason="photos attached now")
        self.assertState(c, "in_progress/appealed")
        c = self.act(cid, "reject", reason="photos show no damage")
        self.assertState(c, "rejected/appeal_rejected")
        self.assertEqual(c["decision"]["reason_code"], "rejected_on_appeal")
        self.assertIsNotNone(c["resolved_at"])
        self.act(cid, "reopen", reason="second opinion")
        # an approval by hand is bounded by what the order line can refund
        r = self.s.post("/v1/cases/%s/actions" % cid, {"action": "approve", "amount_cents": 10801})
        self.assertEqual(self.assertError(r, 400, "invalid_field")["max_cents"], 10800)
        r = self.s.post("/v1/cases/%s/actions" % cid, {"action": "approve", "amount_cents": 0})
        self.assertEqual(self.assertError(r, 400, "invalid_field")["field"], "amount_cents")
        c = self.act(cid, "approve", token="ag1")
        self.assertState(c, "in_progress/awaiting_refund")
        self.assertEqual(c["refund"]["approved_cents"], 10800)
        self.assertEqual(c["decision"]["message"], "approved on appeal by agent a1")

    def test_an_appeal_approved_with_nothing_to_refund_is_refused_not_stuck(self):
        self.make_order()  # the price never dropped: price protection is rejected
        cid = self.open_case(type="price_protection", order_id="o1", reason="price_drop")["case_id"]
        c = self.act(cid, "reopen", reason="it was cheaper yesterday")
        self.assertState(c, "in_progress/appealed")
        r = self.s.post("/v1/cases/%s/actions" % cid, {"action": "approve"})
        self.assertError(r, 422, "policy_error")
        self.assertState(self.s.get("/v1/cases/" + cid).json, "in_progress/appealed")
        c = self.act(cid, "approve", amount_cents=500)
        self.assertState(c, "in_progress/awaiting_refund")
        c = self.act(cid, "refund", amount_cents=500)
        self.assertState(c, "resolved/refunded")

    def test_a_failed_inspection_appealed_is_inspected_again(self):
        self.make_order()
        cid = self.open_case(type="exchange", order_id="o1", reason="no_reason")["case_id"]
        self.act(cid, "ship_back", carrier="SF", tracking_no="1")
        self.act(cid, "receive")
        self.act(cid, "inspect", result="fail", notes="worn")
        c = self.act(cid, "reopen", reason="it was not worn")
        self.assertState(c, "in_progress/inspection_appealed")
        # the goods are in: no approval back to shipping them
        self.assertAllowed(cid, "approve", ["inspect", "reject"])
        c = self.act(cid, "inspect", result="pass", notes="second look: fine")
        self.assertState(c, "in_progress/awaiting_replacement")
        self.assertEqual((c["decision"]["outcome"], c["decision"]["reason_code"]), ("approve", "approved_on_appeal"))
        self.assertEqual(c["decision"]["message"], "approved on appeal by admin")
        c = self.act(cid, "ship_to_customer", carrier="SF", tracking_no="2")
        self.assertState(c, "resolved/replaced")

    def test_reopening_a_resolved_case_offers_no_approval(self):
        self.make_order()
        cid = self.open_case(type="refund_only", order_id="o1", reason="damaged_in_transit")["case_id"]
        self.act(cid, "approve")
        self.act(cid, "refund", amount_cents=10800)
        c = self.act(cid, "reopen", reason="charged twice")
        self.assertState(c, "in_progress/reopened")
        self.assertAllowed(cid, "approve", ["resolve"])

    # --- escalate, reply, note, assign --------------------------------------
    def test_escalate_raises_priority_and_reroutes(self):
        self.make_order()
        c = self.open_case(type="return", order_id="o1")
        self.assertEqual(c["priority"], 3)
        self.assertFalse(c["escalated"])
        cid = c["case_id"]
        r = self.s.post("/v1/cases/%s/actions" % cid, {"action": "escalate"})
        self.assertEqual(self.assertError(r, 400, "invalid_field")["field"], "reason")
        c = self.act(cid, "escalate", reason="customer is upset")
        self.assertTrue(c["escalated"])
        self.assertEqual(c["priority"], 2)
        self.assertEqual(c["queue"], "after_sales")
        self.assertState(c, "awaiting_customer/awaiting_shipment")
        c = self.act(cid, "escalate", reason="still upset")
        self.assertEqual(c["priority"], 1)
        c = self.act(cid, "escalate", reason="very upset")
        self.assertEqual(c["priority"], 1)
        # routing.route ran again and saw case.escalated = true
        tl = self.s.get("/v1/cases/%s/timeline" % cid).json["events"]
        routes = [e for e in tl if e["type"] == "decision" and e["data"].get("module") == "routing"]
        self.assertGreaterEqual(len(routes), 2)
        self.assertFalse(routes[0]["data"]["inputs"][0]["escalated"])
        self.assertTrue(routes[-1]["data"]["inputs"][0]["escalated"])

    def test_escalation_moves_a_case_off_an_agent_who_went_offline(self):
        # x1 and x2: named by no token, so both may work m1's case
        self.make_agent("x1", queues=["after_sales"], capacity=5)
        self.make_agent("x2", queues=["after_sales"], capacity=5)
        self.make_order()
        c = self.open_case(type="return", order_id="o1")
        held_by = c["assignee"]
        other = "x2" if held_by == "x1" else "x1"
        self.assertStatus(self.s.post("/v1/agents", {"agent_id": held_by, "online": False}), 200)
        c = self.act(c["case_id"], "escalate", reason="nobody answers")
        self.assertEqual(c["assignee"], other)
        loads = {a["agent_id"]: a["load"] for a in self.s.get("/v1/agents").json["agents"]}
        self.assertEqual((loads[held_by], loads[other]), (0, 1))

    def test_agent_reply_sets_first_response_customer_reply_does_not(self):
        self.make_order()
        c = self.open_case(type="consultation", order_id="o1", reason="other")
        cid = c["case_id"]
        self.assertIsNone(c["first_response_at"])
        self.s.advance(600)
        c = self.act(cid, "reply", by="customer", body="hello?")
        self.assertIsNone(c["first_response_at"])
        self.s.advance(600)
        c = self.act(cid, "reply", token="ag1", by="agent", body="Hello, how can I help?")
        self.assertEqual(c["first_response_at"], T0 + 1200)
        self.s.advance(600)
        c = self.act(cid, "reply", by="agent", body="Anything else?")
        self.assertEqual(c["first_response_at"], T0 + 1200)
        self.assertState(c, "open/new")
        r = self.s.post("/v1/cases/%s/actions" % cid, {"action": "reply", "by": "robot", "body": "x"})
        self.assertEqual(self.assertError(r, 400, "invalid_field")["field"], "by")
        r = self.s.post("/v1/cases/%s/actions" % cid, {"action": "reply", "by": "agent"})
        self.assertEqual(self.assertError(r, 400, "invalid_field")["field"], "body")
        msgs = [e["data"] for e in self.s.get("/v1/cases/%s/timeline" % cid).json["events"]
                if e["type"] == "message"]
        self.assertEqual([(m["by"], m["body"]) for m in msgs],
                         [("customer", "hello?"), ("agent", "Hello, how can I help?"),
                          ("agent", "Anything else?")])

    def test_note_is_internal_and_changes_nothing(self):
        self.make_order()
        c = self.open_case(type="return", order_id="o1")
        c2 = self.act(c["case_id"], "note", body="customer called twice")
        self.assertEqual(state(c2), state(c))
        self.assertIsNone(c2["first_response_at"])
        notes = [e for e in self.s.get("/v1/cases/%s/timeline" % c["case_id"]).json["events"]
                 if e["type"] == "note"]
        self.assertEqual([n["data"]["body"] for n in notes], ["customer called twice"])

    def test_assign_by_hand(self):
        self.make_agent("a1", queues=["after_sales"])
        self.make_agent("a9", queues=["quality"])
        self.make_order()
        c = self.open_case(type="return", order_id="o1")
        self.assertEqual(c["assignee"], "a1")
        c = self.act(c["case_id"], "assign", agent_id="a9")
        self.assertEqual(c["assignee"], "a9")
        self.assertState(c, "awaiting_customer/awaiting_shipment")
        r = self.s.post("/v1/cases/%s/actions" % c["case_id"], {"action": "assign", "agent_id": "nobody"})
        self.assertEqual(self.assertError(r, 400, "invalid_field")["field"], "agent_id")
        # a2 is the agent of m2's token: not for m1's cases
        r = self.s.post("/v1/cases/%s/actions" % c["case_id"], {"action": "assign", "agent_id": "a2"})
        self.assertEqual(self.assertError(r, 400, "invalid_field")["field"], "agent_id")
        self.assertEqual(self.get_case(c["case_id"])["assignee"], "a9")

    def test_assign_to_the_agent_of_a_token(self):
        # ag1's token names agent a1 of merchant m1, never registered as an agent
        self.make_order()
        c = self.open_case(type="return", order_id="o1")
        self.assertIsNone(c["assignee"])
        c = self.act(c["case_id"], "assign", token="ag1", agent_id="a1")
        self.assertEqual(c["assignee"], "a1")

    def test_generic_actions_work_in_any_status_but_closed(self):
        self.make_agent("a1", queues=["after_sales"])
        self.make_order(delivered_at=T0 - 9 * DAY, paid_at=T0 - 10 * DAY)
        c = self.open_case(type="return", order_id="o1")  # rejected
        self.assertEqual(c["status"], "rejected")
        cid = c["case_id"]
        self.act(cid, "reply", by="agent", body="sorry, the window has closed")
        self.act(cid, "note", body="told the customer")
        c = self.act(cid, "assign", agent_id="a1")
        self.assertEqual(c["status"], "rejected")
        self.assertEqual(c["assignee"], "a1")
        self.assertIsNotNone(c["first_response_at"])


if __name__ == "__main__":
    main()

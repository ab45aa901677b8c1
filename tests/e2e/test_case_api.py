"""The case API around the lifecycle: field-level validation, invalid
transitions, refunds that would overpay, Idempotency-Key, list filters and
cursors, a customer's cases, tenancy and masking, the timeline and the events
feed (SPEC section 3, docs/api.md)."""
import os
import shutil
import tempfile
import threading

from harness import DAY, HOUR, POLICIES, T0, ServerTestCase, main, order_body, wrap_module

PHONE, EMAIL = "13812345678", "alice@example.com"


class CaseApiTest(ServerTestCase):

    def post_case(self, body, token="adm", headers=None):
        return self.s.post("/v1/cases", body, token=token, headers=headers)

    def list_ids(self, query="", token="adm"):
        r = self.s.get("/v1/cases" + query, token=token)
        self.assertStatus(r, 200)
        return [c["case_id"] for c in r.json["cases"]]

    def events(self, after=0, token="adm", limit=1000):
        r = self.s.get("/v1/events?after=%d&limit=%d" % (after, limit), token=token)
        self.assertStatus(r, 200)
        return r.json["events"]

    def last_seq(self):
        r = self.s.get("/v1/events?after=0&limit=1000")
        return r.json["next_after"]

    def assertField(self, r, field, status=400):
        err = self.assertError(r, status, "invalid_field")
        self.assertEqual(err.get("field"), field, r)
        return err

    # --- validation ----------------------------------------------------------
    def test_create_names_the_bad_field(self):
        self.make_order()
        self.make_order(order_id="multi", items=[
            {"sku": "a", "category": "apparel", "price_cents": 100, "qty": 1},
            {"sku": "b", "category": "apparel", "price_cents": 200, "qty": 1}])
        base = {"type": "return", "order_id": "o1", "reason": "no_reason", "channel": "app"}
        cases = [
            ({"type": "teleport"}, "type"),
            ({"type": 7}, "type"),
            ({"type": None}, "type"),
            ({"reason": None}, "reason"),
            ({"reason": "bored"}, "reason"),
            ({"channel": None}, "channel"),
            ({"channel": "fax"}, "channel"),
            ({"channel": 3}, "channel"),
            ({"qty": 3}, "qty"),
            ({"qty": 0}, "qty"),
            ({"qty": "1"}, "qty"),
            ({"qty": 1.5}, "qty"),
            ({"sku": "nope"}, "sku"),
            ({"order_id": "multi"}, "sku"),
            ({"photos": "https://x"}, "photos"),
            ({"photos": [1]}, "photos[0]"),
            ({"opened": "yes"}, "opened"),
            ({"description": 12}, "description"),
            ({"order_id": None}, "order_id"),
            ({"order_id": 42}, "order_id"),
        ]
        for change, field in cases:
            body = dict(base)
            for k, v in change.items():
                if v is None:
                    body.pop(k, None)
                else:
                    body[k] = v
            self.assertField(self.post_case(body), field)
        # a missing order id for a type that needs none: either id names the problem
        r = self.post_case({"type": "consultation", "reason": "other", "channel": "chat"})
        self.assertIn(self.assertError(r, 400, "invalid_field")["field"], ("order_id", "buyer_id"))
        # an unknown order is not found (docs/api.md)
        self.assertError(self.post_case(dict(base, order_id="missing")), 404, "not_found")
        # invalid JSON says where
        r = self.s.request("POST", "/v1/cases", raw_body=b'{"type": "return",')
        err = self.assertError(r, 400, "invalid_json")
        self.assertIn("line", err)
        # none of these created anything
        self.assertEqual(self.list_ids(), [])
        self.assertEqual([e for e in self.events() if e["type"] == "case.created"], [])
        # and the good body still works
        self.assertStatus(self.post_case(base), 201)

    def test_sku_and_qty_default_to_the_only_line(self):
        self.make_order(qty=4)
        c = self.open_case(type="return", order_id="o1")
        self.assertEqual((c["sku"], c["qty"]), ("s1", 4))
        c = self.open_case(type="return", order_id="o1", sku="s1", qty=4)
        self.assertEqual(c["qty"], 4)

    def test_action_validation(self):
        self.make_order()
        cid = self.open_case(type="return", order_id="o1")["case_id"]
        r = self.s.post("/v1/cases/%s/actions" % cid, {"action": "teleport"})
        err = self.assertError(r, 400, "unknown_action")
        self.assertIn("ship_back", err.get("allowed", []))
        self.assertField(self.s.post("/v1/cases/%s/actions" % cid, {}), "action")
        self.assertField(self.s.post("/v1/cases/%s/actions" % cid, {"action": 5}), "action")
        self.assertField(self.s.post("/v1/cases/%s/actions" % cid,
                                     {"action": "ship_back", "carrier": "SF"}), "tracking_no")
        self.assertField(self.s.post("/v1/cases/%s/actions" % cid,
                                     {"action": "ship_back", "tracking_no": "1"}), "carrier")
        self.assertError(self.s.post("/v1/cases/C9999999999/actions", {"action": "note", "body": "x"}),
                         404, "not_found")
        self.assertError(self.s.get("/v1/cases/C9999999999"), 404, "not_found")
        c = self.s.get("/v1/cases/" + cid).json
        self.assertEqual((c["status"], c["stage"]), ("awaiting_customer", "awaiting_shipment"))
        self.assertEqual(c["shipments"], [])

    def test_invalid_transition_is_409_with_allowed_and_the_state(self):
        self.make_order()
        cid = self.open_case(type="return", order_id="o1")["case_id"]
        for action, fields in (("refund", {"amount_cents": 100}), ("receive", {}),
                               ("inspect", {"result": "pass"}), ("repair_done", {}),
                               ("ship_to_customer", {"carrier": "a", "tracking_no": "b"}),
                               ("close", {}), ("reopen", {"reason": "x"}), ("approve", {})):
            body = dict(fields, action=action)
            r = self.s.post("/v1/cases/%s/actions" % cid, body)
            err = self.assertError(r, 409, "invalid_transition")
            self.assertEqual(sorted(err["allowed"]),
                             ["assign", "cancel", "escalate", "note", "reply", "resolve", "ship_back"], action)
            self.assertEqual((err.get("status"), err.get("stage")),
                             ("awaiting_customer", "awaiting_shipment"))
        c = self.s.get("/v1/cases/" + cid).json
        self.assertEqual((c["status"], c["stage"]), ("awaiting_customer", "awaiting_shipment"))
        # a consultation never ships
        k = self.open_case(type="consultation", order_id="o1", reason="other")["case_id"]
        err = self.assertError(self.s.post("/v1/cases/%s/actions" % k,
                                           {"action": "ship_back", "carrier": "a", "tracking_no": "b"}),
                               409, "invalid_transition")
        self.assertIn("resolve", err["allowed"])
        self.assertNotIn("ship_back", err["allowed"])

    # --- refunds -------------------------------------------------------------
    def test_refund_above_approved_pays_nothing(self):
        self.make_order(delivered_at=None)
        c = self.open_case(type="refund_only", order_id="o1", reason="not_received")
        cid = c["case_id"]
        self.assertEqual(c["refund"]["approved_cents"], 10800)
        seq = self.last_seq()
        r = self.s.post("/v1/cases/%s/actions" % cid, {"action": "refund", "amount_cents": 10801})
        err = self.assertField(r, "amount_cents")
        self.assertEqual(err.get("remaining_cents"), 10800)
        for bad in (0, -5, "100", 1.5, None):
            body = {"action": "refund"}
            if bad is not None:
                body["amount_cents"] = bad
            self.assertField(self.s.post("/v1/cases/%s/actions" % cid, body), "amount_cents")
        self.act(cid, "refund", amount_cents=10000)
        r = self.s.post("/v1/cases/%s/actions" % cid, {"action": "refund", "amount_cents": 801})
        self.assertEqual(self.assertField(r, "amount_cents").get("remaining_cents"), 800)
        c = self.s.get("/v1/cases/" + cid).json
        self.assertEqual(c["refund"]["refunded_cents"], 10000)
        self.assertEqual(c["stage"], "awaiting_refund")
        paid = [e for e in self.events(seq) if e["type"] == "refund.requested"]
        self.assertEqual([e["data"]["amount_cents"] for e in paid], [10000])

    # --- idempotency ---------------------------------------------------------
    def test_idempotent_create_answers_the_first_case(self):
        self.make_order()
        body = {"type": "return", "order_id": "o1", "reason": "no_reason", "channel": "app"}
        h = {"Idempotency-Key": "create-1"}
        r1 = self.post_case(body, headers=h)
        self.assertStatus(r1, 201)
        self.s.advance(60)
        r2 = self.post_case(body, headers=h)
        self.assertStatus(r2, 201)
        self.assertEqual(r2.json, r1.json)
        self.assertEqual(r2.headers.get("idempotent-replay"), "true")
        self.assertEqual(self.list_ids(), [r1.json["case_id"]])
        created = [e for e in self.events() if e["type"] == "case.created"]
        self.assertEqual(len(created), 1)
        self.assertEqual(self.s.get("/v1/orders/o1").json["case_ids"], [r1.json["case_id"]])
        # another key is another case
        r3 = self.post_case(body, headers={"Idempotency-Key": "create-2"})
        self.assertStatus(r3, 201)
        self.assertNotEqual(r3.json["case_id"], r1.json["case_id"])
        # without a key every request is a new case
        self.assertStatus(self.post_case(body), 201)
        self.assertEqual(len(self.list_ids()), 3)

    def test_a_key_reused_for_another_request_is_422(self):
        self.make_order()
        body = {"type": "return", "order_id": "o1", "reason": "no_reason", "channel": "app"}
        h = {"Idempotency-Key": "reused"}
        first = self.post_case(body, headers=h)
        self.assertStatus(first, 201)
        other = dict(body, type="complaint", reason="attitude")
        self.assertError(self.post_case(other, headers=h), 422, "idempotency_key_reused")
        self.assertEqual(self.list_ids(), [first.json["case_id"]])
        # the same request still replays the first answer
        again = self.post_case(body, headers=h)
        self.assertEqual(again.json, first.json)
        # an action's key too: a different amount is not a retry of the first refund
        self.make_order(order_id="o2")  # o1's line is claimed by the return
        cid = self.open_case(type="refund_only", order_id="o2", reason="damaged_in_transit")["case_id"]
        self.act(cid, "approve")
        path = "/v1/cases/%s/actions" % cid
        hk = {"Idempotency-Key": "pay-1"}
        self.assertStatus(self.s.post(path, {"action": "refund", "amount_cents": 100}, headers=hk), 200)
        r = self.s.post(path, {"action": "refund", "amount_cents": 200}, headers=hk)
        self.assertError(r, 422, "idempotency_key_reused")
        self.assertEqual(self.s.get("/v1/cases/" + cid).json["refund"]["refunded_cents"], 100)

    def test_a_key_too_long_to_keep_is_refused_not_ignored(self):
        self.make_order()
        body = {"type": "return", "order_id": "o1", "reason": "no_reason", "channel": "app"}
        r = self.post_case(body, headers={"Idempotency-Key": "k" * 256})
        self.assertEqual(self.assertError(r, 400, "invalid_field")["field"], "Idempotency-Key")
        self.assertEqual(self.list_ids(), [])
        h = {"Idempotency-Key": "k" * 255}
        first = self.post_case(body, headers=h)
        self.assertStatus(first, 201)
        self.assertEqual(self.post_case(body, headers=h).json, first.json)
        self.assertEqual(len(self.list_ids()), 1)

    def test_idempotency_key_is_scoped_to_the_token(self):
        self.make_order()
        body = {"type": "return", "order_id": "o1", "reason": "no_reason", "channel": "app"}
        h = {"Idempotency-Key": "k"}
        a = self.post_case(body, headers=h, token="adm")
        b = self.post_case(body, headers=h, token="svc1")
        self.assertStatus(a, 201)
        self.assertStatus(b, 201)
        self.assertNotEqual(a.json["case_id"], b.json["case_id"])

    def test_retried_refund_pays_once(self):
        self.make_order(delivered_at=None)
        cid = self.open_case(type="refund_only", order_id="o1", reason="not_received")["case_id"]
        path = "/v1/cases/%s/actions" % cid
        h = {"Idempotency-Key": "refund-1"}
        r1 = self.s.post(path, {"action": "refund", "amount_cents": 5000}, headers=h)
        self.assertStatus(r1, 200)
        r2 = self.s.post(path, {"action": "refund", "amount_cents": 5000}, headers=h)
        self.assertStatus(r2, 200)
        self.assertEqual(r2.json["refund"]["refunded_cents"], 5000)
        self.assertEqual(r2.headers.get("idempotent-replay"), "true")
        c = self.s.get("/v1/cases/" + cid).json
        self.assertEqual(c["refund"]["refunded_cents"], 5000)
        paid = [e for e in self.events() if e["type"] == "refund.requested"]
        self.assertEqual(len(paid), 1)
        # a new key is a new refund
        r3 = self.s.post(path, {"action": "refund", "amount_cents": 5800},
                         headers={"Idempotency-Key": "refund-2"})
        self.assertStatus(r3, 200)
        self.assertEqual(r3.json["refund"]["refunded_cents"], 10800)
        self.assertEqual(r3.json["status"], "resolved")
        # retrying the first one again still answers its first result, pays nothing
        r4 = self.s.post(path, {"action": "refund", "amount_cents": 5000}, headers=h)
        self.assertEqual(r4.json, r1.json)
        self.assertEqual(self.s.get("/v1/cases/" + cid).json["refund"]["refunded_cents"], 10800)
        self.assertEqual(len([e for e in self.events() if e["type"] == "refund.requested"]), 2)

    def parallel(self, fn, n):
        out = [None] * n
        go = threading.Barrier(n)

        def run(i):
            go.wait()
            out[i] = fn(i)
        threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return out

    def test_concurrent_repeats_of_one_key_create_one_case(self):
        self.make_order()
        body = {"type": "return", "order_id": "o1", "reason": "no_reason", "channel": "app"}
        rs = self.parallel(lambda i: self.post_case(body, headers={"Idempotency-Key": "same"}), 8)
        self.assertEqual([r.status for r in rs], [201] * 8)
        self.assertEqual(len(set(r.json["case_id"] for r in rs)), 1)
        self.assertEqual(len(self.list_ids()), 1)
        self.assertEqual(len([e for e in self.events() if e["type"] == "case.created"]), 1)

    def test_concurrent_refunds_never_pay_more_than_approved(self):
        self.make_order(delivered_at=None)  # approved 108.00
        cid = self.open_case(type="refund_only", order_id="o1", reason="not_received")["case_id"]
        path = "/v1/cases/%s/actions" % cid
        rs = self.parallel(lambda i: self.s.post(path, {"action": "refund", "amount_cents": 5000}), 6)
        ok = [r for r in rs if r.status == 200]
        self.assertEqual(len(ok), 2, rs)
        for r in rs:
            if r.status != 200:
                self.assertEqual(r.status // 100, 4, r)
        c = self.s.get("/v1/cases/" + cid).json
        self.assertEqual(c["refund"]["refunded_cents"], 10000)
        paid = [e["data"]["amount_cents"] for e in self.events() if e["type"] == "refund.requested"]
        self.assertEqual(paid, [5000, 5000])

    # --- lists ---------------------------------------------------------------
    def test_list_filters(self):
        self.make_agent("x1", queues=["after_sales"])
        self.make_agent("x2", queues=["customer_service"])
        self.make_order(order_id="o1", buyer_id="b1")
        self.make_order(order_id="o2", buyer_id="b2")
        self.make_order(order_id="o3", buyer_id="b3", merchant_id="m2")
        ret = self.open_case(type="return", order_id="o1")["case_id"]                  # x1
        con = self.open_case(type="consultation", order_id="o2", reason="other")["case_id"]  # x2
        cmp_ = self.open_case(type="complaint", order_id="o3", reason="attitude")["case_id"]
        rej = self.open_case(type="return", order_id="o3", reason="no_reason", opened=True)["case_id"]
        self.act(rej, "reject")
        self.s.advance(2 * HOUR + 1)  # the consultation misses its 2-hour first reply
        want = {
            "?status=awaiting_customer": [ret],
            "?status=open": [cmp_, con],
            "?status=rejected": [rej],
            "?type=return": [rej, ret],
            "?type=complaint": [cmp_],
            "?queue=after_sales": [rej, ret],
            "?queue=quality": [cmp_],
            "?queue=customer_service": [con],
            "?assignee=x1": [rej, ret],  # assigned while in review
            "?assignee=x2": [con],
            "?assignee=nobody": [],
            "?buyer_id=b3": [rej, cmp_],
            "?buyer_id=b1": [ret],
            "?order_id=o2": [con],
            "?order_id=o3": [rej, cmp_],
            "?merchant_id=m2": [rej, cmp_],
            "?merchant_id=m1": [con, ret],
            "?breached=true": [con],
            "?breached=false": [rej, cmp_, ret],
            "?breached=false&type=consultation": [],
            "?breached=true&merchant_id=m2": [],
            "?type=return&merchant_id=m1": [ret],
            "?type=return&status=rejected&buyer_id=b3": [rej],
            "?queue=after_sales&assignee=x1&status=awaiting_customer": [ret],
            "": [rej, cmp_, con, ret],
        }
        for query, ids in want.items():
            self.assertEqual(self.list_ids(query), ids, query)
        self.assertField(self.s.get("/v1/cases?limit=0"), "limit")
        self.assertField(self.s.get("/v1/cases?limit=201"), "limit")
        self.assertField(self.s.get("/v1/cases?cursor=abc"), "cursor")
        self.assertField(self.s.get("/v1/cases?breached=maybe"), "breached")
        self.assertField(self.s.get("/v1/cases?status=bogus"), "status")
        self.assertField(self.s.get("/v1/cases?type=returns"), "type")
        self.assertField(self.s.get("/v1/customers/b1/cases?status=Open"), "status")

    def test_cursor_pages_newest_first_without_gaps_while_cases_arrive(self):
        self.make_order()
        first = [self.open_case(type="consultation", order_id="o1", reason="other")["case_id"]
                 for _ in range(7)]
        r = self.s.get("/v1/cases?limit=3")
        page1 = [c["case_id"] for c in r.json["cases"]]
        self.assertEqual(page1, first[::-1][:3])
        cursor = r.json["next_cursor"]
        self.assertIsNotNone(cursor)
        # new cases between pages land in front, never in later pages
        new = [self.open_case(type="consultation", order_id="o1", reason="other")["case_id"]
               for _ in range(2)]
        seen = list(page1)
        while cursor is not None:
            r = self.s.get("/v1/cases?limit=3&cursor=%s" % cursor)
            self.assertStatus(r, 200)
            seen += [c["case_id"] for c in r.json["cases"]]
            cursor = r.json["next_cursor"]
            self.open_case(type="consultation", order_id="o1", reason="other")
        self.assertEqual(seen, first[::-1])
        self.assertEqual(self.list_ids("?limit=2"), [c for c in self.list_ids()][:2])
        self.assertEqual(self.list_ids()[-9:], (first + new)[::-1])
        # filters page too
        ids, cursor, pages = [], "", 0
        while cursor is not None:
            r = self.s.get("/v1/cases?type=consultation&limit=5" +
                           ("&cursor=" + cursor if cursor else ""))
            self.assertLessEqual(len(r.json["cases"]), 5)
            ids += [c["case_id"] for c in r.json["cases"]]
            cursor, pages = r.json["next_cursor"], pages + 1
        self.assertGreaterEqual(pages, 3)
        self.assertEqual(ids, self.list_ids("?type=consultation"))
        self.assertEqual(len(set(ids)), len(ids))

    def test_customer_cases_across_channels(self):
        self.make_order(order_id="o1", buyer_id="b1")
        self.make_order(order_id="o2", buyer_id="b2")
        mine = []
        for ch in ("chat", "phone", "email", "app", "social", "web"):
            mine.append(self.open_case(type="consultation", order_id="o1", reason="other",
                                       channel=ch)["case_id"])
        mine.append(self.open_case(type="complaint", buyer_id="b1", reason="attitude",
                                   channel="phone")["case_id"])
        self.open_case(type="consultation", order_id="o2", reason="other")
        r = self.s.get("/v1/customers/b1/cases")
        self.assertStatus(r, 200)
        cases = r.json["cases"]
        self.assertEqual([c["case_id"] for c in cases], mine[::-1])
        self.assertEqual(sorted(set(c["channel"] for c in cases)),
                         ["app", "chat", "email", "phone", "social", "web"])
        r = self.s.get("/v1/customers/b1/cases?limit=4")
        self.assertEqual(len(r.json["cases"]), 4)
        r2 = self.s.get("/v1/customers/b1/cases?limit=4&cursor=" + r.json["next_cursor"])
        self.assertEqual([c["case_id"] for c in r.json["cases"] + r2.json["cases"]], mine[::-1])
        self.assertEqual(self.s.get("/v1/customers/nobody/cases").json["cases"], [])

    # --- tenancy and masking -------------------------------------------------
    def test_other_merchant_sees_nothing(self):
        self.make_order()
        cid = self.open_case(type="return", order_id="o1")["case_id"]
        for tok in ("svc2", "ag2"):
            self.assertError(self.s.get("/v1/cases/" + cid, token=tok), 404, "not_found")
            self.assertError(self.s.get("/v1/cases/%s/timeline" % cid, token=tok), 404, "not_found")
            r = self.s.post("/v1/cases/%s/actions" % cid, {"action": "note", "body": "x"}, token=tok)
            self.assertError(r, 404, "not_found")
            r = self.s.post("/v1/cases/%s/actions" % cid, {"action": "ship_back", "carrier": "a",
                                                           "tracking_no": "b"}, token=tok)
            self.assertError(r, 404, "not_found")
            self.assertEqual(self.list_ids(token=tok), [])
            self.assertEqual(self.list_ids("?merchant_id=m1", token=tok), [])
            self.assertEqual(self.list_ids("?order_id=o1", token=tok), [])
            self.assertEqual(self.s.get("/v1/customers/b1/cases", token=tok).json["cases"], [])
            r = self.post_case({"type": "return", "order_id": "o1", "reason": "no_reason",
                                "channel": "app"}, token=tok)
            self.assertError(r, 404, "not_found")
        # the case was not touched
        c = self.s.get("/v1/cases/" + cid).json
        self.assertEqual(c["stage"], "awaiting_shipment")
        notes = [e for e in self.s.get("/v1/cases/%s/timeline" % cid).json["events"] if e["type"] == "note"]
        self.assertEqual(notes, [])
        # its own merchant and unbound tokens do see it
        for tok in ("svc1", "ag1", "svc", "adm"):
            self.assertStatus(self.s.get("/v1/cases/" + cid, token=tok), 200)
            self.assertEqual(self.list_ids(token=tok), [cid], tok)
        self.act(cid, "note", token="ag1", body="mine")
        # m2's feed does not carry m1's cases
        m2_events = self.events(token="svc2")
        self.assertEqual([e for e in m2_events if e.get("case_id") == cid], [])
        self.assertTrue([e for e in self.events(token="svc1") if e.get("case_id") == cid])

    def test_no_buyer_contact_in_case_answers_for_non_admins(self):
        self.make_order()
        cid = self.open_case(type="return", order_id="o1", token="svc1")["case_id"]
        self.act(cid, "reply", token="ag1", by="agent", body="hello")
        for tok in ("svc1", "ag1", "svc"):
            for path in ("/v1/cases/" + cid, "/v1/cases/%s/timeline" % cid, "/v1/cases",
                         "/v1/customers/b1/cases", "/v1/orders/o1"):
                r = self.s.get(path, token=tok)
                self.assertStatus(r, 200)
                self.assertNotIn(PHONE.encode(), r.raw, (tok, path))
                self.assertNotIn(EMAIL.encode(), r.raw, (tok, path))
            if tok != "svc":
                r = self.s.post("/v1/cases/%s/actions" % cid, {"action": "note", "body": "n"}, token=tok)
                self.assertNotIn(PHONE.encode(), r.raw)
        o = self.s.get("/v1/orders/o1", token="svc1").json
        self.assertEqual(o["buyer"]["phone"], "138****5678")
        self.assertEqual(o["buyer"]["email"], "a***@example.com")
        self.assertEqual(self.s.get("/v1/orders/o1").json["buyer"]["phone"], PHONE)

    # --- timeline ------------------------------------------------------------
    def test_timeline_records_everything_in_order(self):
        self.make_agent("a1", queues=["after_sales"])
        self.make_agent("a7", queues=["after_sales"])
        self.make_order()
        pv = self.s.get("/v1/admin/policies").json["version"]
        cid = self.open_case(type="return", order_id="o1", reason="quality", token="svc1")["case_id"]
        self.s.advance(60)
        self.act(cid, "reply", token="ag1", by="agent", body="please send it back")
        self.act(cid, "reply", token="svc1", by="customer", body="ok")
        self.act(cid, "note", token="ag1", body="vip-ish")
        self.act(cid, "assign", agent_id="a7")
        self.s.advance(60)
        self.act(cid, "ship_back", token="svc1", carrier="SF", tracking_no="S1")
        self.act(cid, "receive", token="ag1")
        self.act(cid, "inspect", token="ag1", result="pass")
        self.s.advance(60)
        self.act(cid, "refund", token="ag1", amount_cents=10800)
        r = self.s.get("/v1/cases/%s/timeline" % cid, token="svc1")
        self.assertStatus(r, 200)
        self.assertEqual(r.json["case_id"], cid)
        ev = r.json["events"]
        seqs = [e["seq"] for e in ev]
        self.assertEqual(seqs, sorted(set(seqs)))
        ats = [e["at"] for e in ev]
        self.assertEqual(ats, sorted(ats))
        self.assertEqual(ats[0], T0)
        self.assertEqual(ats[-1], T0 + 180)
        for e in ev:
            self.assertIn("role", e["actor"], e)
            self.assertIsInstance(e["data"], dict, e)
        types = [e["type"] for e in ev]
        self.assertEqual(types[0], "case.created")
        self.assertEqual(ev[0]["actor"]["role"], "service")
        decisions = [e for e in ev if e["type"] == "decision"]
        evaluate = [d for d in decisions if d["data"]["module"] == "returns"]
        self.assertEqual(len(evaluate), 1)
        self.assertEqual(evaluate[0]["data"]["policy_version"], pv)
        self.assertEqual(evaluate[0]["data"]["output"]["outcome"], "approve")
        refunds = [d for d in decisions if d["data"]["module"] == "compensation"
                   and d["data"]["function"] == "refund"]
        self.assertEqual(refunds[0]["data"]["output"]["amount_cents"], 10800)
        assigned = [e["data"] for e in ev if e["type"] == "assignment"]
        self.assertEqual([a["agent_id"] for a in assigned], ["a1", "a7"])
        actions = [(e["data"]["action"], e["actor"].get("id")) for e in ev if e["type"] == "action"]
        self.assertEqual(actions, [("reply", "a1"), ("reply", "m1"), ("note", "a1"), ("assign", None),
                                   ("ship_back", "m1"), ("receive", "a1"), ("inspect", "a1"),
                                   ("refund", "a1")])
        by_action = {}
        for e in ev:
            if e["type"] == "action":
                by_action.setdefault(e["data"]["action"], e)
        self.assertEqual(by_action["ship_back"]["data"]["status"], "in_progress")
        self.assertEqual(by_action["ship_back"]["data"]["stage"], "in_transit")
        self.assertEqual(by_action["refund"]["data"]["stage"], "refunded")
        self.assertEqual(by_action["refund"]["at"], T0 + 180)
        self.assertEqual([e["data"]["body"] for e in ev if e["type"] == "message"],
                         ["please send it back", "ok"])
        self.assertEqual([e["data"]["body"] for e in ev if e["type"] == "note"], ["vip-ish"])
        self.assertEqual([e["data"]["amount_cents"] for e in ev if e["type"] == "refund"], [10800])
        self.assertEqual(by_action["reply"]["actor"], {"role": "agent", "id": "a1"})
        # the created entry comes before every decision, decisions before actions
        self.assertLess(types.index("case.created"), types.index("decision"))
        self.assertLess(max(i for i, t in enumerate(types[:types.index("action")]) if t == "decision"),
                        types.index("action"))
        # a refused action leaves no trace
        n = len(ev)
        self.s.post("/v1/cases/%s/actions" % cid, {"action": "receive"})
        self.assertEqual(len(self.s.get("/v1/cases/%s/timeline" % cid).json["events"]), n)

    # --- events feed ---------------------------------------------------------
    def test_events_feed_is_ordered_resumable_and_only_committed(self):
        self.make_order(delivered_at=None)
        start = self.last_seq()
        cid = self.open_case(type="refund_only", order_id="o1", reason="not_received")["case_id"]
        self.act(cid, "reply", by="agent", body="refunding now")
        self.act(cid, "refund", amount_cents=800)
        self.act(cid, "refund", amount_cents=10000)
        ev = self.events(start)
        seqs = [e["seq"] for e in ev]
        self.assertTrue(all(a < b for a, b in zip(seqs, seqs[1:])), seqs)
        self.assertTrue(all(s > start for s in seqs))
        kinds = [e["type"] for e in ev]
        self.assertEqual(kinds[0], "case.created")
        self.assertEqual(ev[0]["case_id"], cid)
        self.assertEqual(ev[0]["data"]["status"], "in_progress")
        self.assertEqual(kinds.count("case.updated"), 3)
        refunds = [e for e in ev if e["type"] == "refund.requested"]
        self.assertEqual([e["data"]["amount_cents"] for e in refunds], [800, 10000])
        self.assertTrue(all(e["case_id"] == cid for e in refunds))
        last_update = [e for e in ev if e["type"] == "case.updated"][-1]
        self.assertEqual(last_update["data"]["status"], "resolved")
        # paging with limit and resuming from next_after gives the same sequence
        got, after = [], start
        while True:
            r = self.s.get("/v1/events?after=%d&limit=2" % after)
            self.assertStatus(r, 200)
            page = r.json["events"]
            self.assertLessEqual(len(page), 2)
            if not page:
                self.assertEqual(r.json["next_after"], after)
                break
            got += page
            after = r.json["next_after"]
            self.assertEqual(after, page[-1]["seq"])
        self.assertEqual(got, ev)
        # refused or invalid requests write nothing to the feed
        top = self.last_seq()
        self.s.post("/v1/cases/%s/actions" % cid, {"action": "refund", "amount_cents": 1})
        self.s.post("/v1/cases/%s/actions" % cid, {"action": "teleport"})
        self.s.post("/v1/cases", {"type": "return", "order_id": "missing", "reason": "no_reason",
                                  "channel": "app"})
        self.s.post("/v1/cases", {"type": "return", "reason": "no_reason", "channel": "app"})
        self.assertEqual(self.events(top), [])
        self.assertEqual(self.last_seq(), top)
        # a new change continues right after
        self.act(cid, "close")
        nxt = self.events(top)
        self.assertEqual([e["type"] for e in nxt], ["case.updated"])
        self.assertEqual(nxt[0]["seq"], top + 1)

    def test_events_feed_access_and_bad_parameters(self):
        self.assertError(self.s.get("/v1/events", token="ag1"), 403, "forbidden")
        self.assertStatus(self.s.get("/v1/events", token="svc1"), 200)
        self.assertField(self.s.get("/v1/events?after=-1"), "after")
        self.assertField(self.s.get("/v1/events?after=x"), "after")

    def test_events_survive_a_restart(self):
        self.make_order()
        self.open_case(type="return", order_id="o1")
        before = self.events()
        self.s.stop()
        self.s.start()
        self.assertEqual(self.events(), before)
        self.open_case(type="consultation", order_id="o1", reason="other")
        after = self.events()
        self.assertEqual(after[:len(before)], before)
        self.assertEqual(after[-1]["seq"], before[-1]["seq"] + 1)
        self.assertEqual(len(self.list_ids()), 2)


class FailingPolicyTest(ServerTestCase):
    """SPEC section 4: a policy that fails, loops or exceeds a cap never loses
    the customer's case: it is stored with outcome review and the error on its
    timeline."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="as-flaky-")
        pol = os.path.join(cls.dir, "policies")
        shutil.copytree(POLICIES, pol)
        wrap_module(pol, "returns.lua",
                    "local M_evaluate_default = M.evaluate\n"
                    "function M.evaluate(case, order, ctx)\n"
                    "    if case.description == 'boom' then error('boom on purpose') end\n"
                    "    if case.description == 'loop' then while true do end end\n"
                    "    if case.description == 'nonsense' then return {outcome = 'perhaps'} end\n"
                    "    return M_evaluate_default(case, order, ctx)\n"
                    "end\n")
        wrap_module(pol, "compensation.lua",
                    "local M_refund_default = M.refund\n"
                    "function M.refund(case, order, ctx)\n"
                    "    if case.description == 'boom-refund' then error('refund boom') end\n"
                    "    return M_refund_default(case, order, ctx)\n"
                    "end\n")
        cls.server_kwargs = {"policies": pol}

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_a_failing_policy_keeps_the_case_for_review(self):
        self.make_order(qty=4)
        for how in ("boom", "loop", "nonsense"):
            r = self.s.post("/v1/cases", {"type": "return", "order_id": "o1", "reason": "no_reason", "qty": 1,
                                          "channel": "app", "description": how})
            self.assertStatus(r, 201)
            c = r.json
            self.assertEqual((c["status"], c["stage"]), ("open", "manual_review"), how)
            self.assertEqual(c["decision"]["outcome"], "review", how)
            self.assertEqual(c["decision"]["reason_code"], "policy_error", how)
            self.assertTrue(c["decision"]["policy_version"])
            tl = self.s.get("/v1/cases/%s/timeline" % c["case_id"]).json["events"]
            errors = [e for e in tl if e["type"] == "policy.error"]
            self.assertEqual(len(errors), 1, how)
            self.assertEqual(errors[0]["data"]["module"], "returns")
            self.assertEqual(errors[0]["data"]["policy_version"], c["decision"]["policy_version"], how)
            if how == "boom":
                self.assertIn("boom on purpose", errors[0]["data"]["error"])
            # a person settles it
            c = self.act(c["case_id"], "approve")
            self.assertEqual(c["stage"], "awaiting_shipment")
        # the set still serves ordinary cases
        c = self.open_case(type="return", order_id="o1", buyer_id="b1", qty=1)
        self.assertEqual(c["decision"]["reason_code"], "no_reason_return")
        self.assertEqual(len(self.s.get("/v1/cases").json["cases"]), 4)

    def test_a_failing_refund_policy_leaves_the_decision_at_review(self):
        self.make_order(delivered_at=None)  # not received: eligible at once, then the amount fails
        r = self.s.post("/v1/cases", {"type": "refund_only", "order_id": "o1", "reason": "not_received",
                                      "channel": "app", "description": "boom-refund"})
        self.assertStatus(r, 201)
        c = r.json
        self.assertEqual((c["status"], c["stage"]), ("open", "manual_review"))
        self.assertEqual((c["decision"]["outcome"], c["decision"]["reason_code"]), ("review", "policy_error"))
        tl = self.s.get("/v1/cases/%s/timeline" % c["case_id"]).json["events"]
        self.assertEqual([e["data"]["module"] for e in tl if e["type"] == "policy.error"], ["compensation"])
        # approving still needs an amount: the policy cannot give one
        r = self.s.post("/v1/cases/%s/actions" % c["case_id"], {"action": "approve"})
        self.assertError(r, 422, "policy_error")
        c = self.act(c["case_id"], "approve", amount_cents=10800)
        self.assertEqual((c["status"], c["stage"]), ("in_progress", "awaiting_refund"))


if __name__ == "__main__":
    main()

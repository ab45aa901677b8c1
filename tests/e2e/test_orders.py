"""Orders end to end: create/replace, reading with case ids, field-level
validation, tracking updates and current prices.

The server does not validate `items[].category` against the spec's list (docs
are silent; an unknown category gets the policies' defaults), so that is not
asserted here.
"""
import copy

from harness import DAY, HOUR, ServerTestCase, T0, main, order_body


class OrdersTest(ServerTestCase):
    def assertInvalid(self, body, field, token="adm"):
        r = self.s.post("/v1/orders", body, token=token)
        err = self.assertError(r, 400, "invalid_field")
        self.assertEqual(err["field"], field, repr(r))
        self.assertIn(field, err["message"])
        return err

    # ---- create, replace, read -----------------------------------------------------

    def test_create_201_then_replace_200(self):
        body = order_body()
        r = self.s.post("/v1/orders", body)
        self.assertStatus(r, 201)
        for k in ("order_id", "buyer_id", "merchant_id", "paid_at", "delivered_at", "shipping_cents",
                  "items", "buyer"):
            self.assertEqual(r[k], body[k], k)
        self.assertEqual(r["case_ids"], [])
        self.assertEqual(r["tracking"], [])
        self.assertEqual(r["prices"], {})
        self.assertEqual(self.s.get("/v1/orders/o1").json, r.json)

        body2 = order_body(shipping_cents=0, items=[
            {"sku": "s1", "category": "apparel", "price_cents": 5000, "qty": 2},
            {"sku": "s2", "category": "electronics", "price_cents": 99900, "qty": 1, "title": "phone"}])
        r2 = self.s.post("/v1/orders", body2)
        self.assertStatus(r2, 200)
        got = self.s.get("/v1/orders/o1").json
        self.assertEqual(got["shipping_cents"], 0)
        self.assertEqual([i["sku"] for i in got["items"]], ["s1", "s2"])
        self.assertEqual(got, r2.json)
        # a replace with the same body is still a 200, and idempotent in content
        r3 = self.s.post("/v1/orders", body2)
        self.assertStatus(r3, 200)
        self.assertEqual(r3.json, r2.json)

    def test_optional_fields_may_be_left_out(self):
        body = order_body(order_id="min", delivered_at=None, buyer={})
        del body["buyer"]
        del body["items"][0]["title"]
        r = self.s.post("/v1/orders", body)
        self.assertStatus(r, 201)
        got = self.s.get("/v1/orders/min").json
        self.assertIsNone(got.get("delivered_at"))
        self.assertEqual(got["items"][0]["sku"], "s1")

    def test_replace_keeps_history_prices_and_case_ids(self):
        self.make_order()
        c = self.open_case(type="return", order_id="o1")
        self.assertStatus(self.s.post("/v1/orders/o1/tracking", {"status": "in_transit", "at": T0}), 200)
        self.assertStatus(self.s.put("/v1/orders/o1/prices/s1", {"price_cents": 4000, "at": T0}), 200)
        r = self.s.post("/v1/orders", order_body(shipping_cents=900))
        self.assertStatus(r, 200)
        self.assertEqual(r["case_ids"], [c["case_id"]])
        self.assertEqual([t["status"] for t in r["tracking"]], ["in_transit"])
        self.assertEqual(r["prices"], {"s1": {"price_cents": 4000, "at": T0}})
        self.assertEqual(r["shipping_cents"], 900)
        self.assertEqual(self.s.get("/v1/orders/o1").json, r.json)

    def test_replace_without_delivered_at_keeps_the_recorded_delivery(self):
        self.make_order(delivered_at=None)
        self.assertStatus(self.s.post("/v1/orders/o1/tracking", {"status": "delivered", "at": T0 - HOUR}), 200)
        r = self.s.post("/v1/orders", order_body(delivered_at=None))
        self.assertStatus(r, 200)
        self.assertEqual(r["delivered_at"], T0 - HOUR)

    def test_get_lists_case_ids_in_order(self):
        self.make_order(items=[{"sku": "s1", "category": "apparel", "price_cents": 100, "qty": 1},
                               {"sku": "s2", "category": "apparel", "price_cents": 200, "qty": 1}])
        ids = [self.open_case(type="return", order_id="o1", sku="s1")["case_id"],
               self.open_case(type="complaint", order_id="o1", reason="attitude")["case_id"],
               self.open_case(type="exchange", order_id="o1", sku="s2", reason="quality")["case_id"]]
        self.assertEqual(len(set(ids)), 3)
        o = self.s.get("/v1/orders/o1").json
        self.assertEqual(o["case_ids"], ids)
        self.assertEqual(self.s.get("/v1/orders/o1", token="svc1")["case_ids"], ids)
        self.assertEqual(self.s.get("/v1/orders/o1", token="ag1")["case_ids"], ids)

    def test_unknown_order_is_404(self):
        self.assertError(self.s.get("/v1/orders/nope"), 404, "not_found")
        self.assertError(self.s.post("/v1/orders/nope/tracking", {"status": "shipped", "at": T0}), 404, "not_found")
        self.assertError(self.s.put("/v1/orders/nope/prices/s1", {"price_cents": 1, "at": T0}), 404, "not_found")
        self.assertError(self.s.get("/v1/orders/nope", token="svc1"), 404, "not_found")
        self.assertStatus(self.s.get("/v1/orders/nope"), 404)  # and still not created

    def test_order_events_on_the_feed(self):
        self.make_order()
        self.s.post("/v1/orders", order_body(shipping_cents=1))
        evs = self.s.get("/v1/events")["events"]
        types = [e["type"] for e in evs if e.get("order_id") == "o1"]
        self.assertEqual(types[:2], ["order.created", "order.updated"])
        seqs = [e["seq"] for e in evs]
        self.assertEqual(seqs, sorted(seqs))

    # ---- validation -----------------------------------------------------------------

    def test_missing_required_fields_name_the_field(self):
        for field in ("order_id", "buyer_id", "merchant_id", "paid_at", "shipping_cents", "items"):
            with self.subTest(field=field):
                body = order_body()
                del body[field]
                self.assertInvalid(body, field)
        self.assertStatus(self.s.get("/v1/orders/o1"), 404)

    def test_item_fields_are_validated_with_their_path(self):
        cases = [
            (0, "price_cents", -1), (0, "price_cents", "100"), (0, "price_cents", 1.5),
            (0, "price_cents", None), (0, "price_cents", True), (0, "price_cents", 100.0),
            (0, "qty", 0), (0, "qty", -2), (0, "qty", 1.5), (0, "qty", "1"),
            (0, "sku", ""), (0, "sku", 5), (0, "sku", None), (0, "category", None), (0, "category", 3),
            (1, "price_cents", -5), (1, "qty", 0), (1, "title", 7),
        ]
        for idx, field, value in cases:
            with self.subTest(idx=idx, field=field, value=value):
                body = order_body(items=[
                    {"sku": "s1", "category": "apparel", "price_cents": 100, "qty": 1, "title": "a"},
                    {"sku": "s2", "category": "apparel", "price_cents": 100, "qty": 1, "title": "b"}])
                if value is None:
                    del body["items"][idx][field]
                else:
                    body["items"][idx][field] = value
                self.assertInvalid(body, "items[%d].%s" % (idx, field))
        self.assertStatus(self.s.get("/v1/orders/o1"), 404)

    def test_too_long_text_says_so(self):
        body = order_body(items=[{"sku": "s1", "category": "apparel", "price_cents": 1, "qty": 1, "title": "t" * 2001}])
        self.assertIn("longer than 2000 bytes", self.assertInvalid(body, "items[0].title")["message"])
        body = order_body(buyer={"phone": "1" * 257})
        self.assertIn("longer than 256 bytes", self.assertInvalid(body, "buyer.phone")["message"])

    def test_money_and_time_must_be_integers(self):
        for field, value in (("shipping_cents", 1.5), ("shipping_cents", -1), ("shipping_cents", "800"),
                             ("paid_at", "2026-11-01"), ("paid_at", 1.5e9 + 0.5), ("paid_at", -1),
                             ("delivered_at", "yesterday"), ("delivered_at", 17935.5)):
            with self.subTest(field=field, value=value):
                body = order_body()
                body[field] = value
                self.assertInvalid(body, field)
        for field, value in (("buyer", "vip"), ("buyer", [1])):
            with self.subTest(field=field, value=value):
                body = order_body()
                body[field] = value
                self.assertInvalid(body, "buyer")
        for field, value in (("lifetime_spend_cents", 1.5), ("lifetime_spend_cents", -1),
                             ("phone", 13812345678), ("tier", 1)):
            with self.subTest(field=field, value=value):
                body = order_body()
                body["buyer"][field] = value
                self.assertInvalid(body, "buyer." + field)  # the full path, like every field
        self.assertStatus(self.s.get("/v1/orders/o1"), 404)

    def test_ids_and_items_shape(self):
        for field, value in (("order_id", ""), ("order_id", "has space"), ("order_id", "x" * 129),
                             ("order_id", 12), ("buyer_id", "a/b"), ("merchant_id", "m\u00e9")):
            with self.subTest(field=field, value=value):
                body = order_body()
                body[field] = value
                self.assertInvalid(body, field)
        for items in ([], "s1", {"sku": "s1"}):
            with self.subTest(items=items):
                self.assertInvalid(order_body(items=None) | {"items": items}, "items")
        self.assertInvalid(order_body(items=None) | {"items": ["s1"]}, "items[0]")
        # ids with every allowed character work
        self.assertStatus(self.s.post("/v1/orders", order_body(order_id="A-z_0.9:x")), 201)
        self.assertStatus(self.s.get("/v1/orders/A-z_0.9:x"), 200)

    def test_a_rejected_replace_changes_nothing(self):
        good = self.make_order()
        bad = order_body(shipping_cents=1)
        bad["items"][0]["qty"] = 0
        self.assertInvalid(bad, "items[0].qty")
        self.assertEqual(self.s.get("/v1/orders/o1").json, good)

    # ---- tracking -------------------------------------------------------------------

    def test_tracking_updates_and_delivery(self):
        self.make_order(delivered_at=None)
        r = self.s.post("/v1/orders/o1/tracking", {"status": "shipped", "at": T0 - DAY, "carrier": "SF",
                                                   "tracking_no": "SF123"})
        self.assertStatus(r, 200)
        self.assertIsNone(r.json.get("delivered_at"))
        r = self.s.post("/v1/orders/o1/tracking", {"status": "in_transit", "at": T0 - HOUR, "note": "hub"},
                        token="svc1")
        self.assertStatus(r, 200)
        self.assertIsNone(r.json.get("delivered_at"))
        r = self.s.post("/v1/orders/o1/tracking", {"status": "delivered", "at": T0 + 5})
        self.assertStatus(r, 200)
        self.assertEqual(r["delivered_at"], T0 + 5)
        o = self.s.get("/v1/orders/o1").json
        self.assertEqual(o["delivered_at"], T0 + 5)
        self.assertEqual([(t["status"], t["at"]) for t in o["tracking"]],
                         [("shipped", T0 - DAY), ("in_transit", T0 - HOUR), ("delivered", T0 + 5)])
        self.assertEqual(o["tracking"][0]["carrier"], "SF")
        self.assertEqual(o["tracking"][0]["tracking_no"], "SF123")
        self.assertEqual(o["tracking"][1]["note"], "hub")
        # a later exception does not undo the delivery
        self.assertStatus(self.s.post("/v1/orders/o1/tracking", {"status": "exception", "at": T0 + 10}), 200)
        self.assertEqual(self.s.get("/v1/orders/o1")["delivered_at"], T0 + 5)

    def test_delivery_opens_the_return_window(self):
        # a no-reason return before delivery is not approved; after it, it is
        self.make_order(delivered_at=None)
        c = self.open_case(type="return", order_id="o1")
        self.assertNotEqual(c["decision"]["outcome"], "approve", c)
        self.assertStatus(self.s.post("/v1/orders/o1/tracking", {"status": "delivered", "at": T0 - DAY}), 200)
        c = self.open_case(type="return", order_id="o1")
        self.assertEqual(c["decision"]["outcome"], "approve", c)

    def test_tracking_validation(self):
        self.make_order(delivered_at=None)
        for body, field in (({"status": "lost", "at": T0}, "status"), ({"status": "DELIVERED", "at": T0}, "status"),
                            ({"at": T0}, "status"), ({"status": 3, "at": T0}, "status"),
                            ({"status": "delivered"}, "at"), ({"status": "delivered", "at": "now"}, "at"),
                            ({"status": "delivered", "at": 1.5}, "at"),
                            ({"status": "shipped", "at": T0, "carrier": 5}, "carrier"), ({"status": "", "at": T0}, "status")):
            with self.subTest(body=body):
                err = self.assertError(self.s.post("/v1/orders/o1/tracking", body), 400, "invalid_field")
                self.assertEqual(err["field"], field)
        o = self.s.get("/v1/orders/o1").json
        self.assertEqual(o["tracking"], [])
        self.assertIsNone(o.get("delivered_at"))
        self.assertError(self.s.post("/v1/orders/o1/tracking", raw_body=b"{"), 400, "invalid_json")
        self.assertStatus(self.s.get("/healthz"), 200)  # an empty status once crashed the server

    def test_a_late_older_delivery_scan_does_not_move_delivery_back(self):
        self.make_order(delivered_at=None)
        self.assertStatus(self.s.post("/v1/orders/o1/tracking", {"status": "delivered", "at": T0 - DAY}), 200)
        self.assertStatus(self.s.post("/v1/orders/o1/tracking", {"status": "delivered", "at": T0 - 5 * DAY}), 200)
        self.assertEqual(self.s.get("/v1/orders/o1").json["delivered_at"], T0 - DAY)

    def test_order_lines_are_unique_and_their_total_bounded(self):
        body = order_body(items=[{"sku": "s1", "category": "apparel", "price_cents": 1, "qty": 1},
                                 {"sku": "s1", "category": "apparel", "price_cents": 2, "qty": 1}])
        self.assertIn("repeats", self.assertInvalid(body, "items[1].sku")["message"])
        big = order_body(shipping_cents=2 ** 50, items=[{"sku": "s1", "category": "apparel",
                                                         "price_cents": 2 ** 50, "qty": 1000000}])
        self.assertInvalid(big, "items[0].price_cents")
        self.assertStatus(self.s.get("/v1/orders/o1"), 404)

    def test_a_replace_that_drops_a_line_drops_its_price(self):
        self.make_order(items=[{"sku": "s1", "category": "apparel", "price_cents": 5000, "qty": 1},
                               {"sku": "s2", "category": "apparel", "price_cents": 7000, "qty": 1}])
        for sku in ("s1", "s2"):
            self.assertStatus(self.s.put("/v1/orders/o1/prices/" + sku, {"price_cents": 100, "at": T0}), 200)
        r = self.s.post("/v1/orders", order_body(items=[{"sku": "s2", "category": "apparel",
                                                         "price_cents": 7000, "qty": 1}]))
        self.assertStatus(r, 200)
        self.assertEqual(list(r.json["prices"]), ["s2"])

    def test_an_order_with_cases_keeps_its_merchant(self):
        self.make_order()
        self.open_case(type="return", order_id="o1")
        moved = order_body(merchant_id="m2")
        self.assertIn("has cases", self.assertInvalid(moved, "merchant_id")["message"])
        self.assertEqual(self.s.get("/v1/orders/o1").json["merchant_id"], "m1")

    def test_an_order_without_buyer_details_keeps_the_known_tier(self):
        self.make_order(order_id="v1", buyer={"tier": "vip"})
        self.make_order(order_id="v2", buyer={})
        c = self.open_case(type="return", order_id="v1")
        self.assertEqual(c["priority"], 1)  # still the VIP lane

    # ---- prices ---------------------------------------------------------------------

    def test_price_update(self):
        self.make_order(items=[{"sku": "s1", "category": "apparel", "price_cents": 5000, "qty": 1},
                               {"sku": "s2", "category": "apparel", "price_cents": 7000, "qty": 1}])
        r = self.s.put("/v1/orders/o1/prices/s1", {"price_cents": 4000, "at": T0 - HOUR})
        self.assertStatus(r, 200)
        self.assertEqual(r["prices"], {"s1": {"price_cents": 4000, "at": T0 - HOUR}})
        r = self.s.put("/v1/orders/o1/prices/s1", {"price_cents": 3500, "at": T0}, token="svc1")
        self.assertStatus(r, 200)
        r = self.s.put("/v1/orders/o1/prices/s2", {"price_cents": 0, "at": T0})
        self.assertStatus(r, 200)
        o = self.s.get("/v1/orders/o1").json
        self.assertEqual(o["prices"], {"s1": {"price_cents": 3500, "at": T0}, "s2": {"price_cents": 0, "at": T0}})
        # the order's own item prices are what was paid, unchanged
        self.assertEqual([i["price_cents"] for i in o["items"]], [5000, 7000])
        # an older price arriving late does not replace a newer one
        self.assertStatus(self.s.put("/v1/orders/o1/prices/s1", {"price_cents": 4500, "at": T0 - 2 * HOUR}), 200)
        self.assertEqual(self.s.get("/v1/orders/o1").json["prices"]["s1"], {"price_cents": 3500, "at": T0})

    def test_price_drop_feeds_price_protection(self):
        self.make_order(qty=1)
        self.assertStatus(self.s.put("/v1/orders/o1/prices/s1", {"price_cents": 4200, "at": T0}), 200)
        c = self.open_case(type="price_protection", order_id="o1", reason="price_drop")
        self.assertEqual(c["decision"]["outcome"], "approve", c)
        self.assertEqual(c["refund"]["approved_cents"], 800)

    def test_price_update_validation_and_unknown_sku(self):
        self.make_order()
        r = self.s.put("/v1/orders/o1/prices/nosuch", {"price_cents": 1, "at": T0})
        self.assertIn(r.status, (400, 404), repr(r))  # docs: the sku must be on the order
        self.assertError(r, r.status)
        for body, field in (({"price_cents": -1, "at": T0}, "price_cents"), ({"price_cents": 1.5, "at": T0}, "price_cents"),
                            ({"price_cents": "10", "at": T0}, "price_cents"), ({"at": T0}, "price_cents"),
                            ({"price_cents": 10}, "at"), ({"price_cents": 10, "at": "x"}, "at")):
            with self.subTest(body=body):
                err = self.assertError(self.s.put("/v1/orders/o1/prices/s1", body), 400, "invalid_field")
                self.assertEqual(err["field"], field)
        self.assertEqual(self.s.get("/v1/orders/o1")["prices"], {})
        self.assertError(self.s.request("POST", "/v1/orders/o1/prices/s1", {"price_cents": 1, "at": T0}),
                         405, "method_not_allowed")


if __name__ == "__main__":
    main()

"""Case lists an agent works from (GET /v1/cases): priority, the unassigned
(assignee=none), several statuses, due_before, breached, a created range,
phone/email/tracking-number lookups (hashed in the index, never echoed),
sort by due or by priority with stable cursors, and a 400 naming any
unknown or repeated parameter."""
from harness import DAY, HOUR, T0, ServerTestCase, main, order_body


class ListTest(ServerTestCase):
    def ids(self, query, token="adm"):
        r = self.s.get("/v1/cases" + query, token=token)
        self.assertStatus(r, 200)
        return [c["case_id"] for c in r.json["cases"]]

    def all_pages(self, query, limit=2):
        out, cursor = [], None
        for _ in range(50):
            q = query + "&limit=%d" % limit + ("&cursor=" + cursor if cursor else "")
            r = self.s.get("/v1/cases" + q)
            self.assertStatus(r, 200)
            out += [c["case_id"] for c in r.json["cases"]]
            cursor = r.json["next_cursor"]
            if cursor is None:
                return out
        self.fail("no end of pages")

    def seed(self):
        """A VIP buyer's return (priority 1), a complaint (2), a regular return
        (3), a consultation (2 h first reply), each a minute apart."""
        self.make_order(order_id="o-vip", buyer_id="b-vip", buyer={"tier": "vip", "phone": "13811112222"})
        self.make_order(order_id="o-reg", buyer_id="b-reg")
        c = {}
        c["vip"] = self.open_case(type="return", order_id="o-vip")["case_id"]
        self.s.advance(60)
        c["cmp"] = self.open_case(type="complaint", order_id="o-reg", reason="attitude", channel="phone")["case_id"]
        self.s.advance(60)
        c["reg"] = self.open_case(type="return", order_id="o-reg")["case_id"]
        self.s.advance(60)
        c["con"] = self.open_case(type="consultation", buyer_id="b-reg", reason="other", channel="chat")["case_id"]
        return c

    def test_priority_unassigned_statuses_and_created_range(self):
        c = self.seed()
        self.assertEqual(self.ids("?priority=1"), [c["vip"]])
        self.assertEqual(self.ids("?priority=1,2"), [c["cmp"], c["vip"]])
        self.assertEqual(self.ids("?priority=3"), [c["con"], c["reg"]])
        self.assertEqual(self.ids("?assignee=none&type=return"), [c["reg"], c["vip"]])
        self.act(c["reg"], "assign", agent_id="a1")
        self.assertEqual(self.ids("?assignee=none&type=return"), [c["vip"]])
        self.assertEqual(self.ids("?assignee=a1"), [c["reg"]])
        self.act(c["con"], "resolve", resolution="answered")
        self.assertEqual(self.ids("?status=open,resolved"), [c["con"], c["cmp"]])
        self.assertEqual(set(self.ids("?status=awaiting_customer,open")), {c["vip"], c["cmp"], c["reg"]})
        self.assertEqual(self.ids("?created_from=%d&created_to=%d" % (T0 + 60, T0 + 121)), [c["reg"], c["cmp"]])
        self.assertEqual(self.ids("?created_from=%d" % (T0 + 1)), [c["con"], c["reg"], c["cmp"]])
        self.assertEqual(self.ids("?created_to=%d" % (T0 + 1)), [c["vip"]])

    def test_sort_by_due_and_by_priority_with_due_before(self):
        c = self.seed()
        # dues: consultation T0+180+2h; complaint T0+60+24h; the returns 3 working days
        by_due = self.ids("?sort=due")
        self.assertEqual(by_due, [c["con"], c["cmp"], c["vip"], c["reg"]])
        self.assertEqual(self.ids("?sort=priority"), [c["vip"], c["cmp"], c["con"], c["reg"]])
        self.assertEqual(self.ids("?sort=due&due_before=%d" % (T0 + DAY + 61)), [c["con"], c["cmp"]])
        self.assertEqual(self.ids("?sort=due&due_before=%d" % (T0 + DAY + 60)), [c["con"]])
        self.assertEqual(self.ids("?due_before=%d" % (T0 + DAY + 61)), [c["con"], c["cmp"]])  # newest first
        # cursors walk the sorted lists exactly once
        self.assertEqual(self.all_pages("?sort=due", limit=1), by_due)
        self.assertEqual(self.all_pages("?sort=priority", limit=3), self.ids("?sort=priority"))
        # the unassigned of a queue by priority: its backlog
        self.assertEqual(self.ids("?sort=priority&queue=after_sales&assignee=none"), [c["vip"], c["reg"]])
        # a reply moves the consultation from its first-response due to its resolution due (none: last)
        self.act(c["con"], "reply", by="agent", body="hi")
        self.assertEqual(self.ids("?sort=due")[-1], c["con"])
        # resolved cases leave the work lists
        self.act(c["cmp"], "resolve", resolution="sorry")
        self.assertNotIn(c["cmp"], self.ids("?sort=due"))
        # breached: the overdue come first, and the filter works on the sorted list too
        self.s.advance(2 * DAY)
        self.assertEqual(self.ids("?sort=due&breached=true"), [])
        self.s.advance(3 * DAY)
        self.assertEqual(self.ids("?sort=due&breached=true"), [c["vip"], c["reg"]])
        self.assertEqual(self.ids("?sort=priority&priority=2"), [c["reg"]])  # the breach escalated it from 3
        self.assertEqual(self.ids("?sort=priority&priority=3"), [c["con"]])

    def test_work_lists_are_the_callers(self):
        self.make_order(order_id="o2", buyer_id="b2", merchant_id="m2")
        self.make_order(order_id="o1", buyer_id="b1", merchant_id="m1")
        mine = self.open_case(type="return", order_id="o1")["case_id"]
        self.open_case(type="return", order_id="o2")
        self.assertEqual(self.ids("?sort=due", token="ag1"), [mine])
        self.assertEqual(self.ids("?sort=priority&merchant_id=m2", token="ag1"), [])

    def test_lookups_by_phone_email_and_tracking_number(self):
        shared = {"phone": "138-1234-5678", "email": "Alice@Example.com"}
        self.make_order(order_id="o1", buyer_id="b1", buyer=dict(shared))
        self.make_order(order_id="o2", buyer_id="b2", buyer={"phone": "13812345678"})
        self.make_order(order_id="o3", buyer_id="b3", buyer={"phone": "13900000000", "email": "x@example.com"})
        c1 = self.open_case(type="return", order_id="o1")["case_id"]
        c2 = self.open_case(type="return", order_id="o2")["case_id"]
        c3 = self.open_case(type="consultation", buyer_id="b1", reason="other", channel="chat")["case_id"]
        c4 = self.open_case(type="return", order_id="o3")["case_id"]
        r = self.s.get("/v1/cases?phone=%2B86%20138%201234%205678")  # a different number: 86 in front
        self.assertEqual(r.json["cases"], [])
        r = self.s.get("/v1/cases?phone=138%201234%205678")
        self.assertStatus(r, 200)
        self.assertEqual([c["case_id"] for c in r.json["cases"]], [c3, c2, c1])  # both buyers, newest first
        self.assertNotIn(b"1234", r.raw.replace(b"C000000", b""))  # the number is never echoed
        # an agent of m1 finds m1's (the consultation without an order is the platform's)
        self.assertEqual(self.ids("?phone=13812345678", token="ag1"), [c2, c1])
        self.assertEqual(self.ids("?email=alice@example.COM"), [c3, c1])
        self.assertEqual(self.ids("?email=alice@example.com&type=return"), [c1])
        self.assertEqual(self.ids("?phone=13812345678&limit=1"), [c3])
        self.assertEqual(self.all_pages("?phone=13812345678", limit=1), [c3, c2, c1])
        # tracking numbers: the order's parcel, and a case's shipment back
        r = self.s.post("/v1/orders/o3/tracking", {"status": "shipped", "at": T0, "tracking_no": "SF 1001-2002"})
        self.assertStatus(r, 200)
        self.assertEqual(self.ids("?tracking_no=sf10012002"), [c4])
        self.act(c1, "ship_back", carrier="SF", tracking_no="YT-777")
        self.assertEqual(self.ids("?tracking_no=yt777"), [c1])
        # tenancy: m2's token finds nothing of m1's
        self.assertEqual(self.ids("?phone=13812345678", token="svc2"), [])
        # a replaced order's new phone moves the lookup
        r = self.s.post("/v1/orders", order_body(order_id="o2", buyer_id="b2", buyer={"phone": "13700000000"}))
        self.assertStatus(r, 200)
        self.assertEqual(self.ids("?phone=13812345678"), [c3, c1])
        self.assertEqual(self.ids("?phone=13700000000"), [c2])

    def test_bad_parameters_are_400s_naming_them(self):
        for query, field in (("?colour=red", "colour"), ("?status=open&status=resolved", "status"),
                             ("?status=opn", "status"), ("?priority=0", "priority"), ("?priority=1,9", "priority"),
                             ("?due_before=soon", "due_before"), ("?created_from=-1", "created_from"),
                             ("?sort=oldest", "sort"), ("?sort=due&status=resolved", "sort"),
                             ("?sort=due&cursor=12", "cursor"), ("?cursor=d1.2", "cursor"),
                             ("?phone=abc", "phone"), ("?phone=1&email=a@b", "email"),
                             ("?sort=priority&phone=13800000000", "sort"), ("?breached=yes", "breached"),
                             ("?limit=0", "limit")):
            r = self.s.get("/v1/cases" + query)
            err = self.assertError(r, 400)
            self.assertEqual(err["field"], field, query)
        r = self.s.get("/v1/customers/b1/cases?buyer_id=b2")
        self.assertEqual(self.assertError(r, 400, "unknown_parameter")["field"], "buyer_id")

    def test_unknown_parameters_and_members_elsewhere_are_400s_naming_them(self):
        self.make_order()
        cid = self.open_case(type="return", order_id="o1")["case_id"]
        for path in ("/v1/events?afer=1", "/v1/agents?online=true", "/v1/orders/o1?full=1",
                     "/v1/cases/%s?x=1" % cid, "/v1/cases/%s/timeline?page=2" % cid, "/v1/alerts?level=3",
                     "/healthz?deep=1", "/metrics?format=json", "/openapi.json?v=2", "/v1/me?full=1",
                     "/v1/admin/policies?merchant=m1", "/v1/admin/routes?role=agent",
                     "/v1/cases/%s/actions?all=1" % cid, "/console/app.js?v=1"):
            err = self.assertError(self.s.get(path), 400, "unknown_parameter")
            self.assertEqual(err["field"], path.split("?")[1].split("=")[0], path)
        for path, body, field in (("/v1/admin/clock", {"advance": 0, "speed": 2}, "speed"),
                                  ("/v1/admin/policies/shadow", {"sources": {}, "mode": "x"}, "mode"),
                                  ("/v1/agents", {"agent_id": "a1", "team": "x"}, "team"),
                                  ("/v1/cases/%s/actions" % cid, {"action": "note", "body": "b", "urgent": 1}, "urgent"),
                                  ("/v1/orders", dict(order_body(), vip=True), "vip")):
            err = self.assertError(self.s.post(path, body), 400, "unknown_field")
            self.assertEqual(err["field"], field, path)

    def test_orders_take_an_optional_address_masked_for_non_admins(self):
        addr = "北京市朝阳区建国路 88 号 1 单元"
        self.make_order(buyer={"phone": "13812345678", "address": addr})
        self.assertEqual(self.s.get("/v1/orders/o1").json["buyer"]["address"], addr)
        self.assertEqual(self.s.get("/v1/orders/o1", token="svc1").json["buyer"]["address"], "北京市***")
        for bad in ("", "a\nb", 12, "x" * 513):
            r = self.s.post("/v1/orders", order_body(buyer={"address": bad}))
            self.assertEqual(self.assertError(r, 400)["field"], "buyer.address", bad)
        # kept across a restart (the order's stored record carries it)
        self.s.stop()
        self.s.start()
        self.assertEqual(self.s.get("/v1/orders/o1").json["buyer"]["address"], addr)


if __name__ == "__main__":
    main()

"""The timeline of a case is paged and bounded (issue 9, item 9): messages
have a documented size limit, a page holds at most `limit` entries and about
512 KiB, `next_after` resumes exactly where a page stopped, and a decision
shows the inputs it saw on whatever page it lands (the request's
policy.inputs entry itself is not listed)."""
from harness import ServerTestCase, main

BODY_MAX = 16384


class TimelineTest(ServerTestCase):

    def note(self, cid, body):
        return self.s.post("/v1/cases/%s/actions" % cid, {"action": "note", "body": body})

    def all_pages(self, cid, limit):
        seen, after, pages = [], 0, 0
        while True:
            r = self.s.get("/v1/cases/%s/timeline?after=%d&limit=%d" % (cid, after, limit))
            self.assertStatus(r, 200)
            pages += 1
            seen += r.json["events"]
            if r.json["next_after"] is None:
                return seen, pages
            self.assertGreater(r.json["next_after"], after)
            after = r.json["next_after"]

    def test_message_bodies_are_bounded(self):
        self.make_order()
        cid = self.open_case(type="return", order_id="o1")["case_id"]
        self.assertStatus(self.note(cid, "x" * BODY_MAX), 200)
        err = self.assertError(self.note(cid, "x" * (BODY_MAX + 1)), 400, "invalid_field")
        self.assertEqual(err["field"], "body")
        r = self.s.post("/v1/cases/%s/actions" % cid, {"action": "reply", "by": "agent", "body": "y" * (BODY_MAX + 1)})
        self.assertEqual(self.assertError(r, 400, "invalid_field")["field"], "body")

    def test_pages_walk_every_entry_once_in_order(self):
        self.make_order()
        cid = self.open_case(type="return", order_id="o1")["case_id"]
        for i in range(30):
            self.assertStatus(self.note(cid, "note %d" % i), 200)
        whole = self.s.get("/v1/cases/%s/timeline?limit=500" % cid).json
        self.assertIsNone(whole["next_after"])
        types = [e["type"] for e in whole["events"]]
        self.assertNotIn("policy.inputs", types)
        self.assertEqual(types[0], "case.created")
        for limit in (1, 3, 7):
            paged, pages = self.all_pages(cid, limit)
            self.assertEqual(paged, whole["events"], limit)
            self.assertGreaterEqual(pages, len(whole["events"]) // limit)
        # a decision keeps its inputs on a page that starts after its request's first entry
        decisions = [e for e in whole["events"] if e["type"] == "decision"]
        second = decisions[1]
        r = self.s.get("/v1/cases/%s/timeline?after=%d&limit=1" % (cid, second["seq"] - 1)).json
        self.assertEqual(r["events"][0]["seq"], second["seq"])
        self.assertEqual(r["events"][0]["data"]["inputs"][0]["case_id"], cid)

    def test_a_page_stops_at_its_byte_budget(self):
        self.make_order()
        cid = self.open_case(type="return", order_id="o1")["case_id"]
        for i in range(40):
            self.assertStatus(self.note(cid, ("%02d" % i) * (BODY_MAX // 2)), 200)
        r = self.s.get("/v1/cases/%s/timeline?limit=500" % cid)
        self.assertStatus(r, 200)
        self.assertLess(len(r.raw), 700 * 1024)
        self.assertIsNotNone(r.json["next_after"])
        paged, pages = self.all_pages(cid, 500)
        self.assertEqual(len([e for e in paged if e["type"] == "note"]), 40)
        self.assertGreaterEqual(pages, 2)

    def test_query_is_strict(self):
        self.make_order()
        cid = self.open_case(type="return", order_id="o1")["case_id"]
        for q in ("limit=0", "limit=501", "after=-1", "after=x", "cursor=3"):
            r = self.s.get("/v1/cases/%s/timeline?%s" % (cid, q))
            self.assertEqual(r.status, 400, q)
        self.assertEqual(self.assertError(self.s.get("/v1/cases/%s/timeline?cursor=3" % cid), 400,
                                          "unknown_parameter")["field"], "cursor")


if __name__ == "__main__":
    main()

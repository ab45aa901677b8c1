"""A full data map answers 507 storage_full, loses nothing already stored,
keeps serving reads, and a restart with a larger --map-max carries on."""
import random
import string

from harness import Server, ServerTestCase, main, order_body


def big_order(i):
    return order_body(order_id="o%d" % i, items=[
        {"sku": "s", "category": "apparel", "price_cents": 100, "qty": 1, "title": "x" * 300}])


class StorageFull(ServerTestCase):
    server_kwargs = {"extra_args": ["--map-size", "1", "--map-max", "1"]}

    def fill(self):
        """Writes orders until the store refuses one; answers how many were stored."""
        for i in range(5000):
            r = self.s.post("/v1/orders", big_order(i))
            if r.status == 507:
                self.assertError(r, 507, "storage_full")
                return i
            self.assertStatus(r, 201)
        self.fail("a 1 MiB map never filled up")

    def test_full_map_answers_507_and_keeps_serving_reads(self):
        stored = self.fill()
        self.assertGreater(stored, 10)
        r = self.s.post("/v1/cases", {"type": "consultation", "buyer_id": "b1",
                                      "reason": "other", "channel": "chat"})
        self.assertError(r, 507, "storage_full")
        for i in (0, stored // 2, stored - 1):
            self.assertStatus(self.s.get("/v1/orders/o%d" % i), 200)
        self.assertStatus(self.s.get("/v1/orders/o%d" % stored), 404)
        self.assertStatus(self.s.get("/healthz"), 200)
        self.assertEqual(self.s.get("/v1/cases").json["cases"], [])

    def test_a_refused_case_leaves_no_load_on_its_agent(self):
        self.assertStatus(self.s.post("/v1/agents", {"agent_id": "a1", "name": "A", "capacity": 5, "online": True,
                                                     "queues": ["customer_service"], "skills": []}), 201)
        self.fill()
        for _ in range(3):  # each one was assigned to a1 in memory before its commit failed
            r = self.s.post("/v1/cases", {"type": "consultation", "buyer_id": "b1",
                                          "reason": "other", "channel": "chat"})
            self.assertError(r, 507, "storage_full")
        agents = self.s.get("/v1/agents").json["agents"]
        self.assertEqual([(a["agent_id"], a["load"]) for a in agents], [("a1", 0)])

    def test_restart_with_a_larger_map_keeps_everything_and_accepts_writes(self):
        stored = self.fill()
        self.assertEqual(self.s.stop(), 0)
        bigger = Server(data=self.s.data, extra_args=["--map-size", "1", "--map-max", "64"])
        bigger.start()
        self.addCleanup(bigger.stop)
        for i in range(stored):
            self.assertStatus(bigger.get("/v1/orders/o%d" % i), 200)
        for i in range(stored, stored + 200):
            self.assertStatus(bigger.post("/v1/orders", big_order(i)), 201)


class FeedAfterRefusedWrites(ServerTestCase):
    """Refused writes leave no gap in the events feed: seqs are given at
    commit, so a write that never commits never takes one."""
    server_kwargs = {"extra_args": ["--map-size", "1", "--map-max", "2"]}

    def test_the_feed_stays_gapless_and_ordered_across_refused_writes(self):
        for i in range(3):
            self.assertStatus(self.s.post("/v1/orders", order_body(order_id="o%d" % i)), 201)
        cid = self.open_case(type="consultation", order_id="o0", reason="other", channel="chat")["case_id"]
        refused = notes = 0
        while refused < 3:  # notes as big as a note may be until three are refused
            # text that does not compress: the timeline is stored packed
            body = "".join(random.choice(string.ascii_letters) for _ in range(16384))
            r = self.s.post("/v1/cases/%s/actions" % cid, {"action": "note", "body": body})
            if r.status == 507:
                self.assertError(r, 507, "storage_full")
                refused += 1
            else:
                self.assertStatus(r, 200)
                notes += 1
            self.assertLess(notes, 400, "a 2 MiB map never filled up")
        self.assertStatus(self.s.post("/v1/orders", order_body(order_id="o9")), 201)
        self.act(cid, "reply", by="agent", body="small")
        evs = []
        after = 0
        while True:  # as a consumer resumes: small pages from the last seq
            page = self.s.get("/v1/events?after=%d&limit=3" % after).json
            evs += page["events"]
            if not page["events"]:
                break
            after = page["next_after"]
        seqs = [e["seq"] for e in evs]
        self.assertEqual(seqs, list(range(1, len(seqs) + 1)), "gaps in the feed")
        # 3 orders, the case, its notes, the order after, the reply: in commit order
        self.assertEqual(len(evs), 3 + 1 + notes + 1 + 1, [e["type"] for e in evs])
        self.assertEqual(evs[3]["type"], "case.created")
        self.assertEqual([e["order_id"] for e in evs[:3]], ["o0", "o1", "o2"])
        self.assertEqual(evs[-2]["order_id"], "o9")
        self.assertEqual(evs[-1]["data"]["action"], "reply")
        metrics = self.s.get("/metrics", token=None).raw.decode()
        self.assertIn("\naftersale_events_last_seq %d\n" % len(evs), metrics)
        self.assertEqual(self.s.stop(), 0)  # a restart counts on from the last seq
        self.s.start()
        self.assertStatus(self.s.post("/v1/orders", order_body(order_id="o10")), 201)
        last = self.s.get("/v1/events?after=%d" % len(evs)).json["events"]
        self.assertEqual([e["seq"] for e in last], [len(evs) + 1])


if __name__ == "__main__":
    main()

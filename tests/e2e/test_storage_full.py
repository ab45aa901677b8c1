"""A full data map answers 507 storage_full, loses nothing already stored,
keeps serving reads, and a restart with a larger --map-max carries on."""
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


if __name__ == "__main__":
    main()

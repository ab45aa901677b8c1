"""Agents and assignment: POST/GET /v1/agents, the least-loaded online agent
of the routed queue with the skills and free capacity gets a new case, and
each agent's load (open cases assigned) stays exact through every move."""
from harness import DAY, T0, ServerTestCase, main


class AgentsTest(ServerTestCase):

    def loads(self):
        r = self.s.get("/v1/agents")
        self.assertStatus(r, 200)
        return {a["agent_id"]: a["load"] for a in r.json["agents"]}

    def new_return(self, oid=None):
        oid = oid or "o%d" % self._n
        self._n += 1
        self.make_order(order_id=oid, buyer_id="b" + oid)
        return self.open_case(type="return", order_id=oid)

    def setUp(self):
        super().setUp()
        self._n = 0

    def test_create_update_and_list(self):
        body = {"agent_id": "a1", "name": "Ann", "queues": ["after_sales", "quality"],
                "skills": ["electronics"], "capacity": 3, "online": True}
        r = self.s.post("/v1/agents", body)
        self.assertStatus(r, 201)
        self.assertEqual(r.json["load"], 0)
        for k, v in body.items():
            self.assertEqual(r.json[k], v, k)
        r = self.s.post("/v1/agents", dict(body, capacity=4, online=False))
        self.assertStatus(r, 200)
        self.assertEqual((r.json["capacity"], r.json["online"]), (4, False))
        self.make_agent("a0", queues=["tech_support"])
        self.make_agent("a2", queues=["tech_support"])
        listed = self.s.get("/v1/agents", token="ag1").json["agents"]
        self.assertEqual([a["agent_id"] for a in listed], ["a0", "a1", "a2"])  # by id, not by creation
        agents = {a["agent_id"]: a for a in listed}
        self.assertEqual(sorted(agents), ["a0", "a1", "a2"])
        self.assertEqual(agents["a1"]["queues"], ["after_sales", "quality"])
        self.assertEqual(agents["a1"]["capacity"], 4)
        self.assertFalse(agents["a1"]["online"])
        self.assertEqual(agents["a2"]["queues"], ["tech_support"])
        # the store keeps them
        self.s.stop()
        self.s.start()
        again = {a["agent_id"]: a for a in self.s.get("/v1/agents").json["agents"]}
        self.assertEqual(again, agents)

    def test_an_update_changes_only_the_fields_it_names(self):
        self.make_agent("a1", queues=["after_sales", "quality"], skills=["electronics"], capacity=3)
        r = self.s.post("/v1/agents", {"agent_id": "a1", "online": False})
        self.assertStatus(r, 200)
        self.assertEqual((r.json["name"], r.json["queues"], r.json["skills"], r.json["capacity"], r.json["online"]),
                         ("A1", ["after_sales", "quality"], ["electronics"], 3, False))
        r = self.s.post("/v1/agents", {"agent_id": "a1", "queues": [], "capacity": 0})
        self.assertEqual((r.json["queues"], r.json["capacity"], r.json["online"]), ([], 0, False))

    def test_an_agent_registered_after_hand_assignments_starts_with_their_load(self):
        self.make_order(qty=3)
        cases = [self.open_case(type="return", order_id="o1", qty=1)["case_id"] for _ in range(3)]
        for cid in cases[:2]:  # "a1" is named by a token, not registered yet
            self.act(cid, "assign", agent_id="a1")
        self.act(cases[1], "resolve", resolution="done")
        r = self.s.post("/v1/agents", {"agent_id": "a1", "queues": ["after_sales"], "capacity": 2})
        self.assertStatus(r, 201)
        # one of the two is still open, and the room left takes the case waiting in after_sales
        self.assertEqual(r.json["load"], 2)
        self.assertEqual(self.s.get("/v1/cases/" + cases[2]).json["assignee"], "a1")
        self.act(cases[2], "assign", agent_id="a1")  # already a1's: nothing changes
        self.assertEqual(self.loads()["a1"], 2)
        tl = self.s.get("/v1/cases/%s/timeline" % cases[0]).json["events"]
        self.assertEqual([e["data"] for e in tl if e["type"] == "assignment"][-1],
                         {"agent_id": "a1", "from": None, "by": "hand"})  # from nobody

    def test_agent_validation_and_roles(self):
        good = {"agent_id": "a1", "name": "A", "queues": ["after_sales"], "skills": [],
                "capacity": 2, "online": True}
        for change, field in (({"agent_id": None}, "agent_id"), ({"agent_id": "bad id"}, "agent_id"),
                              ({"queues": "after_sales"}, "queues"), ({"skills": [3]}, "skills"),
                              ({"capacity": -1}, "capacity"), ({"capacity": "2"}, "capacity"),
                              ({"online": "yes"}, "online")):
            body = dict(good)
            for k, v in change.items():
                if v is None:
                    del body[k]
                else:
                    body[k] = v
            r = self.s.post("/v1/agents", body)
            self.assertEqual(self.assertError(r, 400, "invalid_field")["field"], field, change)
        for tok in ("ag1", "svc1", "svc"):
            self.assertError(self.s.post("/v1/agents", good, token=tok), 403, "forbidden")
        self.assertEqual(self.s.get("/v1/agents").json["agents"], [])

    def test_least_loaded_agent_of_the_queue_gets_the_case(self):
        self.make_agent("a1", queues=["after_sales"], capacity=10)
        self.make_agent("a2", queues=["after_sales"], capacity=10)
        self.make_agent("q1", queues=["quality"], capacity=10)
        got = [self.new_return()["assignee"] for _ in range(4)]
        # ties go to the lowest id, then the load decides
        self.assertEqual(got, ["a1", "a2", "a1", "a2"])
        self.assertEqual(self.loads(), {"a1": 2, "a2": 2, "q1": 0})
        # resolve one of a2's cases: a2 is now the least loaded
        cases = self.s.get("/v1/cases?assignee=a2").json["cases"]
        self.act(cases[0]["case_id"], "resolve", resolution="done")
        self.assertEqual(self.loads()["a2"], 1)
        self.assertEqual(self.new_return()["assignee"], "a2")
        self.assertEqual(self.loads(), {"a1": 2, "a2": 2, "q1": 0})

    def test_skills_offline_and_full_agents_are_skipped(self):
        self.make_agent("t1", queues=["tech_support"], skills=[], capacity=5)
        self.make_agent("t2", queues=["tech_support"], skills=["appliances"], capacity=5)
        self.make_agent("t3", queues=["tech_support"], skills=["electronics", "appliances"],
                        capacity=5, online=False)
        self.make_agent("t4", queues=["tech_support"], skills=["electronics"], capacity=1)
        self.make_agent("t5", queues=["tech_support"], skills=["electronics"], capacity=0)
        self.make_order(order_id="e1", category="electronics", qty=1)
        self.make_order(order_id="e2", category="electronics", qty=1, buyer_id="b2")
        c = self.open_case(type="repair", order_id="e1", reason="quality")
        self.assertEqual(c["skills"], ["electronics"])
        self.assertEqual(c["assignee"], "t4")
        # t4 is now full, t3 offline, t5 has no capacity, t1/t2 lack the skill
        c = self.open_case(type="repair", order_id="e2", reason="quality")
        self.assertIsNone(c["assignee"])
        self.assertEqual(c["queue"], "tech_support")
        self.assertEqual(self.loads(), {"t1": 0, "t2": 0, "t3": 0, "t4": 1, "t5": 0})
        # t3 comes online: the next case is its
        self.make_agent("t3", queues=["tech_support"], skills=["electronics", "appliances"],
                        capacity=5, online=True)
        self.make_order(order_id="e3", category="electronics", qty=1, buyer_id="b3")
        c = self.open_case(type="repair", order_id="e3", reason="quality")
        self.assertEqual(c["assignee"], "t3")

    def test_no_agent_leaves_the_case_unassigned(self):
        c = self.new_return()
        self.assertIsNone(c["assignee"])
        self.make_agent("q1", queues=["quality"])
        self.assertIsNone(self.new_return()["assignee"])
        self.assertEqual(self.loads(), {"q1": 0})
        self.assertEqual([e for e in self.s.get("/v1/cases/%s/timeline" % c["case_id"]).json["events"]
                          if e["type"] == "assignment"], [])

    def test_load_follows_every_end_of_a_case(self):
        self.make_agent("a1", queues=["after_sales"], capacity=20)
        # resolved by refund
        self.make_order(order_id="n", delivered_at=None)
        c = self.open_case(type="refund_only", order_id="n", reason="not_received")
        self.assertEqual(self.loads()["a1"], 1)
        self.act(c["case_id"], "refund", amount_cents=100)
        self.assertEqual(self.loads()["a1"], 1)  # partial: still open
        self.act(c["case_id"], "refund", amount_cents=c["refund"]["approved_cents"] - 100)
        self.assertEqual(self.loads()["a1"], 0)
        # rejected on review
        c = self.new_return()
        self.assertEqual(self.loads()["a1"], 1)
        self.make_order(order_id="rv", buyer_id="brv")
        r = self.open_case(type="return", order_id="rv", opened=True)
        self.assertEqual(r["assignee"], "a1")
        self.assertEqual(self.loads()["a1"], 2)
        self.act(r["case_id"], "reject")
        self.assertEqual(self.loads()["a1"], 1)
        # failed inspection
        self.act(c["case_id"], "ship_back", carrier="SF", tracking_no="1")
        self.act(c["case_id"], "receive")
        self.assertEqual(self.loads()["a1"], 1)
        self.act(c["case_id"], "inspect", result="fail")
        self.assertEqual(self.loads()["a1"], 0)
        # resolve and close: close does not count twice
        c = self.new_return()
        self.act(c["case_id"], "resolve", resolution="settled by phone")
        self.assertEqual(self.loads()["a1"], 0)
        self.act(c["case_id"], "close")
        self.assertEqual(self.loads()["a1"], 0)

    def test_load_moves_on_reassign_and_stays_exact_through_reopen(self):
        self.make_agent("a1", queues=["after_sales"], capacity=20)
        self.make_agent("a2", queues=["quality"], capacity=20)
        c = self.new_return()
        cid = c["case_id"]
        self.assertEqual(c["assignee"], "a1")
        self.assertEqual(self.loads(), {"a1": 1, "a2": 0})
        self.act(cid, "assign", agent_id="a2")
        self.assertEqual(self.loads(), {"a1": 0, "a2": 1})
        self.act(cid, "assign", agent_id="a2")  # same agent again: no change
        self.assertEqual(self.loads(), {"a1": 0, "a2": 1})
        self.act(cid, "escalate", reason="upset")  # same queue: keeps its agent
        self.assertEqual(self.loads(), {"a1": 0, "a2": 1})
        self.act(cid, "resolve", resolution="done")
        self.assertEqual(self.loads(), {"a1": 0, "a2": 0})
        self.act(cid, "reopen", reason="not done")
        self.assertEqual(self.loads(), {"a1": 0, "a2": 1})
        self.act(cid, "reopen", expect=409, reason="again")
        self.assertEqual(self.loads(), {"a1": 0, "a2": 1})
        self.act(cid, "resolve", resolution="done now")
        self.act(cid, "reopen", reason="still not")
        self.act(cid, "assign", agent_id="a1")
        self.assertEqual(self.loads(), {"a1": 1, "a2": 0})
        # reassigning a finished case moves no load
        self.act(cid, "resolve", resolution="really done")
        self.act(cid, "assign", agent_id="a2")
        self.assertEqual(self.loads(), {"a1": 0, "a2": 0})
        # a rejected case reopened on appeal counts again
        self.make_order(order_id="late", buyer_id="bl", delivered_at=T0 - 20 * DAY,
                        paid_at=T0 - 21 * DAY)
        r = self.open_case(type="return", order_id="late")
        self.assertEqual(r["status"], "rejected")
        self.assertEqual(self.loads(), {"a1": 0, "a2": 0})
        self.assertIsNone(r["assignee"])
        r = self.act(r["case_id"], "reopen", reason="appeal")
        self.assertEqual(r["status"], "in_progress")
        # the appeal escalates, and re-routing finds it an agent of its queue
        self.assertEqual(r["assignee"], "a1")
        self.assertEqual(self.loads(), {"a1": 1, "a2": 0})

    def test_updating_an_agent_keeps_its_load_and_restart_keeps_it(self):
        self.make_agent("a1", queues=["after_sales"], capacity=5)
        self.new_return()
        self.new_return()
        self.assertEqual(self.loads(), {"a1": 2})
        r = self.make_agent("a1", queues=["after_sales"], capacity=2, online=True, load=0)
        self.assertEqual(r["load"], 2)
        # full now: the next case waits unassigned
        self.assertIsNone(self.new_return()["assignee"])
        self.s.stop()
        self.s.start()
        self.assertEqual(self.loads(), {"a1": 2})
        waiting = self.s.get("/v1/cases?assignee=none").json["cases"][0]["case_id"]
        self.make_agent("a1", queues=["after_sales"], capacity=3)  # the raise takes the case that waited
        self.assertEqual(self.s.get("/v1/cases/" + waiting).json["assignee"], "a1")
        self.assertEqual(self.loads(), {"a1": 3})
        self.make_agent("a1", queues=["after_sales"], capacity=4)
        self.assertEqual(self.new_return()["assignee"], "a1")
        self.assertEqual(self.loads(), {"a1": 4})

    def test_auto_close_and_survey_close_do_not_touch_load(self):
        self.make_agent("a1", queues=["after_sales"], capacity=5)
        c1, c2 = self.new_return(), self.new_return()
        self.act(c1["case_id"], "resolve", resolution="ok")
        self.act(c2["case_id"], "resolve", resolution="ok")
        self.assertEqual(self.loads(), {"a1": 0})
        r = self.s.post("/v1/cases/%s/survey" % c1["case_id"], {"csat": 5})
        self.assertStatus(r, 200)
        self.s.advance(8 * DAY)
        self.assertEqual(self.s.get("/v1/cases/" + c2["case_id"]).json["status"], "closed")
        self.assertEqual(self.loads(), {"a1": 0})


if __name__ == "__main__":
    main()

"""Backlog assignment: cases waiting unassigned go to an agent whenever its
capacity frees (going online, a capacity raise, a case resolved, a timer
moving a case away), in priority order then earliest due; an agent asks for
or pulls its next case (GET/POST /v1/agents/{id}/next); an agent's token sets
its own availability and nothing else. Loads stay exact throughout."""
from harness import DAY, HOUR, T0, ServerTestCase, main

TOKENS = [
    {"token": "adm", "role": "admin"},
    {"token": "ag1", "role": "agent", "merchant": "m1", "agent": "a1"},
    {"token": "ag2", "role": "agent", "merchant": "m2", "agent": "a2"},
    {"token": "agx", "role": "agent", "agent": "ax"},
    {"token": "svc1", "role": "service", "merchant": "m1"},
    {"token": "svc2", "role": "service", "merchant": "m2"},
]


class BacklogTest(ServerTestCase):
    server_kwargs = {"tokens": TOKENS}

    def setUp(self):
        super().setUp()
        self.n = 0

    def case(self, cid):
        return self.s.get("/v1/cases/" + cid).json

    def loads(self):
        return {a["agent_id"]: a["load"] for a in self.s.get("/v1/agents").json["agents"]}

    def active_assigned(self):
        out = {}
        for c in self.s.get("/v1/cases?status=open,awaiting_customer,in_progress&limit=200").json["cases"]:
            if c["assignee"]:
                out[c["assignee"]] = out.get(c["assignee"], 0) + 1
        return out

    def ret(self, merchant="m1", vip=False):
        self.n += 1
        oid = "o%d" % self.n
        buyer = {"tier": "vip"} if vip else {"tier": "regular"}
        self.make_order(order_id=oid, buyer_id="b%d" % self.n, merchant_id=merchant, buyer=buyer)
        c = self.open_case(type="return", order_id=oid)
        self.s.advance(60)
        return c["case_id"]

    def availability(self, agent, body, token="adm", expect=200):
        r = self.s.post("/v1/agents/%s/availability" % agent, body, token=token)
        self.assertStatus(r, expect)
        return r.json

    def assigned_by(self, cid):
        notes = [e for e in self.s.get("/v1/cases/%s/timeline" % cid).json["events"] if e["type"] == "assignment"]
        return notes[-1]["data"]["by"] if notes else None

    def test_going_online_takes_the_best_waiting_cases(self):
        self.make_agent("a1", queues=["after_sales"], capacity=2, online=False)
        first, second = self.ret(), self.ret()
        vip = self.ret(vip=True)
        self.assertEqual([self.case(c)["assignee"] for c in (first, second, vip)], [None, None, None])
        a = self.availability("a1", {"online": True}, token="ag1")  # the agent itself
        self.assertEqual((a["online"], a["load"]), (True, 2))
        # the VIP lane first, then the earliest due
        self.assertEqual([self.case(c)["assignee"] for c in (vip, first, second)], ["a1", "a1", None])
        self.assertEqual(self.assigned_by(vip), "backlog")
        self.assertEqual(self.loads(), {"a1": 2})
        # a raise takes the next one
        self.assertEqual(self.availability("a1", {"capacity": 3}, token="ag1")["load"], 3)
        self.assertEqual(self.case(second)["assignee"], "a1")
        feed = [e for e in self.s.get("/v1/events?limit=1000", token="svc1").json["events"]
                if e["type"] == "case.updated" and e["data"].get("by") == "backlog"]
        self.assertEqual([e["case_id"] for e in feed], [vip, first, second])

    def test_a_resolve_frees_capacity_in_the_same_write(self):
        self.make_agent("a1", queues=["after_sales"], capacity=1)
        mine = self.ret()
        waiting = self.ret()
        self.assertEqual((self.case(mine)["assignee"], self.case(waiting)["assignee"]), ("a1", None))
        self.act(mine, "resolve", resolution="kept it", token="ag1")
        self.assertEqual(self.case(waiting)["assignee"], "a1")
        self.assertEqual(self.assigned_by(waiting), "backlog")
        self.assertEqual(self.loads(), {"a1": 1})
        # a hand assignment elsewhere frees it too
        third = self.ret()
        self.make_agent("a9", queues=["quality"], capacity=5)
        self.act(waiting, "assign", agent_id="a9")
        self.assertEqual(self.case(third)["assignee"], "a1")
        self.assertEqual(self.loads(), self.active_assigned())

    def test_skills_and_merchants_are_respected(self):
        # a repair needs its category as a skill; m2's agent never gets m1's case
        self.make_order(order_id="r1", buyer_id="br", items=[{"sku": "tv", "category": "electronics",
                                                                "price_cents": 100000, "qty": 1}])
        repair = self.open_case(type="repair", order_id="r1", reason="quality")["case_id"]
        m1_case = self.ret()
        self.make_agent("t1", queues=["tech_support"], skills=[], capacity=5)
        self.assertIsNone(self.case(repair)["assignee"])
        self.make_agent("a2", queues=["after_sales"], capacity=5)  # ag2's agent: bound to m2
        self.assertIsNone(self.case(m1_case)["assignee"])
        self.make_agent("t2", queues=["tech_support"], skills=["electronics"], capacity=5)
        self.assertEqual(self.case(repair)["assignee"], "t2")
        m2_case = self.ret(merchant="m2")
        self.assertEqual(self.case(m2_case)["assignee"], "a2")  # routing, as before
        self.make_agent("ax", queues=["after_sales"], capacity=5)  # an unbound agent works any merchant's
        self.assertEqual(self.case(m1_case)["assignee"], "ax")

    def test_next_case_read_and_pulled(self):
        self.make_agent("a1", queues=["after_sales"], capacity=0)  # no room: routing gives it nothing
        first = self.ret()
        vip = self.ret(vip=True)
        r = self.s.get("/v1/agents/a1/next", token="ag1")
        self.assertStatus(r, 200)
        self.assertEqual((r.json["case"]["case_id"], r.json["load"], r.json["capacity"]), (vip, 0, 0))
        self.assertIsNone(self.case(vip)["assignee"])  # reading changes nothing
        r = self.s.post("/v1/agents/a1/next", token="ag1", headers={"Idempotency-Key": "p1"})
        self.assertStatus(r, 200)
        self.assertEqual((r.json["case"]["case_id"], r.json["case"]["assignee"]), (vip, "a1"))
        again = self.s.post("/v1/agents/a1/next", token="ag1", headers={"Idempotency-Key": "p1"})
        self.assertEqual((again.status, again.json), (200, r.json))  # a retry takes nothing more
        self.assertEqual(self.assigned_by(vip), "pull")
        self.assertEqual(self.s.post("/v1/agents/a1/next", token="ag1").json["case"]["case_id"], first)
        r = self.s.post("/v1/agents/a1/next", token="ag1")
        self.assertEqual(r.json, {"agent_id": "a1", "case": None})
        self.assertEqual(self.loads(), {"a1": 2})
        # another merchant's agent never sees m1's backlog
        self.make_agent("a2", queues=["after_sales"], capacity=0)
        self.ret()
        self.assertIsNone(self.s.get("/v1/agents/a2/next", token="ag2").json["case"])
        self.assertIsNotNone(self.s.get("/v1/agents/a2/next", token="adm").json["case"])

    def test_availability_is_the_agents_own_and_checked(self):
        self.make_agent("a1", queues=["after_sales"], capacity=2, skills=["x"])
        self.make_agent("a2", queues=["after_sales"], capacity=2)
        self.availability("a2", {"online": False}, token="ag1", expect=403)
        self.availability("a1", {"online": False, "queues": ["quality"]}, token="ag1", expect=400)
        self.availability("a1", {}, token="ag1", expect=400)
        self.availability("a1", {"capacity": -1}, token="ag1", expect=400)
        self.availability("zz", {"online": True}, expect=404)
        self.assertStatus(self.s.post("/v1/agents/a1/next", token="ag2"), 403)
        a = self.availability("a1", {"online": False, "capacity": 4}, token="ag1")
        self.assertEqual((a["online"], a["capacity"], a["queues"], a["skills"]), (False, 4, ["after_sales"], ["x"]))

    def test_a_timer_that_moves_a_case_frees_its_agent(self):
        self.make_agent("q1", queues=["quality"], capacity=1)
        self.make_order(order_id="oc", buyer_id="bc")
        hot = self.open_case(type="complaint", order_id="oc", reason="attitude", channel="phone")["case_id"]
        self.s.advance(HOUR)
        waiting = self.open_case(type="complaint", order_id="oc", reason="other", channel="chat")["case_id"]
        self.assertEqual((self.case(hot)["assignee"], self.case(waiting)["assignee"]), ("q1", None))
        # the first complaint breaches (24 h) and, 4 h later, level 2 moves it to the supervisors
        self.s.set_clock(T0 + DAY + 4 * HOUR + 1)
        self.assertEqual((self.case(hot)["queue"], self.case(hot)["assignee"]), ("supervisors", None))
        self.assertEqual(self.case(waiting)["assignee"], "q1")
        self.assertEqual(self.loads(), {"q1": 1})
        self.assertEqual(self.s.get("/v1/cases?sort=priority&queue=supervisors&assignee=none").json["cases"][0]
                         ["case_id"], hot)


if __name__ == "__main__":
    main()

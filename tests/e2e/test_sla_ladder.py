"""SLA warnings before a target passes (sla.warnings: 75% and 90% of each
target, in working time when the target is) and the escalation ladder after
it (level 1 at the breach raises priority, level 2 moves the case to the
supervisors' queue, level 3 alerts the merchant), each recorded on the
timeline, as an alert and on the feed; a merchant override cannot remove
them (the floor). All on the manual clock."""
import os

from harness import DAY, HOUR, T0, ServerTestCase, main, policies_copy


class Helpers(ServerTestCase):
    def get(self, cid):
        return self.s.get("/v1/cases/" + cid).json

    def timeline(self, cid, kind=None):
        events = self.s.get("/v1/cases/%s/timeline?limit=500" % cid).json["events"]
        return [e for e in events if kind is None or e["type"] == kind]

    def alerts(self, kind, token="adm"):
        return self.s.get("/v1/alerts?limit=200&kind=" + kind, token=token).json["alerts"]

    def events(self, kind, token="adm"):
        return [e for e in self.s.get("/v1/events?limit=1000", token=token).json["events"] if e["type"] == kind]

    def consultation(self, buyer="b1"):
        return self.open_case(type="consultation", buyer_id=buyer, reason="other", channel="chat")


class Warnings(Helpers):
    def test_warnings_at_75_and_90_percent_of_a_wall_clock_target(self):
        c = self.consultation()
        cid = c["case_id"]
        due = T0 + 2 * HOUR  # consultation: first reply within 2 hours
        self.assertEqual([(w["kind"], w["percent"], w["due_at"], w["sent_at"]) for w in c["sla"]["warnings"]],
                         [("first_response", 75, T0 + 90 * 60, None), ("first_response", 90, T0 + 108 * 60, None)])
        self.s.set_clock(T0 + 90 * 60 - 1)
        self.assertEqual(self.timeline(cid, "sla.warning"), [])
        self.s.advance(1)
        notes = self.timeline(cid, "sla.warning")
        self.assertEqual([(n["at"], n["data"]) for n in notes],
                         [(T0 + 90 * 60, {"kind": "first_response", "percent": 75, "due_at": due})])
        self.assertEqual(self.get(cid)["sla"]["warnings"][0]["sent_at"], T0 + 90 * 60)
        alerts = self.alerts("sla_warning")
        self.assertEqual([(a["case_id"], a["data"]) for a in alerts],
                         [(cid, {"kind": "first_response", "percent": 75, "due_at": due})])
        self.assertIn("75%", alerts[0]["message"])
        feed = self.events("sla.warning")
        self.assertEqual([(e["case_id"], e["at"], e["data"]["percent"]) for e in feed], [(cid, T0 + 90 * 60, 75)])
        # the agent answers: the 90% warning and the breach are gone with their reason
        self.act(cid, "reply", by="agent", body="on it")
        self.s.advance(DAY)
        self.assertEqual(len(self.timeline(cid, "sla.warning")), 1)
        self.assertEqual(self.get(cid)["sla"]["breached"], [])
        self.assertEqual(len(self.alerts("sla_warning")), 1)

    def test_business_time_targets_warn_in_working_time(self):
        self.make_order()
        c = self.open_case(type="return", order_id="o1")
        # 3 working days of 7.5 h from Monday 10:00 (+08): 75% = 16.875 working hours
        # = Monday 6.5 h + Tuesday 7.5 h + Wednesday 2 h 52 m 30 s -> Wednesday 11:52:30
        w = {x["percent"]: x["due_at"] for x in c["sla"]["warnings"]}
        self.assertEqual(w[75], T0 + 2 * DAY + HOUR + 52 * 60 + 30)
        # 90% = 20.25 working hours: Wednesday 9:00 + 6.25 h of work -> 16:45
        self.assertEqual(w[90], T0 + 2 * DAY + 6 * HOUR + 45 * 60)
        self.assertEqual(c["sla"]["resolution_due"], T0 + 3 * DAY)

    def test_one_jump_fires_every_warning_then_the_breach_each_at_its_time(self):
        c = self.consultation()
        cid = c["case_id"]
        self.s.advance(3 * HOUR)
        kinds = [(e["type"], e["at"]) for e in self.timeline(cid)
                 if e["type"] in ("sla.warning", "sla.breached")]
        self.assertEqual(kinds, [("sla.warning", T0 + 90 * 60), ("sla.warning", T0 + 108 * 60),
                                 ("sla.breached", T0 + 2 * HOUR + 1)])
        self.assertEqual([w["sent_at"] for w in self.get(cid)["sla"]["warnings"]], [T0 + 90 * 60, T0 + 108 * 60])

    def test_warnings_due_before_an_action_come_first_on_the_timeline(self):
        c = self.consultation()
        cid = c["case_id"]
        self.s.set_clock(T0 + 110 * 60)
        # the round has fired them already; an action right after finds them recorded
        self.act(cid, "note", body="looking")
        notes = [(e["type"], e["data"].get("percent")) for e in self.timeline(cid)
                 if e["type"] in ("sla.warning", "action")]
        self.assertEqual(notes, [("sla.warning", 75), ("sla.warning", 90), ("action", None)])


class Ladder(Helpers):
    def setUp(self):
        super().setUp()
        self.make_agent("q1", queues=["quality"], capacity=5)
        self.make_agent("sup1", queues=["supervisors"], capacity=5)

    def complaint(self):
        self.make_order()
        return self.open_case(type="complaint", order_id="o1", reason="attitude", channel="phone")

    def test_three_levels_each_recorded(self):
        c = self.complaint()
        cid = c["case_id"]
        self.assertEqual((c["queue"], c["assignee"], c["priority"]), ("quality", "q1", 2))
        self.assertEqual(c["sla"]["escalation"], {"level": 0, "at": None, "next_at": None})
        breach = T0 + DAY + 1  # complaint: solved within 24 hours
        self.s.set_clock(breach)
        c = self.get(cid)
        self.assertEqual((c["priority"], c["queue"], c["assignee"], c["escalated"]), (1, "quality", "q1", True))
        self.assertEqual(c["sla"]["escalation"], {"level": 1, "at": breach, "next_at": breach + 4 * HOUR})
        self.s.set_clock(breach + 4 * HOUR - 1)
        self.assertEqual(self.get(cid)["sla"]["escalation"]["level"], 1)
        self.s.advance(1)
        c = self.get(cid)
        self.assertEqual((c["queue"], c["assignee"], c["sla"]["escalation"]["level"]), ("supervisors", "sup1", 2))
        moves = [e["data"] for e in self.timeline(cid, "assignment")]
        self.assertEqual(moves[-1], {"agent_id": "sup1", "from": "q1", "by": "escalation"})
        loads = {a["agent_id"]: a["load"] for a in self.s.get("/v1/agents").json["agents"]}
        self.assertEqual(loads, {"q1": 0, "sup1": 1})
        self.assertEqual(self.alerts("sla_escalation"), [])
        self.s.advance(20 * HOUR)
        c = self.get(cid)
        self.assertEqual(c["sla"]["escalation"], {"level": 3, "at": breach, "next_at": None})
        alerts = self.alerts("sla_escalation", token="svc1")
        self.assertEqual([(a["case_id"], a["data"]) for a in alerts], [(cid, {"level": 3, "kind": "resolution"})])
        self.assertEqual(self.alerts("sla_escalation", token="svc2"), [])  # m1's case: m2 sees nothing
        levels = [(e["at"], e["data"]["level"], e["data"]["queue"], e["data"]["alert_merchant"])
                  for e in self.timeline(cid, "sla.escalated")]
        self.assertEqual(levels, [(breach, 1, "quality", False), (breach + 4 * HOUR, 2, "supervisors", False),
                                  (breach + DAY, 3, "supervisors", True)])
        self.assertEqual([e["data"]["level"] for e in self.events("sla.escalated", token="svc1")], [1, 2, 3])
        # the ladder ends with its last level
        self.s.advance(10 * DAY)
        self.assertEqual(len(self.timeline(cid, "sla.escalated")), 3)
        decisions = [e["data"]["inputs"][1] for e in self.timeline(cid, "decision")
                     if e["data"]["function"] == "escalate"]
        self.assertEqual([d["level"] for d in decisions], [2, 3])
        self.assertEqual(decisions[0]["kind"], "resolution")

    def test_resolving_ends_the_ladder(self):
        c = self.complaint()
        cid = c["case_id"]
        self.s.set_clock(T0 + DAY + 1)
        self.act(cid, "resolve", resolution="apologised")
        self.s.advance(2 * DAY)
        c = self.get(cid)
        self.assertEqual(c["sla"]["escalation"]["level"], 1)
        self.assertIsNone(c["sla"]["escalation"]["next_at"])
        self.assertEqual(c["queue"], "quality")
        # reopened, it does not jump to the next level for the time it was resolved
        self.act(cid, "reopen", reason="still upset")
        self.s.advance(HOUR)
        self.assertEqual(self.get(cid)["sla"]["escalation"]["level"], 1)


MERCHANT_SLA = """
local M = {}
function M.warnings(case, ctx) return nil end
function M.on_breach(case, kind, ctx) return { escalate = true } end
function M.escalate(case, step, ctx) return nil end
return M
"""


class FloorKeepsThem(Helpers):
    def setUp(self):
        pol = policies_copy(self)
        os.makedirs(os.path.join(pol, "merchants", "m1"), exist_ok=True)
        with open(os.path.join(pol, "merchants", "m1", "sla.lua"), "w") as f:
            f.write(MERCHANT_SLA)
        self.server_kwargs = {"policies": pol}
        super().setUp()

    def test_a_merchant_cannot_drop_the_warnings_or_the_ladder(self):
        self.make_agent("sup1", queues=["supervisors"], capacity=5)
        self.make_order()
        c = self.open_case(type="complaint", order_id="o1", reason="attitude", channel="phone")
        self.assertEqual([w["percent"] for w in c["sla"]["warnings"]], [75, 90])
        self.s.advance(DAY + 1 + 4 * HOUR)
        c = self.get(c["case_id"])
        self.assertEqual((c["sla"]["escalation"]["level"], c["queue"], c["assignee"]), (2, "supervisors", "sup1"))


if __name__ == "__main__":
    main()

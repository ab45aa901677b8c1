"""An SLA breach that sla.on_breach re-routes moves the case to the new
queue's least-loaded agent and says so on the timeline."""
import os
import shutil

from harness import HOUR, ServerTestCase, main, policies_copy

ON_BREACH = """
function M.on_breach(case, kind, ctx)
    return { escalate = true, queue = "quality" }
end

return M
"""


class BreachReroute(ServerTestCase):
    def setUp(self):
        self.policies = policies_copy(self)
        shutil.rmtree(os.path.join(self.policies, "tests"))  # they test the default on_breach
        path = os.path.join(self.policies, "sla.lua")
        with open(path) as f:
            src = f.read()
        cut = src.index("function M.on_breach")
        with open(path, "w") as f:
            f.write(src[:cut] + ON_BREACH)
        self.server_kwargs = {"policies": self.policies}
        super().setUp()

    def test_breach_moves_the_case_and_records_the_assignment(self):
        self.make_agent("cs1", queues=["customer_service"])
        self.make_agent("q1", queues=["quality"])
        c = self.open_case(type="consultation", buyer_id="b1", reason="other", channel="chat")
        self.assertEqual((c["queue"], c["assignee"]), ("customer_service", "cs1"))
        self.s.advance(2 * HOUR + 1)
        c = self.s.get("/v1/cases/" + c["case_id"]).json
        self.assertEqual((c["queue"], c["assignee"], c["escalated"]), ("quality", "q1", True))
        events = self.s.get("/v1/cases/%s/timeline" % c["case_id"]).json["events"]
        moves = [e["data"] for e in events if e["type"] == "assignment"]
        self.assertEqual(moves[-1], {"agent_id": "q1", "from": "cs1", "by": "sla_breach"})
        agents = {a["agent_id"]: a["load"] for a in self.s.get("/v1/agents").json["agents"]}
        self.assertEqual(agents, {"cs1": 0, "q1": 1})


if __name__ == "__main__":
    main()

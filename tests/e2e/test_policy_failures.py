"""A failing merchant override is visible (issue 12): the floor still answers
for it, but the case's timeline records a policy.error of the override (its
module, function, merchant and version) before the floor's decision; the
failure counts in /metrics by module, function and merchant; past the
operator's rate (--policy-error-alert) it raises a policy_errors alert; and
dry-run lists it under errors. An answer of the wrong shape (outcome =
"approved") is a failure too, never a silent floor."""
import os

from harness import ServerTestCase, main, order_body, policies_copy

OVERRIDE = """local M = {}
function M.evaluate(case, order, ctx)
    if case.reason == "quality" then while true do end end      -- loops on one reason only
    if case.reason == "wrong_item" then return {outcome = "approved"} end  -- a typo
    if case.reason == "not_as_described" then                  -- a long message, within the limits
        local code = "long_" .. string.rep("r", 70000)
        return {outcome = "approve", reason_code = code, message = code .. ": " .. string.rep("m", 70000)}
    end
    return require("returns").evaluate(case, order, ctx)
end
return M
"""


class PolicyFailuresTest(ServerTestCase):

    def setUp(self):
        self.pdir = policies_copy(self)
        os.makedirs(os.path.join(self.pdir, "merchants", "m1"))
        with open(os.path.join(self.pdir, "merchants", "m1", "returns.lua"), "w") as f:
            f.write(OVERRIDE)
        self.server_kwargs = {"policies": self.pdir, "extra_args": ["--policy-error-alert", "3"]}
        super().setUp()

    def failures(self):
        text = self.s.get("/metrics", token=None).raw.decode()
        line = 'aftersale_policy_failures_total{module="returns",function="evaluate",merchant="m1"} '
        found = [l for l in text.splitlines() if l.startswith(line)]
        return int(found[0].split()[-1]) if found else 0

    def test_a_long_answer_within_the_limits_stands(self):
        # 140 KB of code and message is within what an answer may hold (2 MiB):
        # the override's approval stands, no policy.error
        self.assertStatus(self.s.post("/v1/admin/policies/reload"), 200)
        self.make_order(order_id="o1")
        c = self.open_case(type="return", order_id="o1", reason="not_as_described")
        code = "long_" + "r" * 70000
        self.assertEqual((c["decision"]["outcome"], c["decision"]["reason_code"]), ("approve", code))
        self.assertEqual(c["decision"]["message"], code + ": " + "m" * 70000)
        self.assertEqual(self.failures(), 0)

    def test_a_looping_override_is_recorded_counted_and_alerted(self):
        self.assertStatus(self.s.post("/v1/admin/policies/reload"), 200)  # its tests do not cover the loop
        cases = []
        for i in range(4):
            self.make_order(order_id="o%d" % i)
            c = self.open_case(type="return", order_id="o%d" % i, reason="quality")
            cases.append(c)
            # the floor answered: the platform's approval of a faulty item
            self.assertEqual(c["decision"]["outcome"], "approve")
            self.assertEqual(c["decision"]["reason_code"], "floor_applied")
        tl = self.s.get("/v1/cases/%s/timeline" % cases[0]["case_id"])["events"]
        types = [e["type"] for e in tl]
        err = tl[types.index("policy.error")]
        self.assertLess(types.index("policy.error"), types.index("decision"))  # before the floor's decision
        self.assertEqual((err["data"]["module"], err["data"]["function"], err["data"]["merchant_id"]),
                         ("returns", "evaluate", "m1"))
        self.assertEqual(err["data"]["stage"], "override")
        self.assertIn("instruction budget exceeded", err["data"]["error"])
        self.assertEqual(err["data"]["policy_version"], cases[0]["decision"]["policy_version"])
        self.assertEqual(self.failures(), 4)
        alerts = [a for a in self.s.get("/v1/alerts")["alerts"] if a["kind"] == "policy_errors"]
        self.assertEqual(len(alerts), 1)  # the third failure crossed the rate; one alert per hour
        self.assertEqual(alerts[0]["data"], {"module": "returns", "function": "evaluate", "merchant_id": "m1"})
        self.assertEqual(alerts[0]["case_id"], cases[2]["case_id"])
        # an hour later the window starts again
        self.s.advance(3601)
        for i in range(4, 7):
            self.make_order(order_id="o%d" % i)
            self.open_case(type="return", order_id="o%d" % i, reason="quality")
        self.assertEqual(len([a for a in self.s.get("/v1/alerts")["alerts"] if a["kind"] == "policy_errors"]), 2)

    def test_an_answer_of_the_wrong_shape_is_a_failure(self):
        self.assertStatus(self.s.post("/v1/admin/policies/reload"), 200)
        self.make_order()
        c = self.open_case(type="return", order_id="o1", reason="wrong_item")
        self.assertEqual(c["decision"]["reason_code"], "floor_applied")
        tl = self.s.get("/v1/cases/%s/timeline" % c["case_id"])["events"]
        errors = [e["data"] for e in tl if e["type"] == "policy.error"]
        self.assertEqual(len(errors), 1)
        self.assertIn("'outcome' must be one of approve reject review", errors[0]["error"])
        self.assertEqual(self.failures(), 1)

    def test_dry_run_reports_the_failure(self):
        body = {"case": {"type": "return", "reason": "quality", "sku": "s1"}, "order": order_body()}
        r = self.s.post("/v1/admin/policies/dry-run", dict(body, sources={
            "merchants/m1/returns.lua": OVERRIDE}))
        self.assertStatus(r, 200)
        self.assertEqual(len(r["errors"]), 1)
        self.assertEqual(r["errors"][0]["stage"], "override")
        self.assertEqual(r["eligibility"]["reason_code"], "floor_applied")
        # the same case without an override: no error
        r = self.s.post("/v1/admin/policies/dry-run", dict(body, order=order_body(merchant_id="m9")))
        self.assertEqual(r["errors"], [])
        # dry-run failures are reported, not counted
        self.assertEqual(self.failures(), 0)


if __name__ == "__main__":
    main()

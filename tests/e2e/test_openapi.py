"""docs/openapi.json describes the whole API, and the API answers as it says.

- Every route of the router (its own table: GET /v1/admin/routes) is
  described, and every described path and method is routed; a running
  server is also asked for each described operation (none may answer "no
  such endpoint" or 405).
- GET /openapi.json serves the file, without a token.
- The answers of a walk through every operation validate against the
  response schemas (openapi_check.py), and every described operation has
  had a success answer checked.

The answers of all the other e2e tests are checked too, once they have run:
ctest's openapi.answers (openapi_check.py on what harness.py recorded). Lint
(Spectral's OpenAPI rules) is ctest's openapi.lint.
"""
import os
import time
import re
import unittest

import harness
from harness import DAY, HOUR, T0, ServerTestCase, main, order_body
from openapi_check import METHODS, SPEC, Checker, documented_operations, jsonschema

CHECKER = Checker()


def record(method, path, status, headers, raw):
    CHECKER.check(method, path, status, headers.get("content-type"), raw)


_original_request = harness.Server.request


def recording_request(self, method, path, *args, **kwargs):
    r = _original_request(self, method, path, *args, **kwargs)
    record(method, path, r.status, r.headers, r.raw)
    return r


class OpenApiDocument(unittest.TestCase):
    def test_is_openapi_3_1_with_an_operation_id_each(self):
        self.assertEqual(SPEC["openapi"], "3.1.0")
        ids = [op["operationId"] for item in SPEC["paths"].values() for m, op in item.items() if m in METHODS]
        self.assertEqual(len(ids), len(set(ids)))


@unittest.skipIf(jsonschema is None, "needs python3-jsonschema")
class OpenApiAgainstTheServer(ServerTestCase):
    def setUp(self):
        harness.Server.request = recording_request
        self.addCleanup(setattr, harness.Server, "request", _original_request)
        super().setUp()

    def test_every_route_is_described_and_every_described_operation_is_routed(self):
        routes = self.s.get("/v1/admin/routes").json["routes"]
        routed = {(r["method"], r["path"]) for r in routes}
        documented = documented_operations()
        self.assertEqual(sorted(routed - documented), [], "routes missing from docs/openapi.json")
        self.assertEqual(sorted(documented - routed), [], "described but not routed")

    def test_served_without_a_token_and_equal_to_the_file(self):
        r = self.s.get("/openapi.json", token=None)
        self.assertStatus(r, 200)
        self.assertEqual(r.headers["content-type"], "application/json")
        self.assertEqual(r.json, SPEC)

    def test_every_described_operation_is_routed_on_a_running_server(self):
        for method, template in sorted(documented_operations()):
            path = re.sub(r"\{[^}]+\}", "x1", template)
            body = {} if method in ("POST", "PUT", "DELETE") else None
            r = self.s.request(method, path, body)
            self.assertNotEqual(r.status, 405, (method, template, r))
            if r.status == 404:
                self.assertNotEqual(r.json["error"]["message"], "no such endpoint", (method, template))

    def walk(self):
        """Every operation once with success, as a client would."""
        s = self.s
        ok = self.assertStatus
        for path in ("/healthz", "/metrics", "/openapi.json", "/console", "/console/", "/console/app.js"):
            r = s.get(path, token=None)
            self.assertIn(r.status, (200, 301), (path, r))
        ok(s.get("/v1/me", token="ag1"), 200)
        self.make_agent("a1", queues=("after_sales", "customer_service"))
        self.make_agent("a1", queues=("after_sales", "customer_service"), capacity=9)
        ok(s.get("/v1/agents"), 200)
        self.make_order()
        ok(s.post("/v1/orders", order_body()), 200)
        ok(s.get("/v1/orders/o1", token="ag1"), 200)
        ok(s.post("/v1/orders/o1/tracking", {"status": "in_transit", "at": T0 - DAY, "carrier": "SF"}), 200)
        ok(s.put("/v1/orders/o1/prices/s1", {"price_cents": 4500, "at": T0}), 200)
        ret = self.open_case(type="return", order_id="o1", qty=1, headers={"Idempotency-Key": "k1"})
        consult = self.open_case(type="consultation", order_id="o1", reason="other")
        cid = ret["case_id"]
        ok(s.get("/v1/cases?status=awaiting_customer"), 200)
        ok(s.get("/v1/cases/" + cid), 200)
        ok(s.get("/v1/cases/%s/actions" % cid, token="ag1"), 200)
        self.act(cid, "reply", by="agent", body="hello")
        self.act(cid, "ship_back", carrier="SF", tracking_no="SF1")
        self.act(cid, "receive")
        self.act(cid, "inspect", result="pass")
        case = self.act(cid, "refund", amount_cents=self.s.get("/v1/cases/" + cid)["refund"]["approved_cents"])
        self.assertEqual(case["status"], "resolved")
        ok(s.get("/v1/cases/%s/timeline?limit=2" % cid), 200)
        ok(s.get("/v1/admin/routes"), 200)
        ok(s.get("/v1/customers/b1/cases"), 200)
        self.s.advance(2 * HOUR)  # the survey goes out; the consultation misses its first reply
        ok(s.post("/v1/cases/%s/survey" % cid, {"csat": 2, "nps": 3, "comment": "slow"}), 200)
        ok(s.get("/v1/alerts"), 200)
        ok(s.get("/v1/reports/kpi?group_by=queue&from=%d&to=%d" % (T0 - DAY, T0 + DAY)), 200)
        ok(s.get("/v1/events?after=0&limit=50"), 200)
        ok(s.get("/v1/admin/policies"), 200)
        ok(s.post("/v1/admin/policies/reload", {}), 200)
        ok(s.post("/v1/admin/policies/dry-run", {"case": {"type": "return", "reason": "no_reason"},
                                                  "order": order_body()}), 200)
        with open(os.path.join(harness.POLICIES, "returns.lua")) as f:
            returns = f.read()
        ok(s.post("/v1/admin/policies/replay", {"sources": {"returns.lua": returns}, "limit": 10}), 200)
        ok(s.post("/v1/admin/policies/shadow", {"sources": {"returns.lua": returns + "\n-- shadow\n"}}), 200)
        ok(s.get("/v1/admin/policies"), 200)  # with the shadow and its summary
        ok(s.request("DELETE", "/v1/admin/policies/shadow"), 200)
        job = s.post("/v1/admin/jobs/replay", {"sources": {"returns.lua": returns.replace(
            "M.RETURN_WINDOW_DAYS = 7", "M.RETURN_WINDOW_DAYS = 0")}})
        ok(job, 202)
        ok(s.get("/v1/admin/jobs"), 200)
        deadline = time.monotonic() + 30
        while s.get("/v1/admin/jobs/" + job.json["job_id"]).json["state"] in ("queued", "running"):
            self.assertLess(time.monotonic(), deadline, "the replay job did not finish")
        ok(s.get("/v1/admin/jobs/" + job.json["job_id"]), 200)
        ok(s.get("/v1/admin/jobs/%s/diffs?limit=5" % job.json["job_id"]), 200)
        ok(s.request("DELETE", "/v1/admin/jobs/" + job.json["job_id"]), 200)
        active = s.get("/v1/admin/policies").json["version"]
        up = s.post("/v1/admin/policies/versions", {"sources": {"returns.lua": returns + "\n-- v2\n"}, "base": "active"})
        ok(up, 201)
        ok(s.get("/v1/admin/policies/versions?limit=5"), 200)
        ok(s.get("/v1/admin/policies/versions/" + active), 200)
        ok(s.post("/v1/admin/policies/activate", {"version": up.json["version"]}), 200)
        ok(s.post("/v1/admin/policies/rollback"), 200)
        self.assertEqual(consult["type"], "consultation")
        # an agent's desk: availability, the next case, work lists, relationship NPS, survey answers
        ok(s.post("/v1/agents/a1/availability", {"online": True, "capacity": 9}, token="ag1"), 200)
        ok(s.get("/v1/agents/a1/next", token="ag1"), 200)
        ok(s.post("/v1/agents/a1/next", token="ag1"), 200)
        ok(s.get("/v1/cases?sort=priority&assignee=none&status=open,in_progress&priority=1,2,3"), 200)
        ok(s.get("/v1/cases?phone=13812345678&created_from=%d" % (T0 - DAY)), 200)
        ok(s.get("/v1/customers/b1/nps"), 200)
        ok(s.post("/v1/customers/b1/nps", {"nps": 9, "channel": "app"}, token="svc1"), 200)
        ok(s.get("/v1/surveys?kind=case"), 200)

    def test_answers_validate_against_the_description(self):
        self.walk()
        documented = documented_operations()
        missing = sorted(op for op in documented if not CHECKER.checked.get(op))
        self.assertEqual(missing, [], "described operations whose success answer was never checked")
        self.assertEqual(CHECKER.failures, [], "\n".join(CHECKER.failures[:40]))


if __name__ == "__main__":
    main()

"""Replay jobs (POST /v1/admin/jobs/replay and the job's routes), the shadow
set's summary, the loop-lag metrics, and `aftersaled seed` (issue 11).

A job runs on a thread of its own; tests poll it until it is finished, with
a deadline (the work is a few cases), never sleep for time-based behaviour."""
import os
import subprocess
import tempfile
import time

from harness import BINARY, DAY, HOUR, POLICIES, TOKENS, Server, ServerTestCase, T0, main, policies_copy
from test_admin import parse_metrics

DEADLINE = 30.0
BOUND_ADMIN = {"token": "admb", "role": "admin", "merchant": "m1"}

# m1's override approves what the default rejects (a merchant may be more
# generous), and answers the default's own decision otherwise
GENEROUS_M1 = """local M = {}
function M.evaluate(case, order, ctx)
    local d = require("returns").evaluate(case, order, ctx)
    if d.outcome == "reject" then
        return {outcome = "approve", reason_code = "goodwill", message = "goodwill: m1 takes it back"}
    end
    return d
end
return M
"""


def source(pdir, name, old, new):
    with open(os.path.join(pdir, name)) as f:
        src = f.read()
    assert old in src, "%s no longer holds %r" % (name, old)
    return src.replace(old, new)


class Jobs(ServerTestCase):
    def setUp(self):
        self.pdir = policies_copy(self)
        self.s = Server(policies=self.pdir, tokens=TOKENS + [BOUND_ADMIN]).start()
        self.addCleanup(self.s.cleanup)
        self.addCleanup(self.stop_cleanly, self.s)

    def post_job(self, body, token="adm"):
        r = self.s.post("/v1/admin/jobs/replay", body, token=token)
        self.assertStatus(r, 202)
        self.assertIn(r.json["state"], ("queued", "running", "done"))
        return r.json["job_id"]

    def finished(self, job_id, token="adm"):
        end = time.monotonic() + DEADLINE
        while time.monotonic() < end:
            r = self.s.get("/v1/admin/jobs/" + job_id, token=token)
            self.assertStatus(r, 200)
            if r.json["state"] in ("done", "failed", "cancelled"):
                return r.json
        self.fail("job %s still %s after %.0f s" % (job_id, r.json["state"], DEADLINE))

    def candidate(self):
        """Returns outside a 1-day window are rejected; default priority 4."""
        return {"returns.lua": source(self.pdir, "returns.lua", "M.RETURN_WINDOW_DAYS = 7", "M.RETURN_WINDOW_DAYS = 1"),
                "routing.lua": source(self.pdir, "routing.lua", "M.PRIORITY_DEFAULT = 3", "M.PRIORITY_DEFAULT = 4")}

    def three_returns(self):
        """m1: o1 delivered 2 days ago, o2 6 hours ago; m2: o3 2 days ago. One
        return each, approved now; a complaint, which is not replayed."""
        self.make_order(order_id="o1", delivered_at=T0 - 2 * DAY)
        self.make_order(order_id="o2", delivered_at=T0 - 6 * HOUR)
        self.make_order(order_id="o3", merchant_id="m2", buyer_id="b3", delivered_at=T0 - 2 * DAY)
        cases = [self.open_case(type="return", order_id=o, sku="s1", qty=1)["case_id"] for o in ("o1", "o2", "o3")]
        self.open_case(type="complaint", order_id="o1", reason="attitude")
        return cases

    def transitions(self, job, module):
        return {(t["before"], t["after"]): t["count"] for t in job["summary"]["by_module"][module]["transitions"]}

    def test_a_candidate_that_flips_rules_is_counted_per_module_with_paged_diffs(self):
        c1, c2, c3 = self.three_returns()
        feed = self.s.get("/v1/events?limit=1000").json["events"]
        job = self.finished(self.post_job({"sources": self.candidate()}))
        self.assertEqual(job["state"], "done", job)
        self.assertEqual(job["progress"]["total"], 3)
        self.assertEqual((job["progress"]["done"], job["progress"]["evaluated"], job["progress"]["failed"]), (3, 3, 0))
        self.assertEqual(job["baseline_version"], self.s.get("/v1/admin/policies").json["version"])
        self.assertNotEqual(job["candidate_version"], job["baseline_version"])
        summary = job["summary"]
        self.assertEqual((summary["evaluated"], summary["changed"]), (3, 3))
        self.assertEqual(self.transitions(job, "eligibility"), {("approve", "reject"): 2, ("approve", "approve"): 1})
        self.assertEqual(summary["by_module"]["eligibility"]["changed"], 2)
        self.assertEqual(self.transitions(job, "routing"), {("after_sales/p3", "after_sales/p4"): 3})
        for module in ("refund", "compensation", "sla"):
            self.assertEqual(summary["by_module"][module]["changed"], 0, module)
        money = summary["money"]
        self.assertEqual(money["refund_cents_delta"], money["refund_cents_after"] - money["refund_cents_before"])
        self.assertEqual(summary["diffs"], 3)
        # paged diffs, in the order the cases were replayed
        page = self.s.get("/v1/admin/jobs/%s/diffs?limit=2" % job["job_id"])
        self.assertStatus(page, 200)
        self.assertEqual(len(page.json["diffs"]), 2)
        self.assertEqual(page.json["next_after"], 2)
        rest = self.s.get("/v1/admin/jobs/%s/diffs?after=2&limit=2" % job["job_id"]).json
        self.assertEqual(rest["next_after"], None)
        diffs = {d["case_id"]: d for d in page.json["diffs"] + rest["diffs"]}
        self.assertEqual(set(diffs), {c1, c2, c3})
        self.assertEqual(diffs[c1]["changed"], ["eligibility", "routing"])
        self.assertEqual(diffs[c2]["changed"], ["routing"])
        self.assertEqual(diffs[c1]["after"]["eligibility"], {"outcome": "reject", "reason_code": "window_expired"})
        self.assertEqual(diffs[c1]["before"]["routing"], {"queue": "after_sales", "priority": 3})
        # nothing was written
        self.assertEqual(self.s.get("/v1/events?limit=1000").json["events"], feed)
        listed = self.s.get("/v1/admin/jobs").json["jobs"]
        self.assertEqual([j["job_id"] for j in listed], [job["job_id"]])

    def test_the_range_and_the_merchant_bound_what_is_replayed(self):
        self.three_returns()
        only_m2 = self.finished(self.post_job({"sources": self.candidate(), "merchant_id": "m2"}))
        self.assertEqual((only_m2["progress"]["total"], only_m2["summary"]["changed"]), (1, 1))
        self.assertEqual(only_m2["params"]["merchant_id"], "m2")
        before = self.finished(self.post_job({"sources": self.candidate(), "until": T0 - 1}))
        self.assertEqual((before["state"], before["progress"]["total"], before["summary"]["evaluated"]), ("done", 0, 0))
        after = self.finished(self.post_job({"since": T0, "until": T0}))
        self.assertEqual((after["progress"]["total"], after["summary"]["changed"]), (3, 0))  # the active set: no change
        self.assertEqual(after["params"]["candidate"], "active")

    def test_a_merchant_bound_admin_replays_its_merchant_only(self):
        self.three_returns()
        job = self.finished(self.post_job({"sources": self.candidate()}, token="admb"), token="admb")
        self.assertEqual(job["params"]["merchant_id"], "m1")
        self.assertEqual(job["progress"]["total"], 2)
        err = self.assertError(self.s.post("/v1/admin/jobs/replay", {"merchant_id": "m2"}, token="admb"), 403)
        self.assertIn("merchant", err["message"])
        other = self.post_job({})
        self.assertError(self.s.get("/v1/admin/jobs/" + other, token="admb"), 404, "not_found")
        self.assertError(self.s.request("DELETE", "/v1/admin/jobs/" + other, token="admb"), 404, "not_found")

    def test_strict_params(self):
        for body, status, field in (({"x": 1}, 400, "x"), ({"since": "a"}, 400, "since"),
                                    ({"until": -1}, 400, "until"), ({"since": T0, "until": T0 - 1}, 400, "until"),
                                    ({"sources": "x"}, 400, "sources"), ({"sources": {"returns.lua": 1}}, 400,
                                                                         "sources.returns.lua"),
                                    ({"sources": {}, "version": "a" * 64}, 400, "version"),
                                    ({"version": "nope"}, 400, "version"), ({"merchant_id": "bad id"}, 400,
                                                                            "merchant_id")):
            with self.subTest(body=body):
                err = self.assertError(self.s.post("/v1/admin/jobs/replay", body), status)
                self.assertEqual(err.get("field"), field, err)
        self.assertError(self.s.post("/v1/admin/jobs/replay", {"version": "a" * 64}), 404, "not_found")
        job = self.post_job({})
        for query, field in (("limit=0", "limit"), ("limit=1001", "limit"), ("after=-1", "after"),
                             ("after=x", "after"), ("page=1", "page")):
            with self.subTest(query=query):
                err = self.assertError(self.s.get("/v1/admin/jobs/%s/diffs?%s" % (job, query)), 400)
                self.assertEqual(err.get("field", err.get("parameter")), field, err)
        self.assertError(self.s.get("/v1/admin/jobs/%s?x=1" % job), 400)
        self.assertError(self.s.get("/v1/admin/jobs/J999"), 404, "not_found")
        self.assertError(self.s.request("DELETE", "/v1/admin/jobs/%s" % job, body={"x": 1}), 400, "unknown_field")

    def test_a_candidate_that_does_not_load_fails_the_job(self):
        self.three_returns()
        job = self.finished(self.post_job({"sources": {"returns.lua": "x ="}}))
        self.assertEqual(job["state"], "failed")
        self.assertIn("candidate", job["error"])

    def test_cancel_a_running_and_a_queued_job(self):
        # a candidate whose eligibility spins keeps the first job busy for a
        # while: the second waits queued behind it (one job runs at a time)
        self.make_order(order_id="o1", delivered_at=T0 - DAY, qty=40)
        for _ in range(30):
            self.open_case(type="return", order_id="o1", sku="s1", qty=1)
        slow = source(self.pdir, "returns.lua", "function M.evaluate(case, order, ctx)",
                      "function M.evaluate(case, order, ctx)\n    for _ = 1, 150000 do end")
        first = self.post_job({"sources": {"returns.lua": slow}})
        second = self.post_job({"sources": {"returns.lua": slow}})
        r = self.s.request("DELETE", "/v1/admin/jobs/" + second)
        self.assertStatus(r, 200)
        self.assertEqual(r.json["state"], "cancelled")
        self.assertStatus(self.s.request("DELETE", "/v1/admin/jobs/" + first), 200)
        job = self.finished(first)
        self.assertEqual(job["state"], "cancelled", job)
        self.assertLess(job["progress"]["done"], 30)
        self.assertEqual(self.finished(second)["progress"]["done"], 0)
        # a finished job stays as it ended
        done = self.finished(self.post_job({}))
        self.assertEqual(self.s.request("DELETE", "/v1/admin/jobs/" + done["job_id"]).json["state"], "done")

    def test_the_shadow_summary_counts_agreement_since_it_started(self):
        self.make_order(order_id="o1", delivered_at=T0 - 10 * DAY, qty=10)
        self.make_order(order_id="o2", delivered_at=T0 - 6 * HOUR, qty=10)
        self.open_case(type="return", order_id="o2", sku="s1", qty=1)  # before the shadow: not counted
        shadow = {"sources": {"merchants/m1/returns.lua": GENEROUS_M1}}
        r = self.s.post("/v1/admin/policies/shadow", shadow)
        self.assertStatus(r, 200)
        self.assertEqual(r.json["shadow"]["summary"]["evaluated"], 0)
        self.assertEqual(r.json["shadow"]["summary"]["since"], T0)
        late = self.open_case(type="return", order_id="o1", sku="s1", qty=1)  # rejected; the shadow approves
        self.assertEqual(late["decision"]["outcome"], "reject")
        self.open_case(type="return", order_id="o2", sku="s1", qty=1)  # both approve, same reason
        self.open_case(type="return", order_id="o2", sku="s1", qty=1)
        self.open_case(type="complaint", order_id="o1", reason="attitude")  # not decided: not counted
        summary = self.s.get("/v1/admin/policies").json["shadow"]["summary"]
        self.assertEqual((summary["evaluated"], summary["agreed"], summary["errors"]), (3, 2, 0), summary)
        self.assertAlmostEqual(summary["agreement_rate"], 2 / 3, places=6)
        self.assertEqual(summary["by_module"]["eligibility"]["agreed"], 2)
        # a new shadow starts counting again; a stopped one has no summary
        self.s.advance(HOUR)
        again = self.s.post("/v1/admin/policies/shadow", shadow).json["shadow"]["summary"]
        self.assertEqual((again["evaluated"], again["since"]), (0, T0 + HOUR))
        self.assertNotIn("shadow", self.s.request("DELETE", "/v1/admin/policies/shadow").json)

    def test_loop_lag_metrics_are_a_histogram_and_gauges(self):
        samples, types = parse_metrics(self.s.get("/metrics").raw.decode())
        self.assertEqual(types["aftersale_loop_lag_seconds"], "histogram")
        self.assertEqual(types["aftersale_loop_lag_last_seconds"], "gauge")
        self.assertEqual(types["aftersale_loop_lag_max_seconds"], "gauge")
        buckets = sorted((float(dict(l)["le"]), v) for (n, l), v in samples.items()
                         if n == "aftersale_loop_lag_seconds_bucket")
        self.assertEqual(buckets[-1][0], float("inf"))
        self.assertEqual([v for _, v in buckets], sorted(v for _, v in buckets), "buckets are cumulative")
        self.assertEqual(buckets[-1][1], samples[("aftersale_loop_lag_seconds_count", frozenset())])
        self.assertGreaterEqual(samples[("aftersale_loop_lag_max_seconds", frozenset())],
                                samples[("aftersale_loop_lag_last_seconds", frozenset())])


class Seeder(ServerTestCase):
    def setUp(self):
        self.data = tempfile.mkdtemp(prefix="as-seed-")
        self.addCleanup(subprocess.run, ["rm", "-rf", self.data])

    def seed(self, *args):
        out = subprocess.run([BINARY, "seed", "--data", os.path.join(self.data, "db"), "--policies", POLICIES,
                              "--now", str(T0), *args], capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        return out.stdout

    def test_seed_writes_n_cases_the_api_then_lists_and_reads(self):
        import json
        report = json.loads(self.seed("--cases", "60", "--days", "10", "--merchants", "3", "--agents", "8"))
        self.assertEqual(report["cases"], 60)
        self.assertEqual(report["refused"], {})
        s = Server(data=self.data).start()
        self.addCleanup(stop_and_check, self, s)
        cases, cursor = [], None
        while True:
            page = s.get("/v1/cases?limit=200" + ("&cursor=" + cursor if cursor else "")).json
            cases += page["cases"]
            cursor = page["next_cursor"]
            if not cursor:
                break
        opened = [c for c in cases if not c.get("followup")]
        self.assertEqual(len(cases), report["next_case"] - 1)
        self.assertGreaterEqual(len(opened), 60)
        self.assertTrue({c["merchant_id"] for c in cases} <= {"m-001", "m-002", "m-003"})
        self.assertTrue(all(T0 - 10 * DAY <= c["created_at"] <= T0 + 60 for c in cases))
        self.assertGreater(len({c["status"] for c in cases}), 2, "cases in several states of their life")
        one = s.get("/v1/cases/" + cases[-1]["case_id"])
        self.assertStatus(one, 200)
        timeline = s.get("/v1/cases/%s/timeline" % cases[-1]["case_id"]).json["events"]
        self.assertEqual(timeline[0]["type"], "case.created")
        self.assertStatus(s.get("/v1/reports/kpi"), 200)
        # a second start reads it as it is: nothing to upgrade
        self.assertEqual(s.stop(), 0)
        s.start()
        with open(s.log_path) as f:
            self.assertNotIn("data upgraded", f.read())

    def test_a_second_seed_numbers_on(self):
        import json
        first = json.loads(self.seed("--cases", "10", "--days", "5"))
        second = json.loads(self.seed("--cases", "10", "--days", "5", "--seed", "2"))
        self.assertEqual(second["first_case"], first["next_case"])

    def test_bad_flags_are_a_usage_error(self):
        for args in ((), ("--cases", "x"), ("--cases", "5", "--days", "0"), ("--cases", "5", "--bogus", "1")):
            with self.subTest(args=args):
                out = subprocess.run([BINARY, "seed", "--data", os.path.join(self.data, "db"), *args],
                                     capture_output=True, text=True, timeout=30)
                self.assertEqual(out.returncode, 2, out)
                self.assertIn("usage", out.stderr)


def stop_and_check(test, server):
    if server.proc is not None:
        test.assertEqual(server.stop(), 0, server.tail())
    server.cleanup()


if __name__ == "__main__":
    main()

"""Admin surface end to end: /healthz, /metrics, the policy set's description,
reload (unchanged, changed, syntax error, failing policy tests), dry-run,
replay, and the manual clock's endpoint.

Reload tests run on a copy of the policies dir so they can edit files.
"""
import hashlib
import os
import re
import shutil

from harness import DAY, HOUR, POLICIES, Server, ServerTestCase, T0, main, order_body, policies_copy

HEX64 = re.compile(r"^[0-9a-f]{64}$")
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{((?:[a-zA-Z_]\w*="(?:[^"\\\n]|\\.)*",?)*)\})? (\S+)$')


def parse_metrics(text):
    """Prometheus text -> {(name, frozenset(labels)): value}; asserts the format:
    every family has HELP and TYPE before its samples, and a histogram has
    its _bucket, _sum and _count series."""
    out = {}
    types = {}
    helps = set()
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("#"):
            parts = line.split(" ", 3)
            assert parts[1] in ("HELP", "TYPE"), line
            if parts[1] == "TYPE":
                assert parts[3] in ("counter", "gauge", "histogram", "summary", "untyped"), line
                types[parts[2]] = parts[3]
            else:
                helps.add(parts[2])
            continue
        m = SAMPLE.match(line)
        assert m, "not a Prometheus sample line: %r" % line
        family = re.sub(r"_(bucket|sum|count)$", "", m.group(1)) if m.group(1) not in types else m.group(1)
        assert family in types and family in helps, "no HELP/TYPE before %r" % line
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        out[(m.group(1), labels)] = float(m.group(4))
    for family, kind in types.items():
        if kind == "histogram":
            for part in ("_bucket", "_sum", "_count"):
                assert any(n == family + part for n, _ in out), "histogram %s has no %s" % (family, part)
    return out, types


def lab(**kw):
    return frozenset(kw.items())


def version_of(files):
    """The documented content hash: SHA-256 over the sorted files, each
    `path NUL content NUL` (docs/policy-host.md)."""
    h = hashlib.sha256()
    for path in sorted(files):
        h.update(path.encode() + b"\0" + files[path] + b"\0")
    return h.hexdigest()


def policy_files(d):
    files = {}
    for root, dirs, names in os.walk(d):
        rel = os.path.relpath(root, d)
        if rel.split(os.sep)[0] == "tests":
            continue
        for n in names:
            if n.endswith(".lua"):
                p = os.path.normpath(os.path.join(rel, n))
                with open(os.path.join(root, n), "rb") as f:
                    files[p] = f.read()
    return files


class AdminTest(ServerTestCase):
    def setUp(self):
        self.pdir = policies_copy(self)
        self.s = Server(policies=self.pdir).start()
        self.addCleanup(self.s.cleanup)
        self.addCleanup(self.stop_cleanly, self.s)

    def edit(self, name, fn):
        p = os.path.join(self.pdir, name)
        with open(p, encoding="utf-8") as f:
            src = f.read()
        new = fn(src)
        assert new != src
        with open(p, "w", encoding="utf-8") as f:
            f.write(new)
        return new

    def policies(self):
        r = self.s.get("/v1/admin/policies")
        self.assertStatus(r, 200)
        return r.json

    def return_case(self, order_id="o1", **kw):
        if self.s.get("/v1/orders/" + order_id).status == 404:
            self.make_order(order_id=order_id)
        return self.open_case(type="return", order_id=order_id, **kw)

    def metrics(self):
        r = self.s.get("/metrics", token=None)
        self.assertStatus(r, 200)
        self.assertTrue(r.headers["content-type"].startswith("text/plain"), r.headers)
        return parse_metrics(r.raw.decode())

    # ---- health and metrics ---------------------------------------------------------

    def test_healthz(self):
        r = self.s.get("/healthz", token=None)
        self.assertStatus(r, 200)
        self.assertEqual(r["status"], "ok")
        self.assertRegex(r["version"], HEX64)
        self.assertEqual(r["version"], self.policies()["version"])
        self.assertEqual(r["now"], T0)
        self.assertEqual(self.s.get("/healthz", token="nope").status, 200)

    def test_metrics_count_requests_by_route_and_status(self):
        self.make_order()
        self.s.get("/v1/orders/o1")
        self.s.get("/v1/orders/o1")
        self.s.get("/v1/orders/none")
        self.s.post("/v1/orders", raw_body=b"{")
        self.s.get("/v1/no-such-route")
        self.s.get("/v1/orders/o1", token=None)
        self.return_case()
        m, types = self.metrics()
        req = "aftersale_http_requests_total"
        self.assertEqual(types.get(req), "counter")
        self.assertEqual(m[(req, lab(route="POST /v1/orders", status="201"))], 1)
        self.assertEqual(m[(req, lab(route="POST /v1/orders", status="400"))], 1)
        self.assertEqual(m[(req, lab(route="GET /v1/orders/{id}", status="200"))], 3)  # + return_case's probe
        self.assertEqual(m[(req, lab(route="GET /v1/orders/{id}", status="404"))], 1)
        self.assertEqual(m[(req, lab(route="GET /v1/orders/{id}", status="401"))], 1)
        self.assertEqual(m[(req, lab(route="POST /v1/cases", status="201"))], 1)
        # an unknown route is counted too, under one label (not one per path)
        self.assertEqual(sum(v for (n, l), v in m.items() if n == req and ("status", "404") in l), 2)
        # the store: commits and the batches-per-commit histogram
        commits = m[("aftersale_store_commits_total", lab())]
        self.assertGreaterEqual(commits, 2)  # the order and the case
        self.assertGreaterEqual(m[("aftersale_store_batches_total", lab())], 2)
        hist = {dict(l)["le"]: v for (n, l), v in m.items()
                if n == "aftersale_store_batches_per_commit_bucket"}
        self.assertIn("+Inf", hist)
        self.assertEqual(hist["+Inf"], commits)
        les = sorted((float(k), v) for k, v in hist.items())
        self.assertEqual([v for _, v in les], sorted(v for _, v in les), "buckets are cumulative")
        self.assertEqual(types.get("aftersale_store_batches_per_commit"), "histogram")
        batches_in_commits = m[("aftersale_store_batches_per_commit_sum", lab())]
        self.assertGreaterEqual(batches_in_commits, commits)  # at least one batch per commit
        # the policies: calls and the time they took
        self.assertGreaterEqual(m[("aftersale_policy_calls_total", lab())], 3)
        self.assertGreater(m[("aftersale_policy_call_seconds_total", lab())], 0)
        self.assertEqual(types.get("aftersale_policy_calls_total"), "counter")

    def test_metrics_counters_never_go_down(self):
        self.return_case()
        m1, _ = self.metrics()
        self.assertStatus(self.s.post("/v1/admin/policies/reload"), 200)
        self.return_case(order_id="o2")
        m2, _ = self.metrics()
        for (name, labels), v in m1.items():
            if name.endswith("_total") or name.endswith("_bucket") or name.endswith("_count"):
                self.assertGreaterEqual(m2.get((name, labels), -1), v, name)

    # ---- the policy set's description ------------------------------------------------

    def test_policies_description(self):
        d = self.policies()
        self.assertRegex(d["version"], HEX64)
        self.assertIsInstance(d["loaded_at"], int)
        on_disk = policy_files(self.pdir)
        self.assertEqual(sorted(f["name"] for f in d["files"]), sorted(on_disk))
        for f in d["files"]:
            self.assertEqual(f["sha256"], hashlib.sha256(on_disk[f["name"]]).hexdigest(), f["name"])
        self.assertEqual(d["version"], version_of(on_disk))
        # the same files elsewhere are the same version (content, not path or time)
        s2 = Server(policies=POLICIES).start()
        self.addCleanup(s2.cleanup)
        self.assertEqual(s2.get("/v1/admin/policies")["version"], d["version"])

    # ---- reload ---------------------------------------------------------------------

    def test_reload_unchanged_keeps_the_version(self):
        before = self.policies()
        self.s.advance(3600)
        r = self.s.post("/v1/admin/policies/reload")
        self.assertStatus(r, 200)
        self.assertEqual(r["version"], before["version"])
        self.assertEqual(r["files"], before["files"])
        self.assertEqual(r["loaded_at"], T0 + 3600, "loaded_at follows the server clock")
        self.assertEqual(self.policies()["version"], before["version"])

    def test_reload_changed_file_serves_the_new_version(self):
        old = self.policies()
        c_old = self.return_case()
        self.assertEqual(c_old["decision"]["policy_version"], old["version"])
        self.edit("returns.lua", lambda s: s + "\n-- reviewed 2026-11-02\n")
        r = self.s.post("/v1/admin/policies/reload")
        self.assertStatus(r, 200)
        new = r["version"]
        self.assertRegex(new, HEX64)
        self.assertNotEqual(new, old["version"])
        self.assertEqual(new, version_of(policy_files(self.pdir)))
        changed = {f["name"] for f in r["files"]} - {(f["name"]) for f in old["files"]}
        self.assertEqual(changed, set())
        diff = [f["name"] for f, g in zip(sorted(r["files"], key=lambda f: f["name"]),
                                          sorted(old["files"], key=lambda f: f["name"])) if f != g]
        self.assertEqual(diff, ["returns.lua"])
        self.assertEqual(self.policies()["version"], new)
        self.assertEqual(self.s.get("/healthz", token=None)["version"], new)
        c_new = self.return_case(order_id="o2")
        self.assertEqual(c_new["decision"]["policy_version"], new)
        # the old case keeps the version that decided it
        self.assertEqual(self.s.get("/v1/cases/" + c_old["case_id"])["decision"]["policy_version"], old["version"])

    def test_reload_changes_behaviour(self):
        self.make_order(order_id="o1", delivered_at=T0 - 5 * DAY, qty=3)
        self.assertEqual(self.open_case(type="return", order_id="o1", qty=1)["decision"]["outcome"], "approve")
        # a stricter no-reason window also needs its tests updated, or the reload is refused
        self.edit("returns.lua", lambda s: s.replace("M.RETURN_WINDOW_DAYS = 7", "M.RETURN_WINDOW_DAYS = 3"))
        r = self.s.post("/v1/admin/policies/reload")
        self.assertError(r, 422, "policy_rejected")
        self.assertEqual(self.open_case(type="return", order_id="o1", qty=1)["decision"]["outcome"], "approve")
        shutil.rmtree(os.path.join(self.pdir, "tests"))
        r = self.s.post("/v1/admin/policies/reload")
        self.assertStatus(r, 200)
        c = self.open_case(type="return", order_id="o1", qty=1)
        self.assertEqual(c["decision"]["outcome"], "reject", c)
        self.assertEqual(c["decision"]["reason_code"], "window_expired")
        self.assertEqual(c["decision"]["policy_version"], r["version"])

    def test_reload_with_a_syntax_error_is_422_and_the_old_version_serves(self):
        old = self.policies()
        src = self.edit("returns.lua", lambda s: s.replace("local DAY = 86400", "local DAY = = 86400"))
        line = src.splitlines().index("local DAY = = 86400") + 1
        r = self.s.post("/v1/admin/policies/reload")
        err = self.assertError(r, 422, "policy_rejected")
        self.assertEqual(err["file"], "returns.lua")
        self.assertEqual(err["line"], line)
        self.assertEqual(err["version"], old["version"])
        self.assertIn("returns.lua:%d" % line, err["message"])
        self.assertEqual(self.policies(), old)
        c = self.return_case()
        self.assertEqual(c["decision"]["policy_version"], old["version"])
        self.assertEqual(c["decision"]["outcome"], "approve")

    def test_reload_with_a_runtime_error_at_load_is_422(self):
        old = self.policies()
        src = self.edit("routing.lua", lambda s: s.replace("local M = {}", "local M = {}\nerror('boom')", 1))
        r = self.s.post("/v1/admin/policies/reload")
        err = self.assertError(r, 422, "policy_rejected")
        self.assertEqual(err["file"], "routing.lua")
        self.assertEqual(err["line"], src.splitlines().index("error('boom')") + 1)
        self.assertIn("boom", err["message"])
        self.assertEqual(self.policies()["version"], old["version"])
        self.assertEqual(self.return_case()["queue"], "after_sales")

    def test_reload_errors_without_a_line_still_name_the_file(self):
        old = self.policies()
        self.edit("sla.lua", lambda s: s.replace('"09:00"', '"9 o\'clock"', 1))
        err = self.assertError(self.s.post("/v1/admin/policies/reload"), 422, "policy_rejected")
        self.assertEqual(err["file"], "sla.lua", err)
        self.assertEqual(self.policies()["version"], old["version"])

    def test_reload_with_a_failing_policy_test_is_422(self):
        old = self.policies()
        with open(os.path.join(self.pdir, "tests", "zz_fail_test.lua"), "w") as f:
            f.write('test("returns are never approved", function()\n'
                    '    eq(policy.returns.RETURN_WINDOW_DAYS, 0)\nend)\n')
        r = self.s.post("/v1/admin/policies/reload")
        err = self.assertError(r, 422, "policy_rejected")
        self.assertEqual(err["version"], old["version"])
        self.assertIn("returns are never approved", err["message"])
        # file and line of the failing assertion
        self.assertEqual((err["file"], err["line"]), ("tests/zz_fail_test.lua", 2), err)
        self.assertEqual(self.policies()["version"], old["version"])
        # fixed: the reload goes through; tests are not part of the version
        os.remove(os.path.join(self.pdir, "tests", "zz_fail_test.lua"))
        r = self.s.post("/v1/admin/policies/reload")
        self.assertStatus(r, 200)
        self.assertEqual(r["version"], old["version"])

    # ---- dry-run --------------------------------------------------------------------

    def feed(self):
        return self.s.get("/v1/events?limit=1000")["events"]

    def test_dry_run_decides_and_stores_nothing(self):
        self.return_case()  # something stored already
        cases_before = self.s.get("/v1/cases").json
        feed_before = self.feed()
        order_before = self.s.get("/v1/orders/o1").json
        metrics_commits = self.metrics()[0][("aftersale_store_commits_total", lab())]
        body = {"case": {"type": "return", "reason": "no_reason", "sku": "s1", "qty": 1, "order_id": "o1",
                         "channel": "app", "opened": False},
                "order": order_body()}
        r = self.s.post("/v1/admin/policies/dry-run", body)
        self.assertStatus(r, 200)
        self.assertEqual(r["eligibility"]["outcome"], "approve", r)
        self.assertEqual(r["policy_version"], self.policies()["version"])
        self.assertEqual(r["routing"]["queue"], "after_sales")
        self.assertIn("sla", r.json)
        late = dict(body, order=order_body(delivered_at=T0 - 30 * DAY))
        r2 = self.s.post("/v1/admin/policies/dry-run", late)
        self.assertEqual(r2["eligibility"]["outcome"], "reject", r2)
        self.assertEqual(r2["eligibility"]["reason_code"], "window_expired")
        # nothing stored
        self.assertEqual(self.s.get("/v1/cases").json, cases_before)
        self.assertEqual(self.feed(), feed_before)
        self.assertEqual(self.s.get("/v1/orders/o1").json, order_before)
        self.assertEqual(self.metrics()[0][("aftersale_store_commits_total", lab())], metrics_commits)

    def test_dry_run_with_candidate_sources(self):
        self.make_order()
        active = self.policies()["version"]
        with open(os.path.join(self.pdir, "returns.lua")) as f:
            src = f.read()
        strict = src.replace("M.RETURN_WINDOW_DAYS = 7", "M.RETURN_WINDOW_DAYS = 1")
        body = {"case": {"type": "return", "reason": "no_reason", "sku": "s1", "qty": 1},
                "order": order_body(), "sources": {"returns.lua": strict}}
        r = self.s.post("/v1/admin/policies/dry-run", body)
        self.assertStatus(r, 200)
        self.assertEqual(r["eligibility"]["outcome"], "reject", r)
        self.assertNotEqual(r["policy_version"], active)
        # the candidate is not enforced and not kept
        self.assertEqual(self.policies()["version"], active)
        self.assertEqual(self.open_case(type="return", order_id="o1")["decision"]["outcome"], "approve")
        self.assertEqual(self.s.get("/v1/cases")["cases"][0]["decision"]["policy_version"], active)
        # a broken candidate is 422 with its line
        bad = {"case": body["case"], "order": body["order"], "sources": {"returns.lua": "return {"}}
        err = self.assertError(self.s.post("/v1/admin/policies/dry-run", bad), 422, "policy_rejected")
        self.assertEqual(err["file"], "returns.lua")
        self.assertEqual(err["line"], 1)
        self.assertEqual(err["version"], active)

    def test_dry_run_validates_its_input(self):
        case = {"type": "return", "reason": "no_reason", "sku": "s1"}
        for body, field in (({"order": order_body()}, "case.type"),
                            ({"case": {"type": "nonsense"}}, "case.type"),
                            ({"case": {"type": "return"}, "order": "o1"}, "order"),
                            ({"case": {"type": "return"}, "sources": ["x"]}, "sources"),
                            # the case and the order go through POST /v1/cases' and /v1/orders' own checks
                            ({"case": dict(case, photos=list(range(100000))), "order": order_body()}, "case.photos"),
                            ({"case": dict(case, channel="fax"), "order": order_body()}, "case.channel"),
                            ({"case": dict(case, qty=9), "order": order_body()}, "case.qty"),
                            ({"case": dict(case, colour="red"), "order": order_body()}, "case.colour"),
                            ({"case": case, "order": dict(order_body(), shipping_cents=-1)}, "order.shipping_cents"),
                            ({"case": case}, "order")):
            with self.subTest(body=body):
                r = self.s.post("/v1/admin/policies/dry-run", body)
                self.assertEqual(r.status, 400, r)
                self.assertEqual(r.json["error"]["field"], field)

    # ---- replay ---------------------------------------------------------------------

    def test_replay_with_candidate_sources_reports_diffs(self):
        self.make_order(order_id="o1", delivered_at=T0 - 2 * DAY)
        self.make_order(order_id="o2", delivered_at=T0 - 6 * HOUR)
        c1 = self.open_case(type="return", order_id="o1")
        c2 = self.open_case(type="return", order_id="o2")
        self.open_case(type="complaint", order_id="o1", reason="attitude")  # no decision: not replayed
        self.assertEqual((c1["decision"]["outcome"], c2["decision"]["outcome"]), ("approve", "approve"))
        with open(os.path.join(self.pdir, "returns.lua")) as f:
            src = f.read()
        strict = src.replace("M.RETURN_WINDOW_DAYS = 7", "M.RETURN_WINDOW_DAYS = 1")
        feed_before = self.feed()
        r = self.s.post("/v1/admin/policies/replay", {"sources": {"returns.lua": strict}})
        self.assertStatus(r, 200)
        self.assertEqual(r["evaluated"], 2)
        self.assertEqual(r["changed"], 1)
        self.assertEqual(len(r["diffs"]), 1)
        d = r["diffs"][0]
        self.assertEqual(d["case_id"], c1["case_id"])
        self.assertEqual(d["before"]["outcome"], "approve")
        self.assertEqual(d["after"]["outcome"], "reject")
        self.assertEqual(d["after"]["reason_code"], "window_expired")
        # replay changes no case and writes nothing
        self.assertEqual(self.s.get("/v1/cases/" + c1["case_id"])["decision"], c1["decision"])
        self.assertEqual(self.feed(), feed_before)
        self.assertEqual(self.policies()["version"], c1["decision"]["policy_version"])
        # unchanged sources: nothing changes
        r = self.s.post("/v1/admin/policies/replay", {"sources": {}})
        self.assertStatus(r, 200)
        self.assertEqual((r["evaluated"], r["changed"], r["diffs"]), (2, 0, []))
        # limit
        r = self.s.post("/v1/admin/policies/replay", {"sources": {"returns.lua": strict}, "limit": 1})
        self.assertEqual(r["evaluated"], 1)
        # a broken candidate is refused
        r = self.s.post("/v1/admin/policies/replay", {"sources": {"returns.lua": "x ="}})
        self.assertError(r, 422, "policy_rejected")

    def test_replay_since_limits_to_newer_cases(self):
        self.make_order(order_id="o1", delivered_at=T0 - 2 * DAY)
        old = self.open_case(type="return", order_id="o1", qty=1)
        self.s.advance(DAY)
        new = self.open_case(type="return", order_id="o1", qty=1)
        r = self.s.post("/v1/admin/policies/replay", {"sources": {"returns.lua": "local M = {}\n"
                        "function M.evaluate() return {outcome='review', reason_code='x', message='x: x'} end\n"
                        "return M\n"}, "since": T0 + HOUR})
        self.assertStatus(r, 200)
        self.assertEqual((r["evaluated"], r["changed"]), (1, 1), r)
        self.assertEqual(r["diffs"][0]["case_id"], new["case_id"])
        self.assertNotEqual(old["case_id"], new["case_id"])
        for body, field in (({"limit": 0}, "limit"), ({"limit": "5"}, "limit"), ({"since": -1}, "since"),
                            ({"sources": "x"}, "sources")):
            with self.subTest(body=body):
                err = self.assertError(self.s.post("/v1/admin/policies/replay", body), 400, "invalid_field")
                self.assertEqual(err["field"], field)

    def test_replay_without_sources_replays_the_set_being_served(self):
        # the directory edited after the reload (not reloaded) is not the
        # active set: a replay without sources re-decides with what is served
        self.make_order(order_id="o1", delivered_at=T0 - 2 * DAY)
        self.open_case(type="return", order_id="o1", qty=1)
        active = self.s.get("/v1/admin/policies")["version"]
        with open(os.path.join(self.pdir, "returns.lua"), "w") as f:
            f.write("local M = {}\n"
                    "function M.evaluate() return {outcome='review', reason_code='x', message='x: x'} end\n"
                    "return M\n")
        r = self.s.post("/v1/admin/policies/replay", {})
        self.assertStatus(r, 200)
        self.assertEqual((r["evaluated"], r["changed"], r["policy_version"]), (1, 0, active), r)

    def test_replay_decides_as_of_each_cases_creation(self):
        # a case approved inside the window still replays as approved long after
        self.make_order(order_id="o1", delivered_at=T0 - 2 * DAY)
        self.open_case(type="return", order_id="o1")
        self.s.advance(30 * DAY)
        r = self.s.post("/v1/admin/policies/replay", {"sources": {}})
        self.assertStatus(r, 200)
        self.assertEqual((r["evaluated"], r["changed"]), (1, 0), r)

    def test_replay_counts_only_the_returns_a_case_saw(self):
        # a buyer's 7 returns: the 6th and 7th went to review, the first 5 did
        # not; replaying the unchanged set must change none of them, even with
        # returns that came after each one (a same-second burst included)
        self.make_order(order_id="o1", delivered_at=T0 - DAY, qty=9)
        outcomes = []
        for i in range(7):
            outcomes.append(self.open_case(type="return", order_id="o1", qty=1)["decision"]["outcome"])
            if i % 2:
                self.s.advance(60)
        self.assertEqual(outcomes, ["approve"] * 5 + ["review"] * 2)
        r = self.s.post("/v1/admin/policies/replay", {"sources": {}})
        self.assertStatus(r, 200)
        self.assertEqual((r["evaluated"], r["changed"]), (7, 0), r)

    def test_dry_run_uses_the_buyer_details_of_the_order_it_is_given(self):
        body = {"case": {"type": "return", "reason": "no_reason", "sku": "s1", "qty": 1, "channel": "app",
                         "opened": False},
                "order": order_body(order_id="not-stored", buyer={"tier": "vip"})}
        r = self.s.post("/v1/admin/policies/dry-run", body)
        self.assertStatus(r, 200)
        self.assertEqual(r["routing"]["priority"], 1, r)  # the VIP lane, as a stored order would give

    # ---- the clock ------------------------------------------------------------------

    def test_clock_endpoint(self):
        self.assertEqual(self.s.post("/v1/admin/clock", {"advance": 60})["now"], T0 + 60)
        self.assertEqual(self.s.post("/v1/admin/clock", {"set": T0 + DAY})["now"], T0 + DAY)
        self.assertEqual(self.s.get("/healthz", token=None)["now"], T0 + DAY)
        for body in ({}, {"advance": 1, "set": T0}, {"advance": -5}, {"advance": 1.5}, {"set": "x"}):
            with self.subTest(body=body):
                self.assertError(self.s.post("/v1/admin/clock", body), 400, "invalid_field")
        self.assertEqual(self.s.get("/healthz", token=None)["now"], T0 + DAY)

    def test_clock_endpoint_without_manual_clock_is_404(self):
        s = Server(manual_clock=False, policies=self.pdir).start()
        self.addCleanup(s.cleanup)
        err = self.assertError(s.post("/v1/admin/clock", {"advance": 3600}), 404, "not_found")
        self.assertIn("manual", err["message"])
        self.assertError(s.post("/v1/admin/clock", {"set": T0}), 404, "not_found")
        self.assertNotEqual(s.get("/healthz", token=None)["now"], T0)
        # still admin-only before anything else
        self.assertError(s.post("/v1/admin/clock", {"advance": 1}, token="svc1"), 403, "forbidden")


if __name__ == "__main__":
    main()

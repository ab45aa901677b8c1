"""`aftersaled policy ...` from a shell (issue 12): eval opens a case on a
local policy set with no server (the domain's own operation); dry-run,
replay, reload and show ask a running server named by AFTERSALE_URL with the
token in AFTERSALE_TOKEN, send a directory's policy files as the candidate,
and print readable lines (or the answer with --json); the exit status says
whether the server or the policies refused."""
import json
import os
import subprocess
import tempfile

from harness import BINARY, DAY, T0, ServerTestCase, main, order_body, policies_copy


class CliTest(ServerTestCase):

    def setUp(self):
        self.pdir = policies_copy(self)
        self.server_kwargs = {"policies": self.pdir}
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix="as-cli-")
        self.case = self.write("case.json", {"type": "return", "order_id": "o1", "reason": "no_reason",
                                             "channel": "app", "sku": "s1"})
        self.order = self.write("order.json", order_body())

    def write(self, name, doc):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            json.dump(doc, f)
        return path

    def cli(self, *args, env=None):
        e = dict(os.environ, AFTERSALE_URL="http://127.0.0.1:%d" % self.s.port, AFTERSALE_TOKEN="adm")
        e.update(env or {})
        return subprocess.run([BINARY, "policy"] + list(args), capture_output=True, text=True, env=e, timeout=60)

    def test_eval_runs_the_opening_here(self):
        r = self.cli("eval", "--case", self.case, "--order", self.order, "--policies", self.pdir, "--now", str(T0))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("decision approve  no_reason_return", r.stdout)
        self.assertIn("returns.evaluate", r.stdout)
        self.assertIn("routing  queue after_sales, priority 3", r.stdout)
        late = self.write("late.json", order_body(delivered_at=T0 - 30 * DAY))
        r = self.cli("eval", "--case", self.case, "--order", late, "--policies", self.pdir, "--now", str(T0), "--json")
        self.assertEqual(json.loads(r.stdout)["eligibility"]["reason_code"], "window_expired")
        # a bad case names its field, and the exit status says so
        bad = self.write("bad.json", {"type": "return", "order_id": "o1", "reason": "bored", "channel": "app"})
        r = self.cli("eval", "--case", bad, "--order", self.order, "--policies", self.pdir)
        self.assertEqual(r.returncode, 1)
        self.assertIn("reason", r.stderr)

    def test_dry_run_sends_a_directory_as_the_candidate(self):
        r = self.cli("dry-run", "--case", self.case, "--order", self.order)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("decision approve", r.stdout)
        cand = policies_copy(self)
        with open(os.path.join(cand, "returns.lua")) as f:
            src = f.read()
        with open(os.path.join(cand, "returns.lua"), "w") as f:
            f.write(src.replace("M.RETURN_WINDOW_DAYS = 7", "M.RETURN_WINDOW_DAYS = 1"))
        r = self.cli("dry-run", "--case", self.case, "--order", self.order, "--sources", cand, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["eligibility"]["outcome"], "reject")
        # a broken candidate: 422 from the server, exit 1 with the server's message
        with open(os.path.join(cand, "routing.lua"), "w") as f:
            f.write("return {")
        r = self.cli("dry-run", "--case", self.case, "--order", self.order, "--sources", cand)
        self.assertEqual(r.returncode, 1)
        self.assertIn("422 policy_rejected", r.stderr)

    def test_replay_reload_show_and_a_missing_token(self):
        self.make_order()
        self.open_case(type="return", order_id="o1")
        r = self.cli("replay")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("1 evaluated, 0 changed", r.stdout)
        r = self.cli("show")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("returns.lua", r.stdout)
        version = self.s.get("/v1/admin/policies")["version"]
        self.assertIn(version, r.stdout)
        r = self.cli("reload")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.cli("show", env={"AFTERSALE_TOKEN": ""})
        self.assertEqual(r.returncode, 2)
        self.assertIn("AFTERSALE_TOKEN", r.stderr)
        r = self.cli("show", env={"AFTERSALE_TOKEN": "nope"})
        self.assertEqual(r.returncode, 1)
        self.assertIn("401 unauthorized", r.stderr)
        r = self.cli("teleport")
        self.assertEqual(r.returncode, 2)


    # ---- versions, push, activate VERSION, rollback; policy test FILE --filter ----

    def test_push_activate_versions_rollback(self):
        v1 = self.s.get("/v1/admin/policies").json["version"]
        cand = policies_copy(self)
        with open(os.path.join(cand, "routing.lua"), "a") as f:
            f.write("-- pushed from a shell\n")
        r = self.cli("push", "--sources", cand)
        self.assertEqual(r.returncode, 0, r.stderr)
        v2 = r.stdout.split("version ")[-1].split()[0]
        self.assertEqual(len(v2), 64, r.stdout)
        r = self.cli("activate", v2)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("active   " + v2, r.stdout)
        self.assertIn("previous " + v1, r.stdout)
        self.assertIn(" passed, 0 failed", r.stdout)
        r = self.cli("versions")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith("* " + v2[:12]), r.stdout)
        self.assertIn("activate", r.stdout)
        r = self.cli("rollback", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["version"], v1)
        r = self.cli("activate", "f" * 64)
        self.assertEqual(r.returncode, 1)
        self.assertIn("404 not_found", r.stderr)

    def test_policy_test_one_file_and_a_filter(self):
        with open(os.path.join(self.pdir, "tests", "z_test.lua"), "w") as f:
            f.write("test('alpha fails', function() eq(1, 2) end)\ntest('beta fails', function() ok(nil) end)\n")
        r = subprocess.run([BINARY, "policy", "test", os.path.join(self.pdir, "tests", "z_test.lua")],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 1)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[-1], "0 passed, 2 failed")  # every failure, then the summary alone
        self.assertEqual(len([x for x in lines if x.startswith("not ok - tests/z_test.lua")]), 2)
        self.assertIn("2 of 2 policy tests failed", r.stderr)
        r = subprocess.run([BINARY, "policy", "test", self.pdir, "--filter", "beta"], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.stdout.splitlines()[-1], "0 passed, 1 failed")
        r = subprocess.run([BINARY, "policy", "test", self.pdir, "--filter", "window"], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertRegex(r.stdout.splitlines()[-1], r"^[1-9]\d* passed, 0 failed$")


if __name__ == "__main__":
    main()

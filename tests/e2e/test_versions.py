"""Policy versions end to end (issue 12): every loaded set kept with its files,
listed, activated, rolled back; the log and the events feed record each
activation with who did it; a refused reload lists every failing test; strict
loading refuses mistakes; a restart serves the version that was active unless
the directory was edited since.
"""
import json
import os
import shutil

from harness import Server, ServerTestCase, main, order_body, policies_copy



def edit(path, old, new):
    with open(path) as f:
        src = f.read()
    assert old in src, old
    with open(path, "w") as f:
        f.write(src.replace(old, new, 1))


class VersionsTest(ServerTestCase):
    def setUp(self):
        self.pol = policies_copy(self)
        self.server_kwargs = {"policies": self.pol}
        super().setUp()

    def versions(self):
        r = self.s.get("/v1/admin/policies/versions")
        self.assertStatus(r, 200)
        return r.json

    def change_rule(self):
        """A change of the goodwill for attitude complaints, with a test of its own."""
        edit(os.path.join(self.pol, "compensation.lua"), "M.ATTITUDE_COUPON_CENTS = 1000",
             "M.ATTITUDE_COUPON_CENTS = 1000 + 0")
        with open(os.path.join(self.pol, "tests", "zz_change_test.lua"), "w") as f:
            f.write("test('the attitude coupon', function() eq(policy.compensation.ATTITUDE_COUPON_CENTS, 1000) end)\n")

    def test_start_keeps_the_directory_as_the_first_version(self):
        v = self.versions()
        active = self.s.get("/v1/admin/policies").json["version"]
        self.assertEqual(v["active"], active)
        self.assertIsNone(v["previous"])
        self.assertEqual(len(v["versions"]), 1)
        first = v["versions"][0]
        self.assertTrue(first["active"])
        self.assertEqual(first["loaded_by"], {"role": "system"})
        names = [f["name"] for f in first["files"]]
        self.assertIn("returns.lua", names)
        self.assertIn("tests/returns_test.lua", names)  # the tests travel with the version
        self.assertEqual(v["activations"][0]["how"], "start")
        one = self.s.get("/v1/admin/policies/versions/" + active)
        self.assertStatus(one, 200)
        src = {f["name"]: f["source"] for f in one.json["files"]}
        with open(os.path.join(self.pol, "returns.lua")) as f:
            self.assertEqual(src["returns.lua"], f.read())

    def test_reload_activate_rollback_and_the_feed(self):
        v1 = self.s.get("/v1/admin/policies").json["version"]
        self.change_rule()
        r = self.s.post("/v1/admin/policies/reload")
        self.assertStatus(r, 200)
        v2 = r.json["version"]
        self.assertNotEqual(v1, v2)
        self.assertEqual(r.json["previous"], v1)
        self.assertTrue(r.json["changed"])
        self.assertEqual(r.json["tests"]["failed"], 0)
        self.assertGreater(r.json["tests"]["passed"], 60)
        lst = self.versions()
        self.assertEqual([x["version"] for x in lst["versions"]], [v2, v1])
        self.assertEqual((lst["active"], lst["previous"]), (v2, v1))

        # roll back: the previous version, from the store (the directory still holds v2)
        r = self.s.post("/v1/admin/policies/rollback")
        self.assertStatus(r, 200)
        self.assertEqual(r.json["version"], v1)
        self.assertEqual(r.json["previous"], v2)
        self.assertEqual(self.s.get("/healthz").json["version"], v1)
        self.make_order(order_id="o1")
        c = self.open_case(type="return", order_id="o1", reason="no_reason", channel="app", opened=False)
        self.assertEqual(c["decision"]["outcome"], "approve")
        self.assertEqual(c["decision"]["policy_version"], v1)

        # activate v2 again by its version
        r = self.s.post("/v1/admin/policies/activate", {"version": v2})
        self.assertStatus(r, 200)
        self.assertEqual(self.s.get("/v1/admin/policies").json["version"], v2)
        # activating the active version changes nothing
        r = self.s.post("/v1/admin/policies/activate", {"version": v2})
        self.assertStatus(r, 200)
        self.assertFalse(r.json["changed"])

        acts = self.versions()["activations"]
        self.assertEqual([(a["how"], a["version"], a["previous"]) for a in acts[:3]],
                         [("activate", v2, v1), ("rollback", v1, v2), ("reload", v2, v1)])
        self.assertEqual(acts[0]["by"]["role"], "admin")
        self.assertEqual(len(acts[0]["by"]["token_sha256"]), 12)
        self.assertNotIn("adm", json.dumps(acts[0]["by"]["token_sha256"]))

        ev = self.s.get("/v1/events?limit=1000").json["events"]
        act = [e for e in ev if e["type"] == "policy.activated"]
        # the first version, active since the first start, replaced none: no event for it
        self.assertEqual([e["data"]["how"] for e in act], ["reload", "rollback", "activate"])
        self.assertEqual(act[-1]["data"]["previous"], v1)
        self.assertIsNone(act[-1]["merchant_id"])
        # a merchant's token does not see platform events
        ev_m = self.s.get("/v1/events?limit=1000", token="svc1").json["events"]
        self.assertFalse([e for e in ev_m if e["type"] == "policy.activated"])
        with open(self.s.log_path) as f:
            self.assertIn('"msg":"policies activated"', f.read())

    def test_errors(self):
        self.assertError(self.s.post("/v1/admin/policies/rollback"), 409, "no_previous_version")
        self.assertError(self.s.post("/v1/admin/policies/activate", {"version": "f" * 64}), 404, "not_found")
        self.assertError(self.s.post("/v1/admin/policies/activate", {"version": "nope"}), 400)
        self.assertError(self.s.post("/v1/admin/policies/activate", {}), 400)
        self.assertError(self.s.post("/v1/admin/policies/activate", {"version": "f" * 64, "x": 1}), 400)
        self.assertError(self.s.get("/v1/admin/policies/versions/" + "0" * 64), 404, "not_found")
        self.assertError(self.s.get("/v1/admin/policies/versions/xyz"), 400)
        err = self.assertError(self.s.get("/v1/admin/policies/versions?limit=0"), 400)
        self.assertIn("1 to 200", err["message"])
        self.assertError(self.s.get("/v1/admin/policies/versions?lmit=3"), 400)
        err = self.assertError(self.s.post("/v1/admin/policies/versions", {"sources": {}, "base": "dir"}), 400)
        self.assertIn("directory, active, none", err["message"])
        self.assertError(self.s.post("/v1/admin/policies/versions", {"sources": {"returns.lua": 3}}), 400)
        # reload and rollback take no body: a member is named, not ignored
        err = self.assertError(self.s.post("/v1/admin/policies/reload", {"sources": {}}), 400, "unknown_field")
        self.assertEqual(err["field"], "sources")
        err = self.assertError(self.s.post("/v1/admin/policies/rollback", {"version": "f" * 64}), 400,
                               "unknown_field")
        self.assertEqual(err["field"], "version")
        self.assertError(self.s.post("/v1/admin/policies/reload", raw_body=b"[1]"), 400, "invalid_json")
        self.assertStatus(self.s.post("/v1/admin/policies/reload", {}), 200)
        # bound to a merchant: no platform-wide policy writes
        self.assertError(self.s.post("/v1/admin/policies/rollback", token="svc1"), 403)

    def test_upload_then_shadow_by_version_then_activate(self):
        with open(os.path.join(self.pol, "returns.lua")) as f:
            src = f.read()
        cand = src.replace("function M.evaluate(case, order, ctx)\n",
                           "function M.evaluate(case, order, ctx)\n    -- candidate\n")
        r = self.s.post("/v1/admin/policies/versions", {"sources": {"returns.lua": cand}, "base": "active"})
        self.assertStatus(r, 201)
        cv = r.json["version"]
        self.assertFalse(r.json["active"])
        self.assertEqual(r.json["tests"]["failed"], 0)
        r = self.s.post("/v1/admin/policies/shadow", {"version": cv})
        self.assertStatus(r, 200)
        self.assertEqual(r.json["shadow"]["version"], cv)
        r = self.s.post("/v1/admin/policies/activate", {"version": cv})
        self.assertStatus(r, 200)
        self.assertEqual(r.json["version"], cv)
        # the whole set uploaded as is (base none): a set with no module file is its own version
        r = self.s.post("/v1/admin/policies/versions", {"sources": {"returns.lua": cand}, "base": "none"})
        self.assertStatus(r, 201)
        self.assertEqual([f["name"] for f in r.json["files"]], ["returns.lua"])

    def test_refused_reload_lists_every_failing_test(self):
        with open(os.path.join(self.pol, "tests", "z_test.lua"), "w") as f:
            f.write("test('one', function() eq(1, 2) end)\ntest('two', function() ok(false, 'second') end)\n")
        err = self.assertError(self.s.post("/v1/admin/policies/reload"), 422, "policy_rejected")
        self.assertEqual([(x["file"], x["test"]) for x in err["failures"]],
                         [("tests/z_test.lua", "one"), ("tests/z_test.lua", "two")])
        self.assertEqual(err["file"], "tests/z_test.lua")
        self.assertEqual(err["line"], 1)
        self.assertIn("2 failed", err["message"])

    def test_strict_reload_refuses_mistakes(self):
        override = "local M = {}\nfunction M.evaluate(case, order, ctx) return nil end\nreturn M\n"
        cases = [
            ("merchants/acme/return.lua", override, "unknown module 'return'"),
            ("merchants/acme/returns.lua", "local M = {}\nfunction M.evalute() end\nreturn M\n",
             "unknown function 'evalute'"),
            ("merchants/Acme/returns.lua", override, "merchants/Acme/"),
            ("merchants/returns.lua", override, "merchants/ holds one directory per merchant"),
        ]
        for rel, text, needle in cases:
            path = os.path.join(self.pol, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(text)
            err = self.assertError(self.s.post("/v1/admin/policies/reload"), 422, "policy_rejected")
            self.assertIn(needle, err["message"])
            os.remove(path)
            shutil.rmtree(os.path.join(self.pol, "merchants"), ignore_errors=True)
        # per-merchant tests run with the set
        os.makedirs(os.path.join(self.pol, "merchants", "acme", "tests"))
        with open(os.path.join(self.pol, "merchants", "acme", "returns.lua"), "w") as f:
            f.write(override)
        with open(os.path.join(self.pol, "merchants", "acme", "tests", "acme_test.lua"), "w") as f:
            f.write("test('acme answers nothing', function() eq(policy.merchant('acme').returns.evaluate("
                    "{type = 'return', reason = 'quality'}, {items = {}, paid_at = 0}, make_ctx{}), 'x') end)\n")
        err = self.assertError(self.s.post("/v1/admin/policies/reload"), 422, "policy_rejected")
        self.assertEqual(err["failures"][0]["file"], "merchants/acme/tests/acme_test.lua")


class RestartTest(ServerTestCase):
    """Which version a restart serves."""

    def setUp(self):
        self.pol = policies_copy(self)
        self.server_kwargs = {"policies": self.pol}
        super().setUp()

    def restart(self):
        self.s.stop()
        self.s = Server(data=self.s.data, policies=self.pol).start()
        self.addCleanup(self.stop_cleanly, self.s)
        return self.s.get("/v1/admin/policies").json["version"]

    def test_a_rolled_back_version_survives_a_restart(self):
        v1 = self.s.get("/v1/admin/policies").json["version"]
        edit(os.path.join(self.pol, "routing.lua"), "local M = {}\n", "local M = {}\n-- v2\n")
        v2 = self.s.post("/v1/admin/policies/reload").json["version"]
        self.assertStatus(self.s.post("/v1/admin/policies/rollback"), 200)
        # the directory still holds v2, unchanged since the server read it: v1 stays
        self.assertEqual(self.restart(), v1)
        self.assertEqual(self.s.get("/v1/admin/policies/versions").json["previous"], v2)

    def test_a_directory_edited_while_stopped_wins_if_its_tests_pass(self):
        v1 = self.s.get("/v1/admin/policies").json["version"]
        self.s.stop()
        edit(os.path.join(self.pol, "routing.lua"), "local M = {}\n", "local M = {}\n-- edited\n")
        self.s = Server(data=self.s.data, policies=self.pol).start()
        self.addCleanup(self.stop_cleanly, self.s)
        v2 = self.s.get("/v1/admin/policies").json["version"]
        self.assertNotEqual(v1, v2)
        acts = self.s.get("/v1/admin/policies/versions").json["activations"]
        self.assertEqual((acts[0]["how"], acts[0]["previous"]), ("start", v1))
        # an edit whose tests fail: the active version serves, and the log says why
        with open(os.path.join(self.pol, "tests", "z_test.lua"), "w") as f:
            f.write("test('broken', function() eq(1, 2) end)\n")
        edit(os.path.join(self.pol, "routing.lua"), "-- edited\n", "-- edited again\n")
        self.assertEqual(self.restart(), v2)
        with open(self.s.log_path) as f:
            self.assertIn("the policies directory changed but is refused", f.read())

    def test_a_directory_that_does_not_load_leaves_the_stored_version_serving(self):
        v1 = self.s.get("/v1/admin/policies").json["version"]
        self.s.stop()
        with open(os.path.join(self.pol, "routing.lua"), "w") as f:
            f.write("this is not lua\n")
        self.s = Server(data=self.s.data, policies=self.pol).start()
        self.addCleanup(self.stop_cleanly, self.s)
        self.assertEqual(self.s.get("/v1/admin/policies").json["version"], v1)
        with open(self.s.log_path) as f:
            self.assertIn("the policies directory does not load", f.read())


if __name__ == "__main__":
    main()

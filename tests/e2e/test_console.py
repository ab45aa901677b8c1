"""The console's routes: its files and /openapi.json are public and served from
memory; GET /v1/me and GET /v1/cases/{id}/actions answer for the token, with
the same tenancy as the rest of the API. (The pages themselves are tested in
Chromium: tests/browser/.)"""
import json
import os

from harness import ServerTestCase, main

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


class ConsoleFiles(ServerTestCase):
    def test_page_and_files_need_no_token(self):
        r = self.s.get("/console/", token=None)
        self.assertStatus(r, 200)
        self.assertEqual(r.headers["content-type"], "text/html; charset=utf-8")
        with open(os.path.join(ROOT, "console", "index.html"), "rb") as f:
            self.assertEqual(r.raw, f.read())
        for name, ctype in (("app.js", "text/javascript; charset=utf-8"), ("style.css", "text/css; charset=utf-8"),
                            ("uPlot.iife.min.js", "text/javascript; charset=utf-8"),
                            ("uPlot.min.css", "text/css; charset=utf-8")):
            r = self.s.get("/console/" + name, token=None)
            self.assertStatus(r, 200)
            self.assertEqual(r.headers["content-type"], ctype, name)
            self.assertGreater(len(r.raw), 100, name)

    def test_the_page_is_locked_down(self):
        r = self.s.get("/console/", token=None)
        csp = r.headers["content-security-policy"]
        self.assertIn("default-src 'self'", csp)
        self.assertIn("frame-ancestors 'none'", csp)
        self.assertNotIn("unsafe-inline", csp)
        self.assertEqual(r.headers["x-content-type-options"], "nosniff")
        self.assertEqual(r.headers["x-frame-options"], "DENY")

    def test_console_without_slash_redirects(self):
        r = self.s.get("/console", token=None)
        self.assertStatus(r, 301)
        self.assertEqual(r.headers["location"], "/console/")

    def test_only_embedded_names_are_served(self):
        for path in ("/console/nope.js", "/console/..%2Fcore%2Fmain.c", "/console/%2e%2e"):
            r = self.s.get(path, token=None)
            self.assertError(r, 404, "not_found")
        # a badly encoded name is no route at all (so it needs a token first)
        self.assertError(self.s.get("/console/index.html%00.js", token=None), 401, "unauthorized")
        # deeper paths are not the console's: like any unknown path, 401 without a token
        self.assertError(self.s.get("/console/a/b", token=None), 401, "unauthorized")

    def test_head_and_wrong_methods(self):
        r = self.s.request("HEAD", "/console/app.js", token=None)
        self.assertStatus(r, 200)
        self.assertEqual(r.raw, b"")
        r = self.s.post("/console/", {}, token=None)
        self.assertError(r, 405, "method_not_allowed")

    def test_openapi_is_public_json(self):
        r = self.s.get("/openapi.json", token=None)
        self.assertStatus(r, 200)
        self.assertEqual(r.json["openapi"], "3.1.0")
        with open(os.path.join(ROOT, "docs", "openapi.json")) as f:
            self.assertEqual(r.json, json.load(f))


class ConsoleApi(ServerTestCase):
    def test_me_names_role_merchant_and_agent(self):
        self.assertEqual(self.s.get("/v1/me", token="ag1").json,
                         {"role": "agent", "merchant_id": "m1", "agent_id": "a1"})
        self.assertEqual(self.s.get("/v1/me", token="adm").json,
                         {"role": "admin", "merchant_id": None, "agent_id": None})
        self.assertEqual(self.s.get("/v1/me", token="svc2").json,
                         {"role": "service", "merchant_id": "m2", "agent_id": None})
        self.assertError(self.s.get("/v1/me", token=None), 401, "unauthorized")
        self.assertError(self.s.get("/v1/me", token="wrong"), 401, "unauthorized")

    def test_allowed_actions_are_what_a_409_lists(self):
        self.make_order()
        case = self.open_case(type="return", order_id="o1")
        r = self.s.get("/v1/cases/%s/actions" % case["case_id"], token="ag1")
        self.assertStatus(r, 200)
        self.assertEqual(r.json["status"], "awaiting_customer")
        self.assertEqual(r.json["stage"], "awaiting_shipment")
        conflict = self.act(case["case_id"], "refund", amount_cents=100, expect=409)
        self.assertEqual(r.json["allowed"], conflict["error"]["allowed"])
        self.assertIn("ship_back", r.json["allowed"])
        self.act(case["case_id"], "ship_back", carrier="SF", tracking_no="1")
        after = self.s.get("/v1/cases/%s/actions" % case["case_id"]).json["allowed"]
        self.assertIn("receive", after)
        self.assertNotIn("ship_back", after)

    def test_allowed_actions_of_another_merchants_case_are_404(self):
        self.make_order()
        case = self.open_case(type="consultation", order_id="o1", reason="other")
        self.assertError(self.s.get("/v1/cases/%s/actions" % case["case_id"], token="ag2"), 404, "not_found")
        self.assertError(self.s.get("/v1/cases/C9999999999/actions"), 404, "not_found")
        self.assertStatus(self.s.get("/v1/cases/%s/actions" % case["case_id"], token="svc1"), 200)

    def test_a_closed_case_allows_nothing(self):
        self.make_order()
        case = self.open_case(type="consultation", order_id="o1", reason="other")
        self.act(case["case_id"], "resolve", resolution="answered")
        self.act(case["case_id"], "close")
        self.assertEqual(self.s.get("/v1/cases/%s/actions" % case["case_id"]).json["allowed"], [])


if __name__ == "__main__":
    main()

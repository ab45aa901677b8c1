"""Authentication, roles, merchant tenancy and PII masking, end to end.

Tokens (harness): adm admin; ag1 agent of m1; svc1 service of m1; svc2
service of m2; ag2 agent of m2; svc unbound service.
"""
import json
import os
import subprocess
import tempfile
import unittest

from harness import BINARY, POLICIES, ServerTestCase, T0, free_port, main, order_body

PHONE = "13812345678"
PHONE_MASKED = "138****5678"
EMAIL = "alice@example.com"
EMAIL_MASKED = "a***@example.com"


class AuthTest(ServerTestCase):
    def assertNoPII(self, r, what):
        self.assertNotIn(PHONE, r.raw.decode(), what)
        self.assertNotIn(EMAIL, r.raw.decode(), what)

    # ---- 401 ------------------------------------------------------------------------

    def test_missing_or_unknown_token_is_401(self):
        self.make_order()
        for token, headers in ((None, None), ("nope", None), ("", None), ("adm adm", None),
                               (None, {"Authorization": "Basic YWRtOmFkbQ=="}),
                               (None, {"Authorization": "adm"}),
                               (None, {"Authorization": "Bearer"}),
                               ("admx", None), ("ad", None)):
            for method, path, body in (("GET", "/v1/orders/o1", None), ("POST", "/v1/orders", order_body(order_id="x")),
                                       ("GET", "/v1/cases", None), ("GET", "/v1/admin/policies", None),
                                       ("POST", "/v1/admin/clock", {"advance": 1})):
                with self.subTest(token=token, headers=headers, path=path):
                    r = self.s.request(method, path, body, token=token, headers=headers)
                    self.assertError(r, 401, "unauthorized")
                    self.assertEqual(r.headers.get("www-authenticate"), "Bearer")
        # nothing was written by the refused requests
        self.assertStatus(self.s.get("/v1/orders/x"), 404)
        self.assertEqual(self.s.get("/v1/admin/policies").status, 200)

    def test_without_a_token_no_route_is_revealed(self):
        # unknown paths and wrong methods answer 401 first: 404/405 would map the API
        for method, path in (("GET", "/v1/nothing-here"), ("DELETE", "/v1/cases"), ("PUT", "/v1/orders/o1"),
                             ("GET", "/"), ("GET", "/v1/cases/C1/nope")):
            with self.subTest(method=method, path=path):
                self.assertError(self.s.request(method, path, None, token=None), 401, "unauthorized")
        # with a token they are what they are
        self.assertError(self.s.get("/v1/nothing-here"), 404, "not_found")
        self.assertError(self.s.request("DELETE", "/v1/cases", None), 405, "method_not_allowed")
        # the public paths need none, also for their 405
        self.assertError(self.s.request("POST", "/healthz", {}, token=None), 405, "method_not_allowed")

    def test_token_matching_is_exact_and_scheme_case_insensitive(self):
        r = self.s.get("/v1/cases", token=None, headers={"Authorization": "bearer adm"})
        self.assertStatus(r, 200)
        self.assertError(self.s.get("/v1/cases", token="ADM"), 401, "unauthorized")

    def test_healthz_and_metrics_need_no_token(self):
        self.assertStatus(self.s.get("/healthz", token=None), 200)
        self.assertStatus(self.s.get("/metrics", token=None), 200)

    # ---- 403 ------------------------------------------------------------------------

    def test_agent_may_not_write_orders(self):
        self.make_order()
        for token in ("ag1", "ag2"):
            with self.subTest(token=token):
                self.assertError(self.s.post("/v1/orders", order_body(order_id="x"), token=token), 403, "forbidden")
                self.assertError(self.s.post("/v1/orders/o1/tracking", {"status": "delivered", "at": T0},
                                             token=token), 403, "forbidden")
                self.assertError(self.s.put("/v1/orders/o1/prices/s1", {"price_cents": 1, "at": T0},
                                            token=token), 403, "forbidden")
        self.assertStatus(self.s.get("/v1/orders/x"), 404)
        o = self.s.get("/v1/orders/o1").json
        self.assertEqual(o["tracking"], [])
        self.assertEqual(o["prices"], {})
        # but an agent reads its merchant's orders
        self.assertStatus(self.s.get("/v1/orders/o1", token="ag1"), 200)
        # and a service token writes them
        self.assertStatus(self.s.post("/v1/orders", order_body(order_id="y"), token="svc1"), 201)
        self.assertStatus(self.s.post("/v1/orders", order_body(order_id="z"), token="svc"), 201)

    def test_non_admin_on_admin_endpoints_is_403(self):
        calls = (("GET", "/v1/admin/policies", None),
                 ("POST", "/v1/admin/policies/reload", None),
                 ("POST", "/v1/admin/policies/dry-run", {"case": {"type": "return", "reason": "no_reason"},
                                                         "order": order_body()}),
                 ("POST", "/v1/admin/policies/replay", {"sources": {}}),
                 ("POST", "/v1/admin/clock", {"advance": 3600}))
        for token in ("ag1", "svc1", "svc2", "ag2", "svc"):
            for method, path, body in calls:
                with self.subTest(token=token, path=path):
                    self.assertError(self.s.request(method, path, body, token=token), 403, "forbidden")
        # the clock did not move
        self.assertEqual(self.s.get("/healthz", token=None)["now"], T0)

    def test_agents_write_and_events_feed_follow_the_role_table(self):
        body = {"agent_id": "a9", "name": "A9", "queues": ["after_sales"], "skills": [],
                "capacity": 3, "online": True}
        for token in ("ag1", "svc1", "svc"):
            with self.subTest(token=token):
                self.assertError(self.s.post("/v1/agents", body, token=token), 403, "forbidden")
        self.assertEqual(self.s.get("/v1/agents")["agents"], [])
        self.assertError(self.s.get("/v1/events", token="ag1"), 403, "forbidden")
        self.assertStatus(self.s.get("/v1/events", token="svc1"), 200)
        self.assertStatus(self.s.get("/v1/agents", token="ag1"), 200)

    # ---- tenancy --------------------------------------------------------------------

    def setup_two_merchants(self):
        self.make_order(order_id="o1", buyer_id="b1", merchant_id="m1")
        self.make_order(order_id="o2", buyer_id="b2", merchant_id="m2", token="svc2")
        # b1 also bought from m2: the customer view must still split by merchant
        self.make_order(order_id="o3", buyer_id="b1", merchant_id="m2")
        c1 = self.open_case(type="return", order_id="o1", token="svc1")
        c2 = self.open_case(type="return", order_id="o2", token="svc2")
        c3 = self.open_case(type="consultation", buyer_id="b1", token="svc1", reason="other")
        c4 = self.open_case(type="return", order_id="o3", token="ag2")
        return c1, c2, c3, c4

    def test_other_merchants_order_is_404_as_if_missing(self):
        self.setup_two_merchants()
        missing = self.s.get("/v1/orders/no-such-order", token="svc2")
        self.assertError(missing, 404, "not_found")
        for token in ("svc2", "ag2"):
            with self.subTest(token=token):
                r = self.s.get("/v1/orders/o1", token=token)
                self.assertError(r, 404, "not_found")
                self.assertEqual(r.json, missing.json, "indistinguishable from a missing order")
                self.assertNoPII(r, "404 leaks nothing")
        for token in ("svc1", "ag1"):
            self.assertError(self.s.get("/v1/orders/o2", token=token), 404, "not_found")
        self.assertStatus(self.s.get("/v1/orders/o2", token="ag2"), 200)
        self.assertStatus(self.s.get("/v1/orders/o1", token="svc"), 200)
        # writes to another merchant's order: 404 for tracking/prices (it does not exist for them)
        self.assertError(self.s.post("/v1/orders/o1/tracking", {"status": "delivered", "at": T0}, token="svc2"),
                         404, "not_found")
        self.assertError(self.s.put("/v1/orders/o1/prices/s1", {"price_cents": 1, "at": T0}, token="svc2"),
                         404, "not_found")
        o1 = self.s.get("/v1/orders/o1").json
        self.assertEqual((o1["tracking"], o1["prices"]), ([], {}))

    def test_posting_an_order_for_another_merchant_is_403_or_404(self):
        self.make_order(order_id="o1", merchant_id="m1")
        # a new order for m1 with m2's token
        r = self.s.post("/v1/orders", order_body(order_id="new", merchant_id="m1"), token="svc2")
        self.assertError(r, 403, "forbidden")
        self.assertStatus(self.s.get("/v1/orders/new"), 404)
        # replacing m1's order, even when claiming it for m2: 404, as for an order
        # that does not exist, so the answer does not tell that o1 is taken
        r = self.s.post("/v1/orders", order_body(order_id="o1", merchant_id="m2", shipping_cents=1), token="svc2")
        self.assertError(r, 404, "not_found")
        self.assertEqual(r.json, self.s.get("/v1/orders/no-such-order", token="svc2").json)
        r = self.s.post("/v1/orders", order_body(order_id="o1", merchant_id="m1", shipping_cents=1), token="svc2")
        self.assertError(r, 403, "forbidden")
        o1 = self.s.get("/v1/orders/o1").json
        self.assertEqual((o1["merchant_id"], o1["shipping_cents"]), ("m1", 800))
        # a bound service token cannot move its own order to another merchant either
        r = self.s.post("/v1/orders", order_body(order_id="o1", merchant_id="m2"), token="svc1")
        self.assertError(r, 403, "forbidden")
        self.assertEqual(self.s.get("/v1/orders/o1")["merchant_id"], "m1")

    def test_other_merchants_case_is_404(self):
        c1, c2, c3, c4 = self.setup_two_merchants()
        missing = self.s.get("/v1/cases/no-such-case", token="svc2")
        self.assertError(missing, 404, "not_found")
        for token in ("svc2", "ag2"):
            for case in (c1, c3):
                cid = case["case_id"]
                with self.subTest(token=token, case=cid):
                    r = self.s.get("/v1/cases/" + cid, token=token)
                    self.assertError(r, 404, "not_found")
                    self.assertEqual(r.json, missing.json)
                    self.assertError(self.s.get("/v1/cases/%s/timeline" % cid, token=token), 404, "not_found")
                    self.assertError(self.s.post("/v1/cases/%s/actions" % cid, {"action": "note", "body": "x"},
                                                 token=token), 404, "not_found")
                    self.assertError(self.s.post("/v1/cases/%s/actions" % cid,
                                                 {"action": "resolve", "resolution": "x"}, token=token),
                                     404, "not_found")
                    self.assertError(self.s.post("/v1/cases/%s/survey" % cid, {"csat": 1}, token=token),
                                     404, "not_found")
        # the refused actions changed nothing
        tl = self.s.get("/v1/cases/%s/timeline" % c1["case_id"])["events"]
        self.assertNotIn("note", [e["type"] for e in tl])
        self.assertEqual(self.s.get("/v1/cases/" + c3["case_id"])["status"], "open")
        # own cases are visible
        self.assertStatus(self.s.get("/v1/cases/" + c2["case_id"], token="svc2"), 200)
        self.assertStatus(self.s.get("/v1/cases/" + c1["case_id"], token="ag1"), 200)

    def test_case_lists_hold_only_the_merchants_cases(self):
        c1, c2, c3, c4 = self.setup_two_merchants()
        m1 = {c1["case_id"], c3["case_id"]}
        m2 = {c2["case_id"], c4["case_id"]}
        ids = lambda r: {c["case_id"] for c in r.json["cases"]}
        self.assertEqual(ids(self.s.get("/v1/cases")), m1 | m2)
        for token, mine in (("svc2", m2), ("ag2", m2), ("svc1", m1), ("ag1", m1)):
            with self.subTest(token=token):
                self.assertEqual(ids(self.s.get("/v1/cases", token=token)), mine)
                # asking for the other merchant explicitly does not widen the view
                for q in ("merchant_id=m1", "merchant_id=m2", "order_id=o1", "order_id=o3",
                          "buyer_id=b1", "type=return", "queue=after_sales", "status=awaiting_customer"):
                    got = ids(self.s.get("/v1/cases?" + q, token=token))
                    self.assertTrue(got <= mine, (q, got))
                # another merchant's filter is an empty list, not this merchant's cases
                other = "m1" if mine == m2 else "m2"
                self.assertEqual(ids(self.s.get("/v1/cases?merchant_id=" + other, token=token)), set())
                self.assertEqual(ids(self.s.get("/v1/customers/b1/cases?merchant_id=" + other, token=token)),
                                 set())
                got = ids(self.s.get("/v1/customers/b1/cases", token=token))
                self.assertEqual(got, mine & {c1["case_id"], c3["case_id"], c4["case_id"]})

    def test_case_on_another_merchants_order_is_404(self):
        self.make_order(order_id="o1", merchant_id="m1")
        body = {"type": "return", "order_id": "o1", "channel": "app", "reason": "no_reason"}
        self.assertError(self.s.post("/v1/cases", body, token="svc2"), 404, "not_found")
        self.assertError(self.s.post("/v1/cases", body, token="ag2"), 404, "not_found")
        self.assertEqual(self.s.get("/v1/cases")["cases"], [])
        self.assertEqual(self.s.get("/v1/orders/o1")["case_ids"], [])
        # a buyer-only case by a bound token belongs to that token's merchant
        body = {"type": "consultation", "buyer_id": "b1", "channel": "chat", "reason": "other"}
        c = self.s.post("/v1/cases", dict(body, merchant_id="m1"), token="svc2")
        self.assertError(c, 403, "forbidden")
        c = self.s.post("/v1/cases", body, token="svc2")
        self.assertStatus(c, 201)
        self.assertEqual(c["merchant_id"], "m2")

    def test_events_feed_of_a_bound_service_token(self):
        self.setup_two_merchants()
        evs = self.s.get("/v1/events?limit=1000", token="svc2")["events"]
        self.assertTrue(evs)
        all_evs = self.s.get("/v1/events?limit=1000", token="adm")["events"]
        self.assertGreater(len(all_evs), len(evs))
        for e in evs:
            self.assertNotIn("o1", (e.get("order_id"),), e)
            self.assertEqual(e.get("merchant_id"), "m2", e)

    # ---- PII ------------------------------------------------------------------------

    def test_order_pii_masked_for_every_role_but_admin(self):
        r = self.s.post("/v1/orders", order_body(), token="svc1")
        self.assertStatus(r, 201)
        self.assertEqual(r["buyer"]["phone"], PHONE_MASKED)
        self.assertEqual(r["buyer"]["email"], EMAIL_MASKED)
        self.assertNoPII(r, "the write's own answer")
        for token in ("svc1", "ag1", "svc"):
            with self.subTest(token=token):
                r = self.s.get("/v1/orders/o1", token=token)
                self.assertStatus(r, 200)
                self.assertEqual(r["buyer"]["phone"], PHONE_MASKED)
                self.assertEqual(r["buyer"]["email"], EMAIL_MASKED)
                self.assertNoPII(r, "GET order")
        r = self.s.get("/v1/orders/o1", token="adm")
        self.assertEqual(r["buyer"]["phone"], PHONE)
        self.assertEqual(r["buyer"]["email"], EMAIL)
        # the other order writes answer the order too
        r = self.s.post("/v1/orders/o1/tracking", {"status": "in_transit", "at": T0}, token="svc1")
        self.assertStatus(r, 200)
        self.assertEqual(r["buyer"]["phone"], PHONE_MASKED)
        self.assertNoPII(r, "tracking answer")
        r = self.s.put("/v1/orders/o1/prices/s1", {"price_cents": 4000, "at": T0}, token="svc")
        self.assertStatus(r, 200)
        self.assertNoPII(r, "price answer")
        r = self.s.post("/v1/orders", order_body(shipping_cents=1), token="svc1")
        self.assertStatus(r, 200)
        self.assertNoPII(r, "replace answer")
        r = self.s.post("/v1/orders", order_body(order_id="o9"), token="adm")
        self.assertEqual(r["buyer"]["phone"], PHONE, "the admin's own write is not masked")
        # stored unmasked: masking is for the answer only
        self.assertEqual(self.s.get("/v1/orders/o1", token="adm")["buyer"]["email"], EMAIL)

    def test_short_and_odd_pii_is_still_masked(self):
        body = order_body(order_id="o5", buyer={"phone": "12345", "email": "noatsign"})
        self.assertStatus(self.s.post("/v1/orders", body), 201)
        r = self.s.get("/v1/orders/o5", token="svc1")
        self.assertNotIn("12345", r.raw.decode())
        self.assertNotIn("noatsign", r.raw.decode())

    def test_non_ascii_pii_is_masked_by_character_not_byte(self):
        # a cut inside a multi-byte character used to leave the raw value
        cases = {"ab电话12345678": ("ab电****5678", "张三@example.com", "张***@example.com"),
                 "13812345678电话": ("138****78电话", "élodie@example.com", "é***@example.com"),
                 "12345678": ("****78", "ü@x.cn", "ü***@x.cn")}
        for i, (phone, (phone_masked, email, email_masked)) in enumerate(sorted(cases.items())):
            with self.subTest(phone=phone):
                oid = "u%d" % i
                self.assertStatus(self.s.post("/v1/orders", order_body(order_id=oid, buyer={
                    "phone": phone, "email": email})), 201)
                for token in ("svc1", "ag1"):
                    buyer = self.s.get("/v1/orders/" + oid, token=token)["buyer"]
                    self.assertEqual((buyer["phone"], buyer["email"]), (phone_masked, email_masked))
                buyer = self.s.get("/v1/orders/" + oid, token="adm")["buyer"]
                self.assertEqual((buyer["phone"], buyer["email"]), (phone, email))

    def test_cases_and_customer_cases_never_show_raw_pii(self):
        self.make_order(token="svc1")
        c = self.open_case(type="return", order_id="o1", token="svc1")
        cid = c["case_id"]
        self.open_case(type="complaint", order_id="o1", token="ag1", reason="attitude")
        self.act(cid, "reply", token="ag1", by="agent", body="hello")
        for token in ("svc1", "ag1", "svc"):
            with self.subTest(token=token):
                for path in ("/v1/cases/" + cid, "/v1/cases/%s/timeline" % cid, "/v1/cases",
                             "/v1/cases?buyer_id=b1", "/v1/customers/b1/cases"):
                    r = self.s.get(path, token=token)
                    self.assertStatus(r, 200)
                    self.assertNoPII(r, path)
                    self.assertNotIn("alice@", r.raw.decode(), path)
                    self.assertNotIn("12345678", r.raw.decode(), path)
        r = self.s.get("/v1/events?limit=1000", token="svc1")
        self.assertStatus(r, 200)
        self.assertNoPII(r, "events feed")
        # the admin sees the order's PII through the order (cases carry none)
        self.assertEqual(self.s.get("/v1/orders/o1")["buyer"]["phone"], PHONE)
        cases = self.s.get("/v1/customers/b1/cases")["cases"]
        self.assertEqual(len(cases), 2)
        for k in cases:
            buyer = k.get("buyer") or {}
            if "phone" in buyer:
                self.assertEqual(buyer["phone"], PHONE, "admin answers are never masked")

    def test_tokens_never_appear_in_answers(self):
        self.make_order(token="svc1")
        c = self.open_case(type="return", order_id="o1", token="svc1")
        self.act(c["case_id"], "note", token="ag1", body="checked")
        tl = self.s.get("/v1/cases/%s/timeline" % c["case_id"], token="ag1")
        actors = [e["actor"] for e in tl["events"]]
        self.assertIn({"role": "service", "id": "m1"}, actors)
        self.assertIn({"role": "agent", "id": "a1"}, actors)
        for path in ("/v1/cases/%s/timeline" % c["case_id"], "/v1/events?limit=1000", "/v1/cases"):
            raw = self.s.get(path).raw.decode()
            for token in ('"svc1"', '"ag1"', '"adm"'):
                self.assertNotIn(token, raw, path)

    def test_access_log_never_holds_raw_pii(self):
        self.make_order(token="svc1")
        self.make_order(order_id="o2", token="adm")
        self.s.get("/v1/orders/o1", token="adm")
        self.s.get("/v1/orders/o1", token="ag1")
        self.s.get("/v1/cases?buyer_id=%s&q=%s" % (PHONE, EMAIL), token="svc1")
        self.open_case(type="return", order_id="o1", token="svc1")
        self.s.post("/v1/orders", raw_body=('{"buyer":{"phone":"%s","email":"%s"' % (PHONE, EMAIL)).encode())
        bad = order_body(order_id="o3")
        bad["items"][0]["price_cents"] = -1
        self.s.post("/v1/orders", bad)
        self.s.stop()  # flush every log line
        with open(self.s.log_path, encoding="utf-8", errors="replace") as f:
            log = f.read()
        self.assertIn('"request"', log, "the access log is in server.log")
        self.assertIn("/v1/orders/o1", log)
        self.assertNotIn(PHONE, log)
        self.assertNotIn(EMAIL, log)
        # every access-log line is one JSON object with a request id
        n = 0
        for line in log.splitlines():
            if '"msg":"request"' in line:
                rec = json.loads(line)
                self.assertIsInstance(rec["request_id"], int)
                self.assertIn("status", rec)
                n += 1
        self.assertGreaterEqual(n, 8)


class BadTokensFile(unittest.TestCase):
    """A tokens file the server cannot read exactly stops the start: a typo
    must never leave a token unbound (fail open) or silently shadowed."""

    def start_with(self, tokens):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "tokens.json")
            with open(path, "w") as f:
                json.dump(tokens, f)
            return subprocess.run([BINARY, "--listen", "127.0.0.1:%d" % free_port(), "--data",
                                   os.path.join(d, "db"), "--policies", POLICIES, "--tokens", path,
                                   "--clock", "manual"], capture_output=True, text=True, timeout=30)

    def test_each_bad_entry_is_refused_with_its_reason(self):
        bad = {
            "merchant not a string": ([{"token": "t", "role": "agent", "merchant": 5}], "non-empty strings"),
            "empty merchant": ([{"token": "t", "role": "service", "merchant": ""}], "non-empty strings"),
            "agent not a string": ([{"token": "t", "role": "agent", "agent": ["a1"]}], "non-empty strings"),
            "repeated token": ([{"token": "t", "role": "admin"},
                                {"token": "t", "role": "agent", "merchant": "m1"}], "repeats a token"),
            "unknown role": ([{"token": "t", "role": "root"}], "needs a token and a role"),
            "misspelt member": ([{"token": "t", "role": "agent", "merchnt": "m1"}], "unknown member 'merchnt'"),
            "not an object": (["t"], "is not an object"),
        }
        for what, (entries, reason) in bad.items():
            with self.subTest(what):
                run = self.start_with({"tokens": entries})
                self.assertNotEqual(run.returncode, 0, what)
                self.assertIn(reason, run.stderr)
        run = self.start_with({"tokenz": []})
        self.assertNotEqual(run.returncode, 0)
        self.assertIn('expected {\\"tokens\\":[...]}', run.stderr)  # JSON-escaped in the log


if __name__ == "__main__":
    main()

"""Untrusted policy code against the real server (issue 9): a looping message
handler in a dry-run source or at a module's top level must not take the
server down or wedge reloads, and a merchant's override must not reach the
platform's modules or another merchant's cases.
"""
import os
import time

from harness import DAY, ServerTestCase, Server, T0, main, order_body, policies_copy

LOOPING_HANDLER = "xpcall(error, function() while true do end end)"


class SandboxTest(ServerTestCase):
    def setUp(self):
        self.pdir = policies_copy(self)
        self.s = Server(policies=self.pdir).start()
        self.addCleanup(self.s.cleanup)
        self.addCleanup(self.stop_cleanly, self.s)

    def write(self, name, text):
        path = os.path.join(self.pdir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)

    def returns_source(self):
        with open(os.path.join(self.pdir, "returns.lua")) as f:
            return f.read()

    def healthy(self):
        r = self.s.get("/healthz", token=None, timeout=5)
        self.assertStatus(r, 200)

    def test_a_dry_run_with_a_looping_message_handler_answers(self):
        src = self.returns_source().replace(
            "function M.evaluate(case, order, ctx)",
            "function M.evaluate(case, order, ctx)\n    " + LOOPING_HANDLER, 1)
        self.assertIn(LOOPING_HANDLER, src)
        body = {"case": {"type": "return", "reason": "no_reason", "sku": "s1", "qty": 1,
                         "order_id": "o1", "channel": "app", "opened": False},
                "order": order_body(), "sources": {"returns.lua": src}}
        t0 = time.monotonic()
        r = self.s.post("/v1/admin/policies/dry-run", body, timeout=20)
        self.assertLess(time.monotonic() - t0, 5)
        self.assertStatus(r, 200)
        self.assertEqual(r["eligibility"]["outcome"], "review", r)
        self.healthy()

    def test_a_looping_message_handler_at_load_is_refused_and_reloads_go_on(self):
        good = self.returns_source()
        self.write("returns.lua", LOOPING_HANDLER + "\n" + good)
        t0 = time.monotonic()
        r = self.s.post("/v1/admin/policies/reload", timeout=30)
        self.assertLess(time.monotonic() - t0, 10)
        self.assertError(r, 422, "policy_rejected")
        self.assertIn("instruction budget exceeded", r["error"]["message"])
        self.healthy()
        self.write("returns.lua", good)
        self.assertStatus(self.s.post("/v1/admin/policies/reload", timeout=30), 200)

    def test_a_merchant_cannot_rewrite_the_platform_for_another(self):
        self.write("merchants/mleak/returns.lua",
                   "local M = {}\n"
                   "function M.evaluate(case, order, ctx)\n"
                   "  pcall(function() require('returns').evaluate = function() return {outcome = 'reject'} end end)\n"
                   "  pcall(function() require('floor').returns_evaluate = function(r) return r end end)\n"
                   "  pcall(function() require('routing').QUEUES['return'] = 'quality' end)\n"
                   "  return {outcome = 'reject', reason_code = 'mleak', message = 'no'}\n"
                   "end\n"
                   "return M\n")
        self.assertStatus(self.s.post("/v1/admin/policies/reload", timeout=30), 200)
        self.make_order(order_id="o-leak", merchant_id="mleak")
        leak = self.open_case(type="return", order_id="o-leak", sku="s1", qty=1, opened=False)
        # the floor keeps mleak's own customer's 7-day return
        self.assertEqual(leak["decision"]["reason_code"], "floor_applied", leak)
        self.make_order(order_id="o-m1", merchant_id="m1")
        c = self.open_case(type="return", order_id="o-m1", sku="s1", qty=1, opened=False)
        self.assertEqual(c["decision"]["outcome"], "approve", c)
        self.assertEqual(c["queue"], "after_sales", c)
        # and at load the same attempts refuse the set
        self.write("merchants/mleak/returns.lua",
                   "require('floor').returns_evaluate = function(r) return r end\nreturn {}\n")
        r = self.s.post("/v1/admin/policies/reload", timeout=30)
        self.assertError(r, 422, "policy_rejected")
        self.assertIn("read-only", r["error"]["message"])


if __name__ == "__main__":
    main()

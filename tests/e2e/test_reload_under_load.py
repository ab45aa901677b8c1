"""Hot reload under load drops no request, and every decision names a version
that was serving (SPEC section 5)."""
import http.client
import json
import os
import threading

from harness import ServerTestCase, main, order_body, policies_copy

WORKERS = 4
CASES_EACH = 60


class ReloadUnderLoad(ServerTestCase):
    def setUp(self):
        self.policies = policies_copy(self)
        self.server_kwargs = {"policies": self.policies}
        super().setUp()

    def touch_policies(self, n):
        """A new version: the content hash covers every module's bytes."""
        with open(os.path.join(self.policies, "routing.lua"), "a") as f:
            f.write("-- reload %d\n" % n)

    def client(self, worker, results):
        conn = http.client.HTTPConnection("127.0.0.1", self.s.port, timeout=30)
        headers = {"Authorization": "Bearer adm", "Content-Type": "application/json"}
        for i in range(CASES_EACH):
            body = {"type": "return", "order_id": "o%d" % worker, "reason": "quality",
                    "channel": "app", "description": "case %d" % i, "qty": 1}
            conn.request("POST", "/v1/cases", json.dumps(body), headers)
            r = conn.getresponse()
            raw = r.read()
            results.append((r.status, json.loads(raw) if raw else None))
        conn.close()

    def test_reloads_while_cases_are_opened(self):
        for w in range(WORKERS):
            # a unit of the line per case: one order line, one claim (SPEC section 1)
            self.make_order(order_id="o%d" % w, buyer_id="b%d" % w, qty=CASES_EACH)
        versions = {self.s.get("/v1/admin/policies")["version"]}
        results = [[] for _ in range(WORKERS)]
        threads = [threading.Thread(target=self.client, args=(w, results[w]))
                   for w in range(WORKERS)]
        for t in threads:
            t.start()
        reloads = 0
        while any(t.is_alive() for t in threads) and reloads < 20:
            reloads += 1
            self.touch_policies(reloads)
            r = self.s.post("/v1/admin/policies/reload")
            self.assertStatus(r, 200)
            versions.add(r["version"])
        for t in threads:
            t.join()
        self.assertGreater(reloads, 1)
        for mine in results:
            self.assertEqual(len(mine), CASES_EACH)
            for i, (status, kase) in enumerate(mine):
                self.assertEqual(status, 201, kase)
                self.assertIn(kase["decision"]["policy_version"], versions)
                # one buyer per worker: the anti-abuse review starts at the 6th return
                self.assertEqual(kase["decision"]["outcome"], "approve" if i < 5 else "review",
                                 kase["decision"])
        listed = self.s.get("/v1/cases?limit=200")
        self.assertStatus(listed, 200)
        self.assertEqual(len(listed["cases"]), 200)


if __name__ == "__main__":
    main()

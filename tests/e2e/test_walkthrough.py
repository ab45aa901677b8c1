"""examples/api/walkthrough.sh keeps working: it runs against a fresh server
and walks a return from the order to the refund."""
import os
import subprocess
import unittest

from harness import ServerTestCase, main

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "api", "walkthrough.sh")


class Walkthrough(ServerTestCase):
    # the script dates its order from the real time, so the clock stays real-time
    server_kwargs = {"t0": None}

    @unittest.skipUnless(subprocess.call(["sh", "-c", "command -v curl"],
                                         stdout=subprocess.DEVNULL) == 0, "needs curl")
    def test_return_from_order_to_refund(self):
        env = dict(os.environ, AS_URL="http://127.0.0.1:%d" % self.s.port, AS_TOKEN="adm")
        run = subprocess.run(["bash", SCRIPT], env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(run.returncode, 0, run.stderr + run.stdout)
        self.assertIn("decision approve (no_reason_return)", run.stdout)
        self.assertIn("inspected: in_progress/awaiting_refund, approved 5900 cents", run.stdout)
        self.assertIn("refunded: resolved/refunded, 5900 cents", run.stdout)
        self.assertIn("retried:  still 5900 cents refunded", run.stdout)
        self.assertEqual(run.stderr.count(">> POST /v1/cases/"), 6, run.stderr)  # every step is checked
        self.assertIn("feed: case.created", run.stdout)
        self.assertIn("refund.requested", run.stdout)


if __name__ == "__main__":
    main()

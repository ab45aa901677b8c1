"""A really full disk: the data directory on a 20 MiB tmpfs, filled by the
server's own writes. A write the disk cannot take answers 507 storage_full
(not 500), reads keep working, and once space is freed writes go through
again without a restart; nothing acknowledged is lost.

Mounting a tmpfs needs root (or CAP_SYS_ADMIN). Where the machine does not
allow it, this test does not run and says so on stderr, and ctest lists it as
skipped (exit code 77); tests/unit/test_store_disk.c covers the same paths at
the store level everywhere, with a simulated disk."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from harness import Server, ServerTestCase, order_body, stop_cleanly

SKIP_CODE = 77  # ctest's SKIP_RETURN_CODE for this test (CMakeLists.txt)
TMPFS_MIB = 20
BALLAST_MIB = 6


def mount_tmpfs(path):
    """Mounts a TMPFS_MIB tmpfs on path; answers None or why it cannot."""
    if os.geteuid() != 0:
        return "not root"
    try:
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm" % TMPFS_MIB, "tmpfs", path],
                           capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as e:
        return str(e)
    return None if r.returncode == 0 else r.stderr.decode(errors="replace").strip()


def big_order(i):
    # ~200 KB of titles: the order, its feed event and index entries
    return order_body(order_id="o%d" % i, items=[
        {"sku": "s%d" % k, "category": "apparel", "price_cents": 100, "qty": 1, "title": "x" * 1900}
        for k in range(100)])


class DiskFull(ServerTestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="as-e2e-disk-")
        self.addCleanup(shutil.rmtree, self.root, True)
        db = os.path.join(self.root, "db")  # the harness's --data is DATA/db
        os.mkdir(db)
        why = mount_tmpfs(db)
        if why is not None:
            sys.stderr.write("\n*** SKIPPED %s: cannot mount a tmpfs (%s); the full-disk paths "
                             "are covered only by unit.test_store_disk ***\n" % (self.id(), why))
            raise unittest.SkipTest("cannot mount a tmpfs: " + why)
        self.addCleanup(subprocess.run, ["umount", "-l", db], capture_output=True)
        self.ballast = os.path.join(db, "ballast")
        with open(self.ballast, "wb") as f:
            f.write(b"\0" * (BALLAST_MIB << 20))
        self.s = Server(data=self.root).start()
        self.addCleanup(self.s.stop)
        self.addCleanup(stop_cleanly, self, self.s)

    def fill(self):
        """Writes big orders until the disk refuses one; answers how many were stored."""
        for i in range(200):
            r = self.s.post("/v1/orders", big_order(i))
            if r.status != 201:
                self.assertError(r, 507, "storage_full")
                return i
        self.fail("a %d MiB tmpfs never filled up" % TMPFS_MIB)

    def test_full_disk_answers_507_keeps_reads_and_recovers_once_space_is_freed(self):
        stored = self.fill()
        self.assertGreater(stored, 5)
        for _ in range(3):  # stays full, stays 507
            self.assertError(self.s.post("/v1/orders", big_order(stored)), 507, "storage_full")
        for i in (0, stored - 1):
            self.assertEqual(self.s.get("/v1/orders/o%d" % i).json["order_id"], "o%d" % i)
        self.assertStatus(self.s.get("/v1/orders/o%d" % stored), 404)
        self.assertStatus(self.s.get("/healthz", token=None), 200)
        self.assertStatus(self.s.get("/v1/events?limit=5"), 200)

        os.unlink(self.ballast)  # space freed: no restart needed
        self.assertStatus(self.s.post("/v1/orders", big_order(stored)), 201)
        self.assertStatus(self.s.get("/v1/orders/o%d" % stored), 200)
        seqs = [e["seq"] for e in self.s.get("/v1/events?limit=1000").json["events"]]
        self.assertEqual(seqs, list(range(1, stored + 2)), "the refused writes left gaps in the feed")

        self.assertEqual(self.s.stop(), 0)
        again = Server(data=self.root).start()
        self.addCleanup(again.stop)
        for i in range(stored + 1):
            self.assertStatus(again.get("/v1/orders/o%d" % i), 200)
        self.assertEqual(again.stop(), 0)


def main():
    result = unittest.main(verbosity=2, exit=False).result
    if result.testsRun and len(result.skipped) == result.testsRun:
        sys.exit(SKIP_CODE)
    sys.exit(0 if result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()

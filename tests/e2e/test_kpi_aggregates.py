"""The KPI report comes from aggregates kept at write time (core/case/kpi.h),
and must always equal a recomputation from the cases themselves.

A seeded random workload (creates of several types and merchants, agent
replies, assignments, resolutions, reopens, rejections, refunds, survey
answers, SLA timers firing as the manual clock moves, now and then back) runs against
the server; then, for whole and partial days, every grouping and both an
unbound and a merchant-bound token, the report's figures must equal the
figures this file computes from GET /v1/cases (the oracle: the old scan, in
Python). Percentiles: exact below 256 s, within 1% above (docs/api.md).
The same holds after a kill -9 in the middle of a concurrent load, and
`aftersaled kpi verify` finds every stored record equal to a recomputation."""
import json
import os
import random
import subprocess
import threading
import unittest

from harness import BINARY, DAY, HOUR, T0, Server, ServerTestCase, main, order_body, stop_cleanly

OFFSET = 28800  # the default calendar's utc_offset: the report's days
GROUPS = {"agent": "assignee", "queue": "queue", "type": "type", "merchant": "merchant_id"}


def all_cases(s, token="adm"):
    out, cursor = [], None
    while True:
        path = "/v1/cases?limit=200" + ("&cursor=%s" % cursor if cursor else "")
        r = s.get(path, token=token)
        assert r.status == 200, r
        out += r.json["cases"]
        cursor = r.json.get("next_cursor")
        if not cursor:
            return out


def nearest_rank(values, pct):
    if not values:
        return None
    v = sorted(values)
    rank = (len(v) * pct + 99) // 100
    return v[max(rank, 1) - 1]


def figures(cases):
    """The documented figures of a group of cases."""
    n = len(cases)
    resolved = [c for c in cases if c["status"] == "resolved" or (c["status"] == "closed" and c["stage"] != "cancelled")]
    ids = {c["case_id"] for c in resolved}
    fr = [max(c["first_response_at"] - c["created_at"], 0) for c in cases if c["first_response_at"] is not None]
    rs = [max(c["resolved_at"] - c["created_at"], 0) for c in cases
          if c["case_id"] in ids and c["resolved_at"] is not None]
    with_sla = [c for c in cases if c["sla"]["first_response_due"] is not None or c["sla"]["resolution_due"] is not None]
    met = [c for c in with_sla if not c["sla"]["breached"]]
    csat = [c["survey"]["csat"] for c in cases if c["survey"].get("csat") is not None]
    nps = [c["survey"]["nps"] for c in cases if c["survey"].get("nps") is not None]
    active = lambda st: sum(1 for c in cases if c["status"] == st)
    decisions = {o: sum(1 for c in cases if (c.get("decision") or {}).get("outcome") == o)
                 for o in ("approve", "reject", "review")}
    return {
        "cases": n, "resolved": len(resolved),
        "resolution_rate": len(resolved) / n if n else None,
        "fr": fr, "rs": rs,
        "sla_attainment": len(met) / len(with_sla) if with_sla else None,
        "csat": sum(csat) / len(csat) if csat else None, "survey_answers": len(csat),
        "nps": 100.0 * (sum(1 for x in nps if x >= 9) - sum(1 for x in nps if x <= 6)) / len(nps) if nps else None,
        "backlog": {"open": active("open"), "awaiting_customer": active("awaiting_customer"),
                    "in_progress": active("in_progress"),
                    "unassigned": sum(1 for c in cases if c["status"] in ("open", "awaiting_customer", "in_progress")
                                      and not c.get("assignee"))},
        "rejected": active("rejected"),
        "refunded_cents": sum(c["refund"]["refunded_cents"] or 0 for c in cases if c.get("refund")),
        "decisions": decisions,
        "csat_counts": [csat.count(i) for i in range(1, 6)],
        "nps_counts": [nps.count(i) for i in range(0, 11)],
    }


class Oracle:
    def __init__(self, test):
        self.t = test

    def close(self, got, want, what):
        if want is None:
            self.t.assertIsNone(got, what)
        else:
            self.t.assertAlmostEqual(got, want, places=9, msg=what)

    def percentile(self, got, values, pct, what):
        want = nearest_rank(values, pct)
        if want is None or want < 256:
            self.t.assertEqual(got, want, what)
        else:  # the bucket's mean: within 1% (exact when its values are equal)
            self.t.assertLessEqual(abs(got - want), want / 100.0, what)

    def group(self, got, cases, what):
        f = figures(cases)
        for k in ("cases", "resolved", "survey_answers", "backlog", "rejected", "refunded_cents", "decisions",
                  "csat_counts", "nps_counts"):
            if k == "backlog":
                g = dict(got["backlog"])
                g.pop("age")
                self.t.assertEqual(g, f[k], "%s %s" % (what, k))
            else:
                self.t.assertEqual(got[k], f[k], "%s %s" % (what, k))
        for k in ("resolution_rate", "sla_attainment", "csat", "nps"):
            self.close(got[k], f[k], "%s %s" % (what, k))
        for p in (50, 90):
            self.percentile(got["first_response_seconds"]["p%d" % p], f["fr"], p, "%s fr p%d" % (what, p))
            self.percentile(got["resolution_seconds"]["p%d" % p], f["rs"], p, "%s res p%d" % (what, p))

    def report(self, s, cases, frm, to, by=None, token="adm", merchant=None):
        q = "/v1/reports/kpi?from=%d&to=%d" % (frm, to) + ("&group_by=%s" % by if by else "")
        r = s.get(q, token=token)
        self.t.assertEqual(r.status, 200, r)
        inside = [c for c in cases if frm <= c["created_at"] < to and (merchant is None or c["merchant_id"] == merchant)]
        what = "%s [%d,%d) by %s" % (token, frm - T0, to - T0, by)
        self.group(r.json["totals"], inside, what + " totals")
        channels = {}
        for c in inside:
            if c["survey"].get("csat") is not None:
                channels.setdefault(c["channel"], []).append(c)
        got = {x["channel"]: x for x in r.json["surveys_by_channel"]}
        self.t.assertEqual(set(got), set(channels), what + " survey channels")
        for ch, members in channels.items():
            f = figures(members)
            self.t.assertEqual(got[ch]["answers"], f["survey_answers"], what + " " + ch)
            self.close(got[ch]["csat"], f["csat"], what + " csat " + ch)
            self.close(got[ch]["nps"], f["nps"], what + " nps " + ch)
        if by:
            field = GROUPS[by]
            keys = {}
            for c in inside:
                keys.setdefault(c.get(field) or "(none)", []).append(c)
            got = {g["key"]: g for g in r.json["groups"]}
            self.t.assertEqual(set(got), set(keys), what)
            for k, members in keys.items():
                self.group(got[k], members, "%s group %s" % (what, k))
            counts = [g["cases"] for g in r.json["groups"]]
            self.t.assertEqual(counts, sorted(counts, reverse=True), what + ": most cases first")
        return r.json


def day_start(t):
    return (t + OFFSET) // DAY * DAY - OFFSET


class Workload:
    """A seeded random mix of what agents, customers and timers do."""

    def __init__(self, s, seed, now=T0):
        self.s, self.rng, self.seed = s, random.Random(seed), seed
        self.now = now
        self.ids, self.n = [], 0

    def setup(self):
        for a, queues in (("a1", ["after_sales", "customer_service", "quality"]), ("a2", ["after_sales"]),
                          ("a3", ["customer_service", "tech_support"])):
            r = self.s.post("/v1/agents", {"agent_id": a, "name": a, "queues": queues, "skills": [],
                                           "capacity": 4, "online": True})
            assert r.status in (200, 201), r

    def create(self):
        rng, self.n = self.rng, self.n + 1
        merchant = rng.choice(["m1", "m2", "m3"])
        kind = rng.choice(["return", "return", "refund_only", "consultation", "complaint", "repair"])
        if kind in ("consultation", "complaint"):
            body = {"type": kind, "buyer_id": "b%d" % rng.randrange(5), "reason": "other" if kind == "consultation"
                    else "attitude", "channel": rng.choice(["chat", "app", "phone"]), "merchant_id": merchant}
        else:
            oid = "o%d-%d" % (self.seed, self.n)
            delivered = self.now - rng.choice([1, 2, 5, 30]) * DAY
            ob = order_body(order_id=oid, buyer_id="b%d" % rng.randrange(5), merchant_id=merchant, now=self.now,
                            delivered_at=delivered, category=rng.choice(["apparel", "electronics"]))
            ob["paid_at"] = delivered - DAY
            r = self.s.post("/v1/orders", ob)
            assert r.status == 201, r
            body = {"type": kind, "order_id": oid, "channel": "app",
                    "reason": rng.choice(["no_reason", "quality", "not_received"])}
        r = self.s.post("/v1/cases", body)
        assert r.status == 201, r
        self.ids.append(r.json["case_id"])

    def act(self):
        if not self.ids:
            return
        rng = self.rng
        cid = rng.choice(self.ids)
        action = rng.choice(["reply", "reply", "assign", "resolve", "resolve", "reopen", "survey", "approve",
                             "reject", "ship_back", "receive", "inspect", "refund", "escalate"])
        body = {"action": action}
        if action == "reply":
            body.update(by=rng.choice(["agent", "agent", "customer"]), body="hello")
        elif action == "assign":
            body["agent_id"] = rng.choice(["a1", "a2", "a3"])
        elif action == "resolve":
            body["resolution"] = "done"
        elif action in ("reopen", "escalate"):
            body["reason"] = "again"
        elif action == "ship_back":
            body.update(carrier="sf", tracking_no="T%d" % rng.randrange(10 ** 6))
        elif action == "inspect":
            body["result"] = rng.choice(["pass", "pass", "fail"])
        elif action == "refund":
            case = self.s.get("/v1/cases/%s" % cid).json
            left = (case["refund"]["approved_cents"] or 0) - (case["refund"]["refunded_cents"] or 0)
            if left <= 0:
                return
            body["amount_cents"] = rng.choice([left, max(left // 2, 1)])
        if action == "survey":
            r = self.s.post("/v1/cases/%s/survey" % cid, {"csat": rng.randrange(1, 6), "nps": rng.randrange(0, 11)})
        else:
            r = self.s.post("/v1/cases/%s/actions" % cid, body)
        assert r.status in (200, 400, 409, 422), r

    def tick(self):
        rng = self.rng
        step = rng.choice([30, 200, 600, 1800, 2 * HOUR, 5 * HOUR]) if rng.random() < 0.93 else rng.choice([DAY, 3 * DAY])
        if rng.random() < 0.08:  # the clock set back: later cases created before earlier ones
            step = -rng.choice([HOUR, 9 * HOUR, DAY + HOUR])
        self.now = max(self.now + step, T0)
        self.s.set_clock(self.now)

    def run(self, steps):
        for _ in range(steps):
            x = self.rng.random()
            if x < 0.3:
                self.create()
            elif x < 0.85:
                self.act()
            else:
                self.tick()


def kpi_cli(test, *args):
    r = subprocess.run([BINARY, "kpi"] + list(args), capture_output=True, text=True, timeout=120)
    test.assertEqual(r.returncode, 0, r.stdout + r.stderr)
    return json.loads(r.stdout)


class AggregatesEqualRecomputation(ServerTestCase):
    def check_everything(self, seed, start, end):
        cases = all_cases(self.s)
        o = Oracle(self)
        rng = random.Random(seed)
        first, last = day_start(start), day_start(end) + DAY
        ranges = [(first, last), (first + DAY, last), (start - DAY, end + 1)]
        for _ in range(6):  # cuts anywhere: edge days from aggregates or from their cases
            a = rng.randrange(first, last)
            ranges.append((a, rng.randrange(a + 1, last + 1)))
        read = []
        for frm, to in ranges:
            for by in (None, "agent", "queue", "type", "merchant"):
                read.append(o.report(self.s, cases, frm, to, by)["source"]["cases_read"])
            o.report(self.s, cases, frm, to, "agent", token="svc1", merchant="m1")
            o.report(self.s, cases, frm, to, "merchant", token="svc1", merchant="m1")
        self.assertEqual(read[0], 0, "whole days come from the aggregates alone")
        self.assertTrue(any(read), "some cut left cases of its day outside: they were read")
        self.assertTrue(any(c["survey"].get("csat") is not None for c in cases), "surveys were answered")
        return cases

    def test_random_workloads_report_what_a_scan_of_the_cases_reports(self):
        start = T0
        for seed in (1, 2):
            with self.subTest(seed=seed):
                w = Workload(self.s, seed, start)
                if seed == 1:
                    w.setup()
                w.run(260)
                cases = self.check_everything(seed, start, w.now)
                self.assertGreater(len(cases), 40)
                self.assertTrue(any(c["status"] == "resolved" for c in cases))
                start = w.now + 10 * DAY  # the next seed's days come after these
                self.s.set_clock(start)
        self.assertEqual(self.s.stop(), 0)
        self.s.proc = None
        v = kpi_cli(self, "verify", "--data", os.path.join(self.s.data, "db"))
        self.assertTrue(v["equal"], v)

    def test_a_daily_series_adds_up_to_the_range(self):
        w = Workload(self.s, 7)
        w.setup()
        w.run(150)
        frm, to = day_start(T0) + 5 * HOUR, w.now + 1
        r = self.s.get("/v1/reports/kpi?from=%d&to=%d&group_by=queue&interval=day" % (frm, to)).json
        self.assertEqual(r["interval"], "day")
        self.assertEqual(r["series"][0]["from"], frm)
        self.assertEqual(r["series"][-1]["to"], to)
        for a, b in zip(r["series"], r["series"][1:]):
            self.assertEqual(a["to"], b["from"])
            self.assertEqual(b["to"] - b["from"] if b is not r["series"][-1] else DAY, DAY)
        self.assertEqual(sum(d["totals"]["cases"] for d in r["series"]), r["totals"]["cases"])
        self.assertEqual(sum(d["totals"]["refunded_cents"] for d in r["series"]), r["totals"]["refunded_cents"])
        cases = all_cases(self.s)
        o = Oracle(self)
        for d in r["series"]:
            inside = [c for c in cases if d["from"] <= c["created_at"] < d["to"]]
            o.group(d["totals"], inside, "day %d" % d["from"])


class KpiSurvivesKill9(unittest.TestCase):
    """Aggregates are written in the same batch as the case: whatever a kill -9
    keeps of a concurrent load, the report still equals the recomputation."""

    def test_kill9_mid_load(self):
        s = Server().start()
        self.addCleanup(s.cleanup)
        w = Workload(s, 11)
        w.setup()
        w.run(40)
        stop = threading.Event()

        def load(seed):
            lw = Workload(s, seed, w.now)
            lw.ids = list(w.ids)
            lw.n = 1000 * seed
            try:
                while not stop.is_set():
                    if lw.rng.random() < 0.4:
                        lw.create()
                    else:
                        lw.act()
            except Exception:
                pass  # the server went away mid-request

        threads = [threading.Thread(target=load, args=(n,), daemon=True) for n in (21, 22, 23)]
        for t in threads:
            t.start()
        threading.Event().wait(1.5)
        s.kill9()
        stop.set()
        for t in threads:
            t.join(10)
        s2 = Server(data=s.data, t0=w.now).start()
        self.addCleanup(lambda: stop_cleanly(self, s2))
        cases = all_cases(s2)
        self.assertGreater(len(cases), 40)
        o = Oracle(self)
        frm, to = day_start(T0) - DAY, w.now + DAY
        for by in (None, "agent", "queue"):
            o.report(s2, cases, frm, to, by)
        o.report(s2, cases, T0 + 1234, w.now - 777, "type")
        self.assertEqual(s2.stop(), 0)
        s2.proc = None
        v = kpi_cli(self, "verify", "--data", os.path.join(s.data, "db"), "--from", str(T0 + 99), "--to",
                    str(w.now), "--group-by", "agent", "--now", str(w.now))
        self.assertTrue(v["equal"], v)


if __name__ == "__main__":
    main()

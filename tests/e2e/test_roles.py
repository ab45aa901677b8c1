"""Who may call what: every route of the router x a token of every kind, one
table, each cell the status the contract gives (docs/api.md, "Authentication
and roles"). Tenancy is part of it: a token bound to m2 gets 404 for m1's
orders and cases (never 403, never 200), and its lists, alerts, reports and
feed hold only m2's.

Adding a route means adding a row: the test reads the router's own table
(GET /v1/admin/routes) and fails on a route the table does not list, on a
row the router no longer has, and on a row that contradicts the roles the
router gives the route."""
import json
import os

from harness import DAY, T0, Server, ServerTestCase, main, order_body

# The columns: who calls. None sends no Authorization header.
COLS = ["adm", "admb", "ag1", "ag2", "agu", "svc1", "svc2", "svc", None, "bad"]
BINDING = {"adm": None, "admb": "m1", "ag1": "m1", "ag2": "m2", "agu": None, "svc1": "m1", "svc2": "m2",
           "svc": None}
ROLE = {"adm": "admin", "admb": "admin", "ag1": "agent", "ag2": "agent", "agu": "agent", "svc1": "service",
        "svc2": "service", "svc": "service"}
TOKENS = [{"token": t, "role": ROLE[t], **({"merchant": BINDING[t]} if BINDING[t] else {}),
           **({"agent": "agent-" + t} if ROLE[t] == "agent" else {})} for t in BINDING]


def col_name(col):
    return {None: "none", "bad": "bad"}.get(col, col)


# ---- what each route is called with -----------------------------------------
# make(t, col) answers (path, body) for one cell; a row that writes makes a
# fresh target per cell so the cells do not depend on each other.

def fixed(path, body=None):
    return lambda t, col: (path.format(**t.ids), body)


def new_order(t, col):
    return "/v1/orders", order_body(order_id="new-%s" % col_name(col), merchant_id="m1")


def new_case(t, col):
    return "/v1/cases", {"type": "consultation", "order_id": "o1", "reason": "other", "channel": "chat"}


def note_on_fresh_case(t, col):
    return "/v1/cases/%s/actions" % t.fresh_case(), {"action": "note", "body": "from " + col_name(col)}


def survey_on_fresh_case(t, col):
    cid = t.fresh_case()
    t.ok(t.s.post("/v1/cases/%s/actions" % cid, {"action": "resolve", "resolution": "answered"}))
    return "/v1/cases/%s/survey" % cid, {"csat": 5}


def active_version(t):
    return t.s.get("/v1/admin/policies").json["version"]


def new_agent(t, col):
    return "/v1/agents", {"agent_id": "ag-%s" % col_name(col), "name": "N", "queues": ["quality"],
                          "skills": [], "capacity": 1, "online": True}


def own_agent(suffix, body=None):
    """An agent's own resource for agent tokens, agent-ag1's for everyone else."""
    def make(t, col):
        agent = "agent-%s" % col if ROLE.get(col) == "agent" else "agent-ag1"
        return "/v1/agents/%s/%s" % (agent, suffix), body
    return make


def nps_answer(t, col):
    """A buyer of m1 with a relationship survey planned by its new order."""
    buyer = "nps-%s" % col_name(col)
    t.ok(t.s.post("/v1/orders", order_body(order_id="o-" + buyer, buyer_id=buyer, merchant_id="m1")))
    return "/v1/customers/%s/nps" % buyer, {"nps": 9, "merchant_id": "m1"}


DRY_RUN = {"case": {"type": "return", "reason": "no_reason", "channel": "app", "sku": "s1", "qty": 1},
           "order": order_body(now=T0)}
REJECT_ALL = "return { evaluate = function() return { outcome = 'reject', reason_code = 'x', message = 'x' } end }"


def returns_source():
    with open(os.path.join(os.environ.get("AS_POLICIES") or os.path.join(
            os.path.dirname(__file__), "..", "..", "policies"), "returns.lua")) as f:
        return f.read()


# ---- tenancy checks on an answer that succeeded ------------------------------

def only_own(items, col, field="merchant_id"):
    """Items of a bound token's list are all its merchant's; an unbound
    token's list has both merchants'."""
    seen = {i.get(field) for i in items}
    if BINDING.get(col):
        return seen <= {BINDING[col]} or "sees %s" % sorted(map(str, seen))
    return {"m1", "m2"} <= seen or "misses a merchant: %s" % sorted(map(str, seen))


def check_case_list(t, col, r):
    return only_own(r.json["cases"], col)


def check_customer_cases(t, col, r):
    cases = r.json["cases"]
    if BINDING.get(col) == "m2":
        return cases == [] or "m2 sees b1's m1 cases"
    return bool(cases) and {c["merchant_id"] for c in cases} == {"m1"} or "b1's cases: %r" % cases


def check_alerts(t, col, r):
    return only_own(r.json["alerts"], col)


def check_kpi(t, col, r):
    return only_own(r.json["groups"], col, field="key")


def check_events(t, col, r):
    return only_own(r.json["events"], col)


def check_order_pii(t, col, r):
    phone = r.json["buyer"]["phone"]
    admin = ROLE.get(col) == "admin"
    return (phone == "13812345678") == admin or "phone %s for %s" % (phone, col_name(col))


def check_me(t, col, r):
    want = {"role": ROLE[col], "merchant_id": BINDING[col],
            "agent_id": "agent-" + col if ROLE[col] == "agent" else None}
    return r.json == want or "me: %r" % r.json


def check_replay(t, col, r):
    ids = {d["case_id"] for d in r.json["diffs"]}
    want = {t.ids["ret1"]} if BINDING.get(col) else {t.ids["ret1"], t.ids["ret2"]}
    return ids == want or "replayed %s" % sorted(ids)


def admin_job(t):
    """A replay job over every merchant, posted once by the unbound admin."""
    if "job" not in t.ids:
        t.ids["job"] = t.ok(t.s.request("POST", "/v1/admin/jobs/replay", body={}, token="adm"), (202,))["job_id"]
    return t.ids["job"]


def fresh_admin_job(t, col):
    job = t.ok(t.s.request("POST", "/v1/admin/jobs/replay", body={}, token="adm"), (202,))["job_id"]
    return "/v1/admin/jobs/" + job, None


def check_job_scope(t, col, r):
    want = BINDING.get(col)
    return r.json["params"]["merchant_id"] == want or "job of %r" % r.json["params"]["merchant_id"]


def check_jobs(t, col, r):
    scopes = {j["params"]["merchant_id"] for j in r.json["jobs"]}
    return not BINDING.get(col) or scopes <= {BINDING[col]} or "sees jobs of %s" % sorted(map(str, scopes))


# ---- the matrix ------------------------------------------------------------
#       adm  admb ag1  ag2  agu  svc1 svc2 svc  none bad
ROWS = [
    ("GET", "/healthz", fixed("/healthz"),
     "200  200  200  200  200  200  200  200  200  200"),
    ("GET", "/metrics", fixed("/metrics"),
     "200  200  200  200  200  200  200  200  200  200"),
    ("GET", "/openapi.json", fixed("/openapi.json"),
     "200  200  200  200  200  200  200  200  200  200"),
    ("GET", "/console", fixed("/console"),
     "301  301  301  301  301  301  301  301  301  301"),
    ("GET", "/console/", fixed("/console/"),
     "200  200  200  200  200  200  200  200  200  200"),
    ("GET", "/console/{file}", fixed("/console/app.js"),
     "200  200  200  200  200  200  200  200  200  200"),
    ("GET", "/v1/me", fixed("/v1/me"),
     "200  200  200  200  200  200  200  200  401  401", check_me),
    ("POST", "/v1/orders", new_order,
     "201  201  403  403  403  201  403  201  401  401"),
    ("GET", "/v1/orders/{id}", fixed("/v1/orders/o1"),
     "200  200  200  404  200  200  404  200  401  401", check_order_pii),
    ("POST", "/v1/orders/{id}/tracking", fixed("/v1/orders/o1/tracking", {"status": "in_transit", "at": T0}),
     "200  200  403  403  403  200  404  200  401  401"),
    ("PUT", "/v1/orders/{id}/prices/{sku}", fixed("/v1/orders/o1/prices/s1", {"price_cents": 4000, "at": T0}),
     "200  200  403  403  403  200  404  200  401  401"),
    ("POST", "/v1/cases", new_case,
     "201  201  201  404  201  201  404  201  401  401"),
    ("GET", "/v1/cases", fixed("/v1/cases?limit=200"),
     "200  200  200  200  200  200  200  200  401  401", check_case_list),
    ("GET", "/v1/cases/{id}", fixed("/v1/cases/{case1}"),
     "200  200  200  404  200  200  404  200  401  401"),
    ("POST", "/v1/cases/{id}/actions", note_on_fresh_case,
     "200  200  200  404  200  200  404  200  401  401"),
    ("GET", "/v1/cases/{id}/actions", fixed("/v1/cases/{case1}/actions"),
     "200  200  200  404  200  200  404  200  401  401"),
    ("GET", "/v1/cases/{id}/timeline", fixed("/v1/cases/{case1}/timeline"),
     "200  200  200  404  200  200  404  200  401  401"),
    ("POST", "/v1/cases/{id}/survey", survey_on_fresh_case,
     "200  200  200  404  200  200  404  200  401  401"),
    ("GET", "/v1/customers/{buyer_id}/cases", fixed("/v1/customers/b1/cases"),
     "200  200  200  200  200  200  200  200  401  401", check_customer_cases),
    ("GET", "/v1/customers/{buyer_id}/nps", fixed("/v1/customers/b1/nps"),
     "200  200  200  200  200  200  200  200  401  401"),
    ("POST", "/v1/customers/{buyer_id}/nps", nps_answer,
     "200  200  200  404  200  200  404  200  401  401"),
    ("GET", "/v1/surveys", fixed("/v1/surveys?limit=200"),
     "200  200  200  200  200  200  200  200  401  401"),
    ("POST", "/v1/agents", new_agent,
     "201  403  403  403  403  403  403  403  401  401"),
    ("GET", "/v1/agents", fixed("/v1/agents"),
     "200  200  200  200  200  200  200  200  401  401"),
    ("POST", "/v1/agents/{id}/availability", own_agent("availability", {"online": True}),
     "200  403  200  200  200  403  403  403  401  401"),
    ("GET", "/v1/agents/{id}/next", own_agent("next"),
     "200  200  200  200  200  403  403  403  401  401"),
    ("POST", "/v1/agents/{id}/next", own_agent("next"),
     "200  200  200  200  200  403  403  403  401  401"),
    ("GET", "/v1/alerts", fixed("/v1/alerts?limit=200"),
     "200  200  200  200  200  200  200  200  401  401", check_alerts),
    ("GET", "/v1/reports/kpi", fixed("/v1/reports/kpi?group_by=merchant"),
     "200  200  200  200  200  200  200  200  401  401", check_kpi),
    ("GET", "/v1/events", fixed("/v1/events?limit=1000"),
     "200  200  403  403  403  200  200  200  401  401", check_events),
    ("GET", "/v1/admin/policies", fixed("/v1/admin/policies"),
     "200  200  403  403  403  403  403  403  401  401"),
    ("POST", "/v1/admin/policies/reload", fixed("/v1/admin/policies/reload", {}),
     "200  403  403  403  403  403  403  403  401  401"),
    ("POST", "/v1/admin/policies/dry-run", fixed("/v1/admin/policies/dry-run", DRY_RUN),
     "200  200  403  403  403  403  403  403  401  401"),
    ("POST", "/v1/admin/policies/replay", lambda t, col: ("/v1/admin/policies/replay",
                                                          {"sources": {"returns.lua": REJECT_ALL}}),
     "200  200  403  403  403  403  403  403  401  401", check_replay),
    ("POST", "/v1/admin/policies/shadow", lambda t, col: ("/v1/admin/policies/shadow",
                                                          {"sources": {"returns.lua": returns_source()}}),
     "200  403  403  403  403  403  403  403  401  401"),
    ("DELETE", "/v1/admin/policies/shadow", fixed("/v1/admin/policies/shadow"),
     "200  403  403  403  403  403  403  403  401  401"),
    ("GET", "/v1/admin/policies/versions", fixed("/v1/admin/policies/versions"),
     "200  200  403  403  403  403  403  403  401  401"),
    ("GET", "/v1/admin/policies/versions/{version}",
     lambda t, col: ("/v1/admin/policies/versions/" + active_version(t), None),
     "200  200  403  403  403  403  403  403  401  401"),
    ("POST", "/v1/admin/policies/versions", lambda t, col: ("/v1/admin/policies/versions",
                                                            {"sources": {"returns.lua": returns_source()}}),
     "201  403  403  403  403  403  403  403  401  401"),
    ("POST", "/v1/admin/policies/activate",
     lambda t, col: ("/v1/admin/policies/activate", {"version": active_version(t)}),
     "200  403  403  403  403  403  403  403  401  401"),
    # nothing was active before: 409 no_previous_version for the one who may
    ("POST", "/v1/admin/policies/rollback", fixed("/v1/admin/policies/rollback"),
     "409  403  403  403  403  403  403  403  401  401"),
    ("POST", "/v1/admin/clock", fixed("/v1/admin/clock", {"advance": 0}),
     "200  403  403  403  403  403  403  403  401  401"),
    ("GET", "/v1/admin/routes", fixed("/v1/admin/routes"),
     "200  200  403  403  403  403  403  403  401  401"),
    # a bound admin's job replays its merchant only; the unbound admin's
    # job (every merchant) is not the bound admin's to see
    ("POST", "/v1/admin/jobs/replay", fixed("/v1/admin/jobs/replay", {}),
     "202  202  403  403  403  403  403  403  401  401", check_job_scope),
    ("GET", "/v1/admin/jobs", fixed("/v1/admin/jobs"),
     "200  200  403  403  403  403  403  403  401  401", check_jobs),
    ("GET", "/v1/admin/jobs/{id}", lambda t, col: ("/v1/admin/jobs/" + admin_job(t), None),
     "200  404  403  403  403  403  403  403  401  401"),
    ("GET", "/v1/admin/jobs/{id}/diffs", lambda t, col: ("/v1/admin/jobs/%s/diffs" % admin_job(t), None),
     "200  404  403  403  403  403  403  403  401  401"),
    ("DELETE", "/v1/admin/jobs/{id}", fresh_admin_job,
     "200  404  403  403  403  403  403  403  401  401"),
]


def expected(row):
    return [int(x) for x in row[3].split()]


class RoleMatrix(ServerTestCase):
    server_kwargs = {"tokens": TOKENS}

    def ok(self, r, status=(200, 201)):
        self.assertIn(r.status, status, repr(r))
        return r.json

    def fresh_case(self):
        return self.ok(self.s.post("/v1/cases", {"type": "consultation", "order_id": "o1", "reason": "other",
                                                 "channel": "chat"}))["case_id"]

    def seed(self):
        """Both merchants' orders, cases (returns for replay) and alerts."""
        self.ok(self.s.post("/v1/orders", order_body(order_id="o1", merchant_id="m1", buyer_id="b1", qty=10)))
        self.ok(self.s.post("/v1/orders", order_body(order_id="o2", merchant_id="m2", buyer_id="b2", qty=10)))
        for agent in ("agent-ag1", "agent-ag2", "agent-agu"):  # registered, serving no queue
            self.ok(self.s.post("/v1/agents", {"agent_id": agent, "queues": []}))
        self.ids = {"case1": self.fresh_case()}
        for key, order in (("ret1", "o1"), ("ret2", "o2")):
            self.ids[key] = self.ok(self.s.post("/v1/cases", {"type": "return", "order_id": order, "sku": "s1",
                                                              "qty": 1, "reason": "no_reason",
                                                              "channel": "app"}))["case_id"]
        for order in ("o1", "o2"):  # 5 complaints about one sku in 24 h raise an alert
            for _ in range(5):
                self.ok(self.s.post("/v1/cases", {"type": "complaint", "order_id": order, "reason": "attitude",
                                                  "channel": "chat"}))

    def call(self, row, col):
        method, _, make = row[:3]
        path, body = make(self, col)
        token = {"bad": "not-a-token"}.get(col, col)
        return self.s.request(method, path, body=body, token=token)

    def test_every_route_answers_every_caller_as_the_table_says(self):
        self.seed()
        wrong = []
        for row in ROWS:
            check = row[4] if len(row) > 4 else None
            for col, want in zip(COLS, expected(row)):
                r = self.call(row, col)
                cell = "%s %s as %s" % (row[0], row[1], col_name(col))
                if r.status != want:
                    wrong.append("%s: %d, the table says %d: %s" % (cell, r.status, want, r.raw[:160]))
                elif want >= 400:
                    if not (isinstance(r.json, dict) and isinstance(r.json.get("error"), dict)):
                        wrong.append("%s: error without the error body: %r" % (cell, r.raw[:160]))
                elif check and col is not None and col != "bad":
                    verdict = check(self, col, r)
                    if verdict is not True:
                        wrong.append("%s: tenancy: %s" % (cell, verdict))
        self.assertEqual(wrong, [], "\n" + "\n".join(wrong))

    def test_the_table_lists_every_route_of_the_router_and_agrees_with_its_roles(self):
        routes = self.ok(self.s.get("/v1/admin/routes"))["routes"]
        have = {(r["method"], r["path"]) for r in routes}
        listed = [(row[0], row[1]) for row in ROWS]
        self.assertEqual(len(listed), len(set(listed)), "a route listed twice")
        self.assertEqual(sorted(have - set(listed)), [], "routes the matrix does not list: add a row each")
        self.assertEqual(sorted(set(listed) - have), [], "rows for routes the router does not have")
        by_route = {(r["method"], r["path"]): r for r in routes}
        for row in ROWS:
            route, want = by_route[(row[0], row[1])], dict(zip(COLS, expected(row)))
            for col in COLS:
                if col is None or col == "bad":  # no token: 401 unless the route is public
                    self.assertEqual(want[col] == 401, not route["public"], (row[:2], col))
                    continue
                if not route["public"] and ROLE[col] not in route["roles"]:
                    self.assertEqual(want[col], 403, "%s: the router refuses %s" % (row[:2], col))
                if BINDING[col] and not route["merchant_scoped"]:
                    self.assertEqual(want[col], 403, "%s: the router refuses bound %s" % (row[:2], col))


if __name__ == "__main__":
    main()

"""docs/openapi.json describes the whole API, and the API answers as it says.

- Every route of the router (the route rows in core/) is described,
  and every described path and method is routed: the source is read for the
  rows, and a running server is asked for each described operation (none may
  answer "no such endpoint" or 405).
- GET /openapi.json serves the file, without a token.
- Answers validate against the response schemas (JSON Schema 2020-12, with
  jsonschema): those of a walk through every operation, and those of the
  other e2e tests, run here again with every answer recorded (in the plain
  build; the sanitizer build leaves that part out for time). Every
  described operation must have had a success answer checked.

Lint (Spectral's OpenAPI rules) is ctest's openapi.lint.
"""
import glob
import io
import json
import os
import re
import sys
import unittest

import harness
from harness import DAY, HOUR, T0, ServerTestCase, main, order_body

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
SPEC_PATH = os.path.join(ROOT, "docs", "openapi.json")
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
ROUTE_ROW = re.compile(r'\{"(GET|POST|PUT|DELETE|PATCH)",\s*"(/[^"]*)"')
# The e2e files left out of the recorded run: they test the process (kill -9,
# a full disk, slow clients) more than the answers, and take the longest.
NOT_RECORDED = {"test_openapi", "test_storage_full", "test_durability", "test_http_timeouts"}

try:
    import jsonschema
except ImportError:  # scripts/test installs python3-jsonschema
    jsonschema = None


def sanitizer_build():
    """True for an AddressSanitizer binary (scripts/test --sanitize): the e2e
    files already run under it one by one, and running them all again in
    this one test would take minutes; what is checked here (the answers'
    shapes) is the same in both builds."""
    try:
        with open(harness.BINARY, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False

with open(SPEC_PATH) as f:
    SPEC = json.load(f)


def routed_operations():
    """(METHOD, pattern) of every route row ({"GET", "/v1/...", ...}) in core/,
    wherever the route table lives."""
    rows = set()
    for src in glob.glob(os.path.join(ROOT, "core", "**", "*.c"), recursive=True):
        with open(src) as f:
            rows.update(ROUTE_ROW.findall(f.read()))
    return rows


def documented_operations():
    return {(m.upper(), p) for p, item in SPEC["paths"].items() for m in item if m in METHODS}


def template_regex(template):
    parts = re.split(r"(\{[^/}]+\})", template)
    return re.compile("^" + "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts) + "$")


# Literal paths before templated ones, as the router's rows come.
TEMPLATES = sorted(((template_regex(p), p) for p in SPEC["paths"]), key=lambda t: t[1].count("{"))


def find_operation(method, path):
    """(template, operation object) or (None, None)."""
    for rx, template in TEMPLATES:
        if rx.match(path):
            op = SPEC["paths"][template].get(method.lower())
            if op is None and method == "HEAD":
                op = SPEC["paths"][template].get("get")
            if op is not None:
                return template, op
    return None, None


def resolve(obj):
    while "$ref" in obj:
        node = SPEC
        for part in obj["$ref"].lstrip("#/").split("/"):
            node = node[part]
        obj = node
    return obj


def response_for(op, status):
    responses = op["responses"]
    r = responses.get(str(status)) or responses.get("default")
    return resolve(r) if r is not None else None


_validators = {}


def validator_for(schema):
    """A Draft 2020-12 validator of schema whose $refs point into the
    document's components (they resolve against the schema's own root)."""
    key = json.dumps(schema, sort_keys=True)
    if key not in _validators:
        root = {"$schema": "https://json-schema.org/draft/2020-12/schema",
                "components": SPEC["components"], "allOf": [schema]}
        _validators[key] = jsonschema.Draft202012Validator(root)
    return _validators[key]


ERROR_SCHEMA = {"$ref": "#/components/schemas/Error"}


class Checker:
    """Checks recorded answers; counts what each operation had checked."""

    def __init__(self):
        self.failures = []
        self.checked = {}  # (METHOD, template) -> success answers validated
        self.count = 0

    def check(self, method, path, status, ctype, raw):
        path = path.split("?", 1)[0]
        template, op = find_operation(method, path)
        base = (ctype or "").split(";")[0].strip()
        if op is None:  # an unknown path or method: the answer is an error
            schema = ERROR_SCHEMA if status >= 400 and base == "application/json" else None
        else:
            resp = response_for(op, status)
            if resp is None:
                self.failures.append("%s %s: %d is not described" % (method, path, status))
                return
            content = resp.get("content")
            if not content:
                schema = None
                if raw and status not in (301, 308):
                    self.failures.append("%s %s: %d has a body, none described" % (method, path, status))
            elif base not in content:
                self.failures.append("%s %s: %d answered %s, described %s" % (method, path, status, base,
                                                                               sorted(content)))
                return
            else:
                schema = content[base].get("schema")
            if 200 <= status < 400:
                key = (method if method != "HEAD" else "GET", template)
                self.checked[key] = self.checked.get(key, 0) + 1
        if schema is None or base != "application/json" or not raw:
            return
        try:
            body = json.loads(raw)
        except ValueError:
            self.failures.append("%s %s: %d is not JSON" % (method, path, status))
            return
        self.count += 1
        errors = sorted(validator_for(schema).iter_errors(body), key=lambda e: list(e.path))
        for e in errors[:3]:
            self.failures.append("%s %s -> %d: %s at %s" % (method, path, status, e.message[:300],
                                                            "/".join(str(x) for x in e.absolute_path)))


CHECKER = Checker()


def record(method, path, status, headers, raw):
    CHECKER.check(method, path, status, headers.get("content-type"), raw)


_original_request = harness.Server.request


def recording_request(self, method, path, *args, **kwargs):
    r = _original_request(self, method, path, *args, **kwargs)
    record(method, path, r.status, r.headers, r.raw)
    return r


class OpenApiDocument(unittest.TestCase):
    def test_every_route_is_described_and_every_described_operation_is_routed(self):
        routed = routed_operations()
        self.assertGreater(len(routed), 20, "the route rows were not found in core/")
        documented = documented_operations()
        self.assertEqual(sorted(routed - documented), [], "routes missing from docs/openapi.json")
        self.assertEqual(sorted(documented - routed), [], "described but not routed")

    def test_is_openapi_3_1_with_an_operation_id_each(self):
        self.assertEqual(SPEC["openapi"], "3.1.0")
        ids = [op["operationId"] for item in SPEC["paths"].values() for m, op in item.items() if m in METHODS]
        self.assertEqual(len(ids), len(set(ids)))


@unittest.skipIf(jsonschema is None, "needs python3-jsonschema")
class OpenApiAgainstTheServer(ServerTestCase):
    def setUp(self):
        harness.Server.request = recording_request
        self.addCleanup(setattr, harness.Server, "request", _original_request)
        super().setUp()

    def test_served_without_a_token_and_equal_to_the_file(self):
        r = self.s.get("/openapi.json", token=None)
        self.assertStatus(r, 200)
        self.assertEqual(r.headers["content-type"], "application/json")
        self.assertEqual(r.json, SPEC)

    def test_every_described_operation_is_routed_on_a_running_server(self):
        for method, template in sorted(documented_operations()):
            path = re.sub(r"\{[^}]+\}", "x1", template)
            body = {} if method in ("POST", "PUT", "DELETE") else None
            r = self.s.request(method, path, body)
            self.assertNotEqual(r.status, 405, (method, template, r))
            if r.status == 404:
                self.assertNotEqual(r.json["error"]["message"], "no such endpoint", (method, template))

    def walk(self):
        """Every operation once with success, as a client would."""
        s = self.s
        ok = self.assertStatus
        for path in ("/healthz", "/metrics", "/openapi.json", "/console", "/console/", "/console/app.js"):
            r = s.get(path, token=None)
            self.assertIn(r.status, (200, 301), (path, r))
        ok(s.get("/v1/me", token="ag1"), 200)
        self.make_agent("a1", queues=("after_sales", "customer_service"))
        self.make_agent("a1", queues=("after_sales", "customer_service"), capacity=9)
        ok(s.get("/v1/agents"), 200)
        self.make_order()
        ok(s.post("/v1/orders", order_body()), 200)
        ok(s.get("/v1/orders/o1", token="ag1"), 200)
        ok(s.post("/v1/orders/o1/tracking", {"status": "in_transit", "at": T0 - DAY, "carrier": "SF"}), 200)
        ok(s.put("/v1/orders/o1/prices/s1", {"price_cents": 4500, "at": T0}), 200)
        ret = self.open_case(type="return", order_id="o1", qty=1, headers={"Idempotency-Key": "k1"})
        consult = self.open_case(type="consultation", order_id="o1", reason="other")
        cid = ret["case_id"]
        ok(s.get("/v1/cases?status=awaiting_customer"), 200)
        ok(s.get("/v1/cases/" + cid), 200)
        ok(s.get("/v1/cases/%s/actions" % cid, token="ag1"), 200)
        self.act(cid, "reply", by="agent", body="hello")
        self.act(cid, "ship_back", carrier="SF", tracking_no="SF1")
        self.act(cid, "receive")
        self.act(cid, "inspect", result="pass")
        case = self.act(cid, "refund", amount_cents=self.s.get("/v1/cases/" + cid)["refund"]["approved_cents"])
        self.assertEqual(case["status"], "resolved")
        ok(s.get("/v1/cases/%s/timeline" % cid), 200)
        ok(s.get("/v1/customers/b1/cases"), 200)
        self.s.advance(2 * HOUR)  # the survey goes out; the consultation misses its first reply
        ok(s.post("/v1/cases/%s/survey" % cid, {"csat": 2, "nps": 3, "comment": "slow"}), 200)
        ok(s.get("/v1/alerts"), 200)
        ok(s.get("/v1/reports/kpi?group_by=queue&from=%d&to=%d" % (T0 - DAY, T0 + DAY)), 200)
        ok(s.get("/v1/events?after=0&limit=50"), 200)
        ok(s.get("/v1/admin/policies"), 200)
        ok(s.post("/v1/admin/policies/reload", {}), 200)
        ok(s.post("/v1/admin/policies/dry-run", {"case": {"type": "return", "reason": "no_reason"},
                                                  "order": order_body()}), 200)
        with open(os.path.join(harness.POLICIES, "returns.lua")) as f:
            returns = f.read()
        ok(s.post("/v1/admin/policies/replay", {"sources": {"returns.lua": returns}, "limit": 10}), 200)
        ok(s.post("/v1/admin/policies/shadow", {"sources": {"returns.lua": returns + "\n-- shadow\n"}}), 200)
        ok(s.request("DELETE", "/v1/admin/policies/shadow"), 200)
        self.assertEqual(consult["type"], "consultation")

    def test_answers_validate_against_the_description(self):
        self.walk()
        documented = documented_operations()
        missing = sorted(op for op in documented if not CHECKER.checked.get(op))
        self.assertEqual(missing, [], "described operations whose success answer was never checked")
        self.assertEqual(CHECKER.failures, [], "\n".join(CHECKER.failures[:40]))


@unittest.skipIf(jsonschema is None, "needs python3-jsonschema")
@unittest.skipIf(sanitizer_build(), "the recorded e2e run is left to the plain build (it is the same check)")
class OpenApiAgainstTheE2eSuite(unittest.TestCase):
    """The other e2e files, run again with every answer recorded and checked.
    Their own pass or fail is theirs to report (ctest e2e.*): here only what
    the server answered them counts."""

    def test_every_answer_of_the_e2e_suite_validates(self):
        here = os.path.dirname(os.path.abspath(__file__))
        names = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(here, "test_*.py")))
        names = [n for n in names if n not in NOT_RECORDED]
        suite = unittest.TestSuite()
        for n in names:
            suite.addTests(unittest.defaultTestLoader.loadTestsFromName(n))
        checker = Checker()
        global CHECKER
        saved, CHECKER = CHECKER, checker
        harness.Server.request = recording_request
        try:
            result = unittest.TextTestRunner(stream=io.StringIO(), verbosity=0).run(suite)
        finally:
            harness.Server.request = _original_request
            CHECKER = saved
        print("\nrecorded %d JSON answers of %d tests in %d files (%d failed on their own)"
              % (checker.count, result.testsRun, len(names), len(result.failures) + len(result.errors)),
              file=sys.stderr)
        self.assertGreater(checker.count, 1000)
        self.assertEqual(checker.failures, [], "\n".join(checker.failures[:40]))


if __name__ == "__main__":
    main()

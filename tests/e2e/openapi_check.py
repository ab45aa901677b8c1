"""openapi_check: checks answers of the server against docs/openapi.json.

Used by test_openapi.py (a walk through every operation) and, as a script,
by ctest's openapi.answers: every e2e test records the answers it got
(harness.py, when AS_ANSWERS_DIR is set: one JSON line per answer) and this
validates them all once the e2e tests are done, so the whole suite's answers
are checked without running it twice.

    python3 tests/e2e/openapi_check.py DIR

An answer is checked against the response its operation describes for its
status (or `default`): the content type must be one described, and a JSON
body must validate (JSON Schema 2020-12, jsonschema). An answer to an
unknown path or method must be the error shape.
"""
import glob
import json
import os
import re
import sys

try:
    import jsonschema
except ImportError:  # scripts/test installs python3-jsonschema
    jsonschema = None

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
SPEC_PATH = os.path.join(ROOT, "docs", "openapi.json")
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")

with open(SPEC_PATH) as f:
    SPEC = json.load(f)


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


def check_dir(path):
    """Checks every recorded answer under path; answers (checker, files)."""
    checker = Checker()
    files = sorted(glob.glob(os.path.join(path, "*.jsonl")))
    for name in files:
        with open(name) as f:
            for line in f:
                a = json.loads(line)
                before = len(checker.failures)
                body = a["body"].encode() if a["body"] is not None else b""  # None: too big to keep
                checker.check(a["method"], a["path"], a["status"], a["content_type"], body)
                for i in range(before, len(checker.failures)):
                    checker.failures[i] = "%s: %s" % (a["test"], checker.failures[i])
    return checker, files


def main(argv):
    if len(argv) != 2:
        print("usage: openapi_check.py DIR (the e2e tests' recorded answers)", file=sys.stderr)
        return 2
    if jsonschema is None:
        print("openapi_check: needs python3-jsonschema", file=sys.stderr)
        return 1
    checker, files = check_dir(argv[1])
    for f in checker.failures[:60]:
        print(f)
    ops = len(checker.checked)
    print("%d answers of %d test files checked against docs/openapi.json, %d operations answered "
          "with success" % (checker.count, len(files), ops))
    if checker.count == 0:
        print("no recorded answer: did the e2e tests run with AS_ANSWERS_DIR=%s?" % argv[1])
        return 1
    print("%d passed, %d failed" % (checker.count - len(checker.failures), len(checker.failures)))
    return 1 if checker.failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

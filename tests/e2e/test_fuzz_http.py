"""A raw-socket HTTP fuzz pass against the real server: malformed and hostile
HTTP/1.1 (bad request lines, huge, duplicate and invalid headers, bad chunked
encodings, pipelining, slowloris fragments, invalid UTF-8 and JSON, wrong
types in every field of every route's body, huge numbers, deep nesting).

Every answer must be well-formed HTTP/1.1 with a Content-Length that matches
its body, a status the contract names (never a 500), and where an error has a
body, the contracted {"error":{"code":..,"message":..}} shape. After each
batch /healthz must still answer, and the server must exit 0 on SIGTERM
(under ASan that also means no leak and no memory error).

Seeded and bounded, it stops by itself: AS_FUZZ_SEED (default 20261203),
AS_FUZZ_REQUESTS (default 1500 cases) and AS_FUZZ_SECONDS (default 8; the
sanitizer build runs a longer pass, see CMakeLists.txt). A failure prints the
seed and the case's bytes, so `AS_FUZZ_SEED=N python3 tests/e2e/test_fuzz_http.py`
replays it."""
import json
import os
import random
import re
import socket
import sys
import time

from harness import DAY, T0, ServerTestCase, main, order_body

SEED = int(os.environ.get("AS_FUZZ_SEED", "20261203"))
MAX_CASES = int(os.environ.get("AS_FUZZ_REQUESTS", "1500"))
MAX_SECONDS = float(os.environ.get("AS_FUZZ_SECONDS", "8"))
BATCH = 50
MAX_BODY = 131072
READ_TIMEOUT = 10.0  # an answer slower than this is a hang

# What the contract lets an answer be (SPEC section 3, docs/api.md "Errors").
STATUSES = {200, 201, 400, 401, 403, 404, 405, 408, 409, 413, 414, 422, 431, 503, 507}
STATUS_LINE = re.compile(rb"^HTTP/1\.1 (\d{3}) [ -~]*$")
HEADER_LINE = re.compile(rb"^([!#$%&'*+.^_`|~0-9A-Za-z-]+): ?([\t -~]*)$")
CODE = re.compile(r"^[a-z][a-z0-9_]*$")

TOKENS_USED = ["adm", "ag1", "svc1", "svc2", "ag2", "svc"]
BAD_TOKENS = ["nope", "", "adm ", " adm", "ADM", "adm\x00x", "a" * 5000, "ädm"]


class Case:
    """Bytes to send on one connection (fragments with pauses between them),
    and what to expect: `complete` requests must each get an answer."""

    def __init__(self, kind, fragments, complete=1, head=False, pause=0.0, shut=True):
        self.kind = kind
        self.fragments = fragments if isinstance(fragments, list) else [fragments]
        self.complete = complete
        self.head = head
        self.pause = pause
        self.shut = shut

    def data(self):
        return b"".join(self.fragments)


def request(method, path, body=None, token="adm", headers=None, version=b"HTTP/1.1"):
    h = [b"Host: fuzz"]
    if token is not None:
        h.append(b"Authorization: Bearer " + (token.encode("utf-8", "surrogateescape")
                                               if isinstance(token, str) else token))
    if body is not None:
        if not isinstance(body, bytes):
            body = json.dumps(body).encode()
        h.append(b"Content-Type: application/json")
        h.append(b"Content-Length: %d" % len(body))
    for k, v in (headers or []):
        h.append(k + b": " + v)
    m = method if isinstance(method, bytes) else method.encode()
    p = path if isinstance(path, bytes) else path.encode()
    return m + b" " + p + b" " + version + b"\r\n" + b"\r\n".join(h) + b"\r\n\r\n" + (body or b"")


# ---- hostile values -------------------------------------------------------

def hostile_value(rng, depth=0):
    choices = [
        None, True, False, 0, -1, 1, 2 ** 31, -2 ** 31 - 1, 2 ** 53 + 1, 2 ** 63, -2 ** 63 - 1, 2 ** 64,
        10 ** 30, 1.5, -0.0, 1e308, -1e308, 5e-324, "", " ", "x" * rng.choice([1, 129, 300, 2001, 9000]),
        "\u0000", "💥", "\u202e", "🙂" * 600, "C0000000001", "o1", "../../etc/passwd", "%00", "<script>",
        [], {}, [1, "a", None], {"a": {"b": []}}, ["x"] * 600,
    ]
    v = rng.choice(choices)
    if depth < 2 and rng.random() < 0.1:
        v = [hostile_value(rng, depth + 1)] if rng.random() < 0.5 else {"k": hostile_value(rng, depth + 1)}
    return v


def edge_value(rng, like):
    """A value of the same JSON type as `like` but at an edge: boundary
    integers, empty, long or odd strings, empty or long arrays. These pass the
    type checks and reach the handlers' logic and the policies."""
    if isinstance(like, bool):
        return not like
    if isinstance(like, int):
        return rng.choice([0, 1, -1, 2, 7, 100, 2 ** 31 - 1, 2 ** 31, 2 ** 50, 2 ** 50 + 1, 2 ** 53,
                           2 ** 62, 2 ** 63 - 1, -2 ** 63, T0, T0 + 400 * DAY, 10 ** 12])
    if isinstance(like, str):
        return rng.choice(["", "a", "A" * 128, "A" * 129, "x" * 2000, "x" * 2001, "😀" * 500, "é",
                           "a b", "a.b_c:d-e", "return", "quality", "vip", "delivered", "m1", "m2",
                           "o2", "b2", "C0000000002", "null", "\\u0000", "%s", "%n%n%n"])
    if isinstance(like, list):
        return rng.choice([[], like * 60, like + like, [like[0]] * 501 if like else [1]])
    if isinstance(like, dict):
        return rng.choice([{}, dict(like, extra=1)])
    return like


def raw_json_oddities(rng):
    """Bodies json.dumps cannot make: invalid JSON, invalid UTF-8, huge
    numbers as text, deep nesting, duplicate keys."""
    depth = rng.choice([100, 3000, 50000])
    return rng.choice([
        b"", b"{", b"}", b"[", b"null", b"true", b"1", b"\"str\"", b"[]", b"{}{}", b"{} x",
        b"{\"a\":}", b"{'a':1}", b"{\"a\":1,}", b"\xef\xbb\xbf{}", b"{\"a\":\"\xff\xfe\"}",
        b"{\"order_id\":\"\xc3\x28\"}", b"{\"a\":\"\xed\xa0\x80\"}", b"{\"a\":\"\\ud800\"}",
        b"{\"a\":\"\\u0000\"}", b"{\"a\":NaN}", b"{\"a\":Infinity}", b"{\"a\":-}", b"{\"a\":01}",
        b"{\"qty\":1" + b"0" * 400 + b"}", b"{\"qty\":1e999999}", b"{\"qty\":-1e-999999}",
        b"{\"a\":1,\"a\":2}", b"[" * depth + b"]" * depth, b"{\"a\":" * depth + b"1" + b"}" * depth,
        b"{\"a\":[" + b"1," * 20000 + b"1]}", b"\x00\x01\x02", bytes(rng.randrange(256) for _ in range(64)),
        b"{\"action\":\"note\",\"body\":\"" + b"\xff" * 10 + b"\"}",
    ])


# ---- route bodies: a valid template per route; every field gets hostile ----

def templates(ctx):
    oid, cid = ctx["order"], ctx["case"]
    order = order_body(order_id="fz-%d" % ctx["n"], now=T0)
    return [
        ("POST", "/v1/orders", order),
        ("POST", "/v1/orders/%s/tracking" % oid, {"status": "in_transit", "at": T0, "carrier": "SF",
                                                  "tracking_no": "T1", "note": "n"}),
        ("PUT", "/v1/orders/%s/prices/s1" % oid, {"price_cents": 4000, "at": T0}),
        ("POST", "/v1/cases", {"type": "consultation", "order_id": oid, "buyer_id": "b1", "sku": "s1",
                               "qty": 1, "reason": "other", "description": "d", "channel": "chat",
                               "opened": False, "photos": ["http://p/1"]}),
        ("POST", "/v1/cases/%s/actions" % cid, {"action": ctx["rng"].choice(ACTIONS), "body": "b",
                                                "by": "agent", "reason": "r", "agent_id": "a1",
                                                "carrier": "SF", "tracking_no": "T", "result": "pass",
                                                "notes": "n", "amount_cents": 1, "resolution": "done"}),
        ("POST", "/v1/cases/%s/survey" % cid, {"csat": 4, "nps": 9, "comment": "c"}),
        ("POST", "/v1/agents", {"agent_id": "fa%d" % (ctx["n"] % 7), "name": "F", "queues": ["quality"],
                                "skills": ["x"], "capacity": 3, "online": True}),
        ("POST", "/v1/admin/policies/dry-run", {"case": {"type": "return", "reason": "no_reason",
                                                         "channel": "app", "sku": "s1", "qty": 1},
                                                "order": order_body(now=T0)}),
        ("POST", "/v1/admin/policies/replay", {"since": T0 - DAY, "limit": 5}),
        ("POST", "/v1/admin/clock", {"advance": 60}),
        ("POST", "/v1/admin/clock", {"set": T0 + ctx["n"]}),
        ("POST", "/v1/admin/policies/shadow", {"sources": {"returns.lua": "return {evaluate = 1"}}),
        ("DELETE", "/v1/admin/policies/shadow", {}),
        ("POST", "/v1/agents/a1/availability", {"online": True, "capacity": 3}),
        ("POST", "/v1/agents/a1/next", {}),
        ("POST", "/v1/customers/b1/nps", {"nps": 7, "comment": "c", "channel": "app", "merchant_id": "m1"}),
    ]


ACTIONS = ["approve", "reject", "ship_back", "receive", "inspect", "refund", "ship_to_customer", "repair_done",
           "resolve", "close", "reopen", "escalate", "reply", "note", "assign", "fly", "", "NOTE"]

GET_PATHS = [
    "/v1/orders/{o}", "/v1/cases/{c}", "/v1/cases/{c}/timeline", "/v1/customers/b1/cases",
    "/v1/cases?status=open&type=return&queue=q&assignee=a1&buyer_id=b1&order_id=o1&merchant_id=m1&breached=true",
    "/v1/cases?limit={n}&cursor={s}", "/v1/cases?breached={s}", "/v1/cases?status={s}",
    "/v1/events?after={n}&limit={n}", "/v1/alerts?kind={s}&limit={n}",
    "/v1/reports/kpi?from={n}&to={n}&group_by={s}", "/v1/agents", "/v1/admin/policies", "/v1/admin/routes",
    "/v1/cases?sort={s}&priority={s}&due_before={n}&created_from={n}&created_to={n}&cursor={s}",
    "/v1/cases?phone={s}&email={s}", "/v1/cases?tracking_no={s}&assignee=none&status={s},{s}",
    "/v1/agents/a1/next", "/v1/agents/{s}/next", "/v1/customers/b1/nps", "/v1/customers/{s}/nps",
    "/v1/surveys?kind={s}&channel={s}&from={n}&to={n}&limit={n}&cursor={s}",
    "/healthz", "/metrics",
]

QUERY_VALUES = ["", "-1", "0", "1", "99999999999999999999999", "1e3", "abc", "%zz", "%00", "%ff%fe", "+",
                "a%20b", "x" * 300, "C0000000001", "true", "maybe", "agent", "merchant", "\u00e9"]

PATH_IDS = ["o1", "", "x" * 300, "%zz", "%00", "%2F", "..", "%E2%82%AC", "o1%20", "C0000000001",
            "C9999999999", "a/b", "%", "%%", "\u00e9".encode().decode("latin-1")]


def mutate(rng, body, typed=False):
    """A copy of body with one field (maybe nested) made hostile (typed: an
    edge value of its own type), removed, or an unknown one added."""
    body = json.loads(json.dumps(body))
    paths = []

    def walk(v, path):
        if isinstance(v, dict):
            for k in v:
                paths.append(path + [k])
                walk(v[k], path + [k])
        elif isinstance(v, list):
            for i, x in enumerate(v[:2]):
                paths.append(path + [i])
                walk(x, path + [i])
    walk(body, [])
    what = rng.random()
    if not paths or what < 0.05:
        return hostile_value(rng)
    path = rng.choice(paths)
    parent = body
    for p in path[:-1]:
        parent = parent[p]
    if what < 0.15 and isinstance(parent, dict):
        del parent[path[-1]]
    elif what < 0.2 and isinstance(parent, dict):
        parent[rng.choice(["extra", "__proto__", "", "a" * 300])] = hostile_value(rng)
    else:
        parent[path[-1]] = edge_value(rng, parent[path[-1]]) if typed else hostile_value(rng)
    return body


# ---- case generators -----------------------------------------------------

def gen_field_types(rng, ctx):
    method, path, body = rng.choice(templates(ctx))
    token = rng.choice(TOKENS_USED + ["adm", "adm", "adm"])
    return Case("field", request(method, path, mutate(rng, body), token=token))


def gen_field_edges(rng, ctx):
    method, path, body = rng.choice(templates(ctx))
    for _ in range(rng.randint(1, 3)):
        body = mutate(rng, body, typed=True)
    return Case("edge", request(method, path, body, token=rng.choice(["adm", "svc1", "ag1", "svc"])))


CASE_TYPES = ["return", "exchange", "refund_only", "repair", "price_protection", "complaint", "consultation",
              "logistics"]
REASONS = ["no_reason", "quality", "wrong_item", "damaged_in_transit", "not_as_described", "not_received",
           "price_drop", "late_delivery", "attitude", "other"]


def gen_walk(rng, ctx):
    """A new case of any type, then a pipeline of random actions on it with
    edge arguments: the state machine and the policies with odd inputs."""
    body = {"type": rng.choice(CASE_TYPES), "order_id": rng.choice(["o1", "o1", "o2"]), "sku": "s1",
            "reason": rng.choice(REASONS), "channel": "app", "opened": rng.random() < 0.5,
            "photos": ["http://p/1"] if rng.random() < 0.5 else []}
    if rng.random() < 0.3:
        body["qty"] = edge_value(rng, 1)
    cid = ctx["open_case"](body)
    if cid is None:
        return Case("walk", request("GET", "/healthz", token=None))
    parts = []
    for _ in range(rng.randint(1, 6)):
        _, _, args = templates(ctx)[4]
        args = mutate(rng, dict(args, action=rng.choice(ACTIONS[:15])), typed=rng.random() < 0.8)
        parts.append(request("POST", "/v1/cases/%s/actions" % cid, args, token=rng.choice(["adm", "ag1", "svc1"])))
    if rng.random() < 0.3:
        parts.append(request("POST", "/v1/cases/%s/survey" % cid, {"csat": rng.randint(0, 6), "nps": 3}))
    return Case("walk", b"".join(parts), complete=len(parts))


def gen_raw_json(rng, ctx):
    method, path, _ = rng.choice(templates(ctx))
    return Case("json", request(method, path, raw_json_oddities(rng), token=rng.choice(TOKENS_USED)))


def gen_get(rng, ctx):
    tpl = rng.choice(GET_PATHS)
    path = (tpl.replace("{o}", rng.choice([ctx["order"], "o2"] + PATH_IDS))
               .replace("{c}", rng.choice([ctx["case"]] + PATH_IDS)))
    while "{n}" in path or "{s}" in path:
        path = path.replace("{n}", rng.choice(QUERY_VALUES), 1).replace("{s}", rng.choice(QUERY_VALUES), 1)
    method = rng.choice(["GET", "GET", "GET", "HEAD"])
    token = rng.choice(TOKENS_USED + BAD_TOKENS + [None])
    return Case("get", request(method, path.encode("utf-8"), token=token), head=method == "HEAD")


def gen_request_line(rng, ctx):
    lines = [
        b"GET / HTTP/1.1", b"GET /healthz", b"GET  /healthz HTTP/1.1", b"get /healthz HTTP/1.1",
        b"FOO /healthz HTTP/1.1", b"GET /healthz HTTP/2.0", b"GET /healthz HTTP/0.9", b"GET /healthz HTTP/1.1 x",
        b"GET healthz HTTP/1.1", b"GET * HTTP/1.1", b"OPTIONS * HTTP/1.1", b"CONNECT fuzz:80 HTTP/1.1",
        b"GET http://fuzz/healthz HTTP/1.1", b"GET /heal\x00thz HTTP/1.1", b"GET /h\x7fz HTTP/1.1",
        b"GET /" + b"a" * 20000 + b" HTTP/1.1", b"GET /v1/orders/" + b"%41" * 3000 + b" HTTP/1.1",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", b"PRI * HTTP/2.0\r\n\r\nSM", b"GET /healthz HTTP/1.1\n",
        b" GET /healthz HTTP/1.1", b"GET /healthz?" + b"q=" * 9000 + b" HTTP/1.1", b"DELETE /v1/orders HTTP/1.1",
        b"PATCH /v1/cases HTTP/1.1", b"GET /v1/cases/%ZZ HTTP/1.1", b"GET /\xff\xfe HTTP/1.1",
        b"POST /v1/orders HTTP/1.1", b"TRACE / HTTP/1.1", b"\r\n\r\nGET /healthz HTTP/1.1",
    ]
    line = rng.choice(lines)
    tail = rng.choice([b"\r\nHost: f\r\n\r\n", b"\r\nAuthorization: Bearer adm\r\n\r\n", b"\r\n\r\n", b"\n\n"])
    return Case("line", line + tail, complete=0)


def gen_headers(rng, ctx):
    huge = b"X-Big: " + b"a" * rng.choice([8000, 17000, 70000])
    many = b"\r\n".join(b"X-H%d: v" % i for i in range(rng.choice([50, 200, 2000])))
    variants = [
        [huge], [many], [b"Content-Length: 5", b"Content-Length: 6"], [b"Content-Length: 5", b"Content-Length: 5"],
        [b"Content-Length: -1"], [b"Content-Length: +5"], [b"Content-Length: 0x5"], [b"Content-Length: 5 5"],
        [b"Content-Length: 99999999999999999999999"], [b"Content-Length: 5", b"Transfer-Encoding: chunked"],
        [b"Transfer-Encoding: gzip"], [b"Transfer-Encoding: chunked, gzip"], [b"Transfer-Encoding: identity"],
        [b"Bad Header: x"], [b"NoColon"], [b": empty-name"], [b"X-Fold: a", b" continued"], [b"X-Nul: a\x00b"],
        [b"X-Utf: \xff\xfe"], [b"Authorization: Bearer adm", b"Authorization: Bearer nope"],
        [b"Authorization: Basic YWRtOmFkbQ=="], [b"Authorization: bearer adm"], [b"Authorization: Bearer"],
        [b"Authorization: Bearer  adm"], [b"Expect: 100-continue"], [b"Expect: teapot"],
        [b"Connection: close, keep-alive, upgrade"], [b"Upgrade: websocket", b"Connection: upgrade"],
        [b"Host: a", b"Host: b"], [b"Content-Type: text/plain"], [b"Idempotency-Key: " + b"k" * 300],
        [b"Idempotency-Key: \xff"], [b"X-" + b"n" * 20000 + b": v"],
    ]
    hs = rng.choice(variants)
    body = b"{\"a\":1}"
    method = rng.choice([b"GET /healthz", b"POST /v1/orders", b"POST /v1/cases", b"GET /v1/cases"])
    data = method + b" HTTP/1.1\r\nHost: f\r\n" + b"\r\n".join(hs) + b"\r\n\r\n" + body
    return Case("header", data, complete=0)


def gen_chunked(rng, ctx):
    good = json.dumps({"agent_id": "ch", "name": "C"}).encode()
    bodies = [
        b"%x\r\n%s\r\n0\r\n\r\n" % (len(good), good),  # valid
        b"%x;ext=1\r\n%s\r\n0\r\n\r\n" % (len(good), good),
        b"%x\r\n%s\r\n0\r\nX-Trailer: t\r\n\r\n" % (len(good), good),
        b"fffffffffffffffffff\r\n", b"-1\r\nab\r\n0\r\n\r\n", b"zz\r\nab\r\n0\r\n\r\n", b"2\r\nabc\r\n0\r\n\r\n",
        b"2\nab\n0\n\n", b"2\r\nab", b"0\r\n", b"2 \r\nab\r\n0\r\n\r\n", b"2\r\nab\r\n0\r\nBad Trailer\r\n\r\n",
        b"%x\r\n%s\r\n0\r\n\r\n" % (MAX_BODY + 10, b"a" * (MAX_BODY + 10)),
        b"".join(b"1\r\na\r\n" for _ in range(3000)) + b"0\r\n\r\n",
        b"1\r\n\xff\r\n0\r\n\r\n",
    ]
    body = rng.choice(bodies)
    data = (b"POST /v1/agents HTTP/1.1\r\nHost: f\r\nAuthorization: Bearer adm\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
    return Case("chunked", data, complete=0)


def gen_pipeline(rng, ctx):
    parts, complete = [], 0
    for _ in range(rng.randint(2, 12)):
        r = rng.random()
        if r < 0.6:
            parts.append(request("GET", "/healthz", token=None))
            complete += 1
        elif r < 0.8:
            method, path, body = rng.choice(templates(ctx))
            parts.append(request(method, path, mutate(rng, body)))
            complete += 1
        else:
            parts.append(rng.choice([b"GARBAGE\r\n\r\n", b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n"]))
            break  # the server closes after a malformed request
    return Case("pipeline", b"".join(parts), complete=complete)


def gen_reload(rng, ctx):
    """A policy reload (compiles the set and runs its tests: rare, it is slow)."""
    return Case("reload", request("POST", "/v1/admin/policies/reload", rng.choice([{}, {"x": 1}, []])))


def gen_oversize(rng, ctx):
    body = b"{\"a\":\"" + b"x" * (MAX_BODY + 1) + b"\"}"
    return Case("oversize", request("POST", "/v1/orders", body), complete=0)


def gen_slow(rng, ctx):
    """One request in small fragments with pauses (the slowloris shape)."""
    data = request("GET", "/v1/orders/" + ctx["order"], token="adm")
    cut = sorted(rng.sample(range(1, len(data)), rng.randint(2, 6)))
    frags = [data[a:b] for a, b in zip([0] + cut, cut + [len(data)])]
    return Case("slow", frags, complete=1, pause=0.01)


GENERATORS = [
    (gen_field_types, 20), (gen_field_edges, 15), (gen_walk, 6), (gen_raw_json, 12), (gen_get, 15), (gen_request_line, 8), (gen_headers, 10),
    (gen_chunked, 8), (gen_pipeline, 8), (gen_oversize, 1), (gen_slow, 2), (gen_reload, 1),
]


# ---- reading and checking answers ------------------------------------------

class Malformed(AssertionError):
    pass


def split_replies(data, head):
    """The answers in a byte stream, each (status, headers, body); raises
    Malformed for anything that is not well-formed HTTP/1.1."""
    out = []
    while data:
        end = data.find(b"\r\n\r\n")
        if end < 0:
            raise Malformed("an answer's head never ended: %r" % data[:200])
        lines = data[:end].split(b"\r\n")
        m = STATUS_LINE.match(lines[0])
        if not m:
            raise Malformed("bad status line %r" % lines[0])
        headers = {}
        for line in lines[1:]:
            hm = HEADER_LINE.match(line)
            if not hm:
                raise Malformed("bad header line %r" % line)
            name = hm.group(1).lower()
            if name in headers and name != b"set-cookie":
                raise Malformed("header %r twice" % name)
            headers[name] = hm.group(2)
        if b"transfer-encoding" in headers:
            raise Malformed("a chunked answer (the server always sends Content-Length)")
        if b"content-length" not in headers or not headers[b"content-length"].isdigit():
            raise Malformed("no valid Content-Length: %r" % lines)
        n = 0 if head else int(headers[b"content-length"])
        body = data[end + 4:end + 4 + n]
        if len(body) != n:
            raise Malformed("body shorter than its Content-Length (%d < %d)" % (len(body), n))
        out.append((int(m.group(1)), headers, body))
        data = data[end + 4 + n:]
        head = False  # only a single HEAD request is ever sent
    return out


def check_reply(status, headers, body):
    if status not in STATUSES:
        raise AssertionError("status %d is not one the contract names: %r" % (status, body[:300]))
    ctype = headers.get(b"content-type", b"")
    if status >= 400:
        if not body:
            return
        if not ctype.startswith(b"application/json"):
            raise AssertionError("error %d without a JSON body: %r" % (status, body[:300]))
        doc = json.loads(body)  # also fails on invalid UTF-8
        err = doc.get("error") if isinstance(doc, dict) else None
        if (not isinstance(err, dict) or not isinstance(err.get("code"), str)
                or not CODE.match(err["code"]) or not isinstance(err.get("message"), str)):
            raise AssertionError("error body not {error:{code,message}}: %r" % body[:300])
    elif ctype.startswith(b"application/json") and body:
        json.loads(body)


def exchange(port, case):
    """Sends the case on one connection; answers everything read until the
    server closes."""
    s = socket.create_connection(("127.0.0.1", port), timeout=READ_TIMEOUT)
    chunks = []
    try:
        s.settimeout(READ_TIMEOUT)
        try:
            for i, frag in enumerate(case.fragments):
                if i and case.pause:
                    time.sleep(case.pause)  # the slow client's own pace, not waiting for the server
                s.sendall(frag)
            if case.shut:
                s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may close on a bad head before the rest is sent
        while True:
            try:
                b = s.recv(65536)
            except ConnectionResetError:
                break
            if not b:
                break
            chunks.append(b)
    finally:
        s.close()
    return b"".join(chunks)


class Loris:
    """Slow clients held open beside a batch: each sends a request head one
    byte per case. They end with a 408 (the request timeout) or our close;
    whatever they read must be well-formed too."""
    HEAD = b"POST /v1/orders HTTP/1.1\r\nHost: f\r\nAuthorization: Bearer adm\r\nX-Slow: " + b"s" * 200

    def __init__(self, port, n=3):
        self.socks = []
        for _ in range(n):
            c = socket.create_connection(("127.0.0.1", port), timeout=READ_TIMEOUT)
            c.setblocking(False)
            self.socks.append([c, 0, b""])

    def drip(self):
        for entry in self.socks:
            c, sent, _ = entry
            try:
                if sent < len(self.HEAD):
                    c.send(self.HEAD[sent:sent + 1])
                    entry[1] += 1
                entry[2] += c.recv(65536)
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                pass  # closed by the server after its 408

    def finish(self):
        """Closes them; answers what each read, for checking."""
        got = []
        for c, _, data in self.socks:
            try:
                data += c.recv(65536)
            except OSError:
                pass
            c.close()
            got.append(data)
        return got


class HttpFuzz(ServerTestCase):
    server_kwargs = {"extra_args": ["--max-body", str(MAX_BODY), "--request-timeout", "3000",
                                    "--idle-timeout", "3000", "--quiet"]}

    def seed_data(self):
        self.make_order(order_id="o1", merchant_id="m1", qty=5)
        self.make_order(order_id="o2", merchant_id="m2", buyer_id="b2")
        self.make_agent("a1", queues=["customer_service", "after_sales"])
        c = self.open_case(type="return", order_id="o1", reason="quality")
        return c["case_id"]

    def open_any(self, body):
        """Opens a case (valid types, odd values); its id, or None if refused."""
        r = self.s.post("/v1/cases", body, timeout=READ_TIMEOUT)
        self.assertIn(r.status, (201, 400, 404, 409, 422), "opening %r: %r" % (body, r))
        return r.json["case_id"] if r.status == 201 else None

    def healthz(self, context):
        try:
            r = self.s.get("/healthz", token=None, timeout=READ_TIMEOUT)
        except OSError as e:
            self.fail("%s: /healthz did not answer (%s); server log:\n%s" % (context, e, self.s.tail()))
        self.assertEqual(r.status, 200, "%s: /healthz answered %r" % (context, r))

    def test_hostile_http_never_breaks_the_server(self):
        rng = random.Random(SEED)
        ctx = {"rng": rng, "order": "o1", "case": self.seed_data(), "n": 0, "open_case": self.open_any}
        gens = [g for g, w in GENERATORS for _ in range(w)]
        statuses = {}
        started = time.monotonic()
        n = 0
        while n < MAX_CASES and time.monotonic() - started < MAX_SECONDS:
            loris = Loris(self.s.port)
            for _ in range(BATCH):
                loris.drip()
                n += 1
                ctx["n"] = n
                case = rng.choice(gens)(rng, ctx)
                raw = exchange(self.s.port, case)
                where = "seed %d case %d (%s): sent %r" % (SEED, n, case.kind, case.data()[:400])
                try:
                    replies = split_replies(raw, case.head)
                    for status, headers, body in replies:
                        check_reply(status, headers, body)
                        statuses[status] = statuses.get(status, 0) + 1
                except (AssertionError, ValueError) as e:
                    self.fail("%s\ngot %r\n%s\nserver log:\n%s" % (where, raw[:600], e, self.s.tail()))
                self.assertGreaterEqual(len(replies), case.complete,
                                        "%s\nanswered %d of %d complete requests: %r"
                                        % (where, len(replies), case.complete, raw[:600]))
                if self.s.proc.poll() is not None:
                    self.fail("%s\nthe server died (%r); log:\n%s" % (where, self.s.proc.returncode,
                                                                     self.s.tail()))
            for data in loris.finish():
                for status, headers, body in split_replies(data, False):
                    self.assertEqual(status, 408, "a slow client got %r" % data[:300])
                    check_reply(status, headers, body)
            self.healthz("seed %d after case %d" % (SEED, n))
        sys.stderr.write("\nfuzz: seed %d, %d cases in %.1f s, statuses %s\n"
                         % (SEED, n, time.monotonic() - started, dict(sorted(statuses.items()))))
        self.assertGreater(n, 0)

    def test_every_field_of_every_route_refuses_a_wrong_type(self):
        """Not random: each field (nested ones too) of each route's body with
        a value of every other JSON type is a 400 invalid_field naming it.
        null is "absent" for an optional field. dry-run is left out: it hands
        its case and order to the policies as they are."""
        ctx = {"rng": random.Random(SEED), "order": "o1", "case": self.seed_data(), "n": 0}
        wrong_types = [None, True, 1.5, 7, "s", [], {}]
        wrong = []
        for method, path, body in templates(ctx):
            if path.endswith("/dry-run"):
                continue
            if path.endswith("/actions"):
                body = {"action": "note", "body": "b"}
            for field, value, sent in field_variants(body, wrong_types):
                r = self.s.request(method, path, body=sent)
                if value is None and r.status != 500:
                    continue  # null leaves an optional field out; what follows is the route's business
                err = r.json.get("error", {}) if isinstance(r.json, dict) else {}
                if r.status != 400 or err.get("code") != "invalid_field" or \
                        not str(err.get("field", "")).startswith(field.split(".")[0].split("[")[0]):
                    wrong.append("%s %s %s=%r: %d %s" % (method, path, field, value, r.status, r.raw[:160]))
        self.assertEqual(wrong, [], "\n".join(wrong))


def field_variants(body, values):
    """(field path as the API names it, value, body with that field set to
    value) for every field and every value of another JSON type."""
    def kind(v):
        return "int" if isinstance(v, int) and not isinstance(v, bool) else type(v).__name__

    def walk(v, path, name):
        items = v.items() if isinstance(v, dict) else enumerate(v[:1]) if isinstance(v, list) else []
        for k, x in items:
            sub = name + ("[%d]" % k if isinstance(k, int) else ("." if name else "") + k)
            yield path + [k], sub, x
            yield from walk(x, path + [k], sub)

    for path, name, orig in list(walk(body, [], "")):
        for value in values:
            if kind(value) == kind(orig) or (kind(orig) == "float" and kind(value) == "int"):
                continue
            sent = json.loads(json.dumps(body))
            parent = sent
            for p in path[:-1]:
                parent = parent[p]
            parent[path[-1]] = value
            yield name, value, sent


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# examples/api/walkthrough.sh: one return, start to finish, through the HTTP API.
#
#   AS_URL=http://127.0.0.1:8080 AS_TOKEN=$(cat var/admin.token) examples/api/walkthrough.sh
#
# Needs an admin token (a fresh `scripts/run` writes one to var/admin.token),
# curl and python3 (to read fields out of the answers). Every step prints the
# request and the fields that matter; any unexpected status stops the script.
set -euo pipefail

URL="${AS_URL:-http://127.0.0.1:8080}"
TOKEN="${AS_TOKEN:?set AS_TOKEN to an admin token}"
RUN="${AS_RUN:-$(date +%s)-$$}" # makes the ids of this run unique
NOW="$(date +%s)"
DAY=86400

# call METHOD PATH [BODY [HEADER]]: prints the answer's body; fails unless 2xx.
call() {
    local args=(-sS -X "$1" -H "Authorization: Bearer $TOKEN" -w '\n%{http_code}')
    [[ $# -ge 3 ]] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
    [[ $# -ge 4 ]] && args+=(-H "$4")
    local out code
    out="$(curl "${args[@]}" "$URL$2")"
    code="${out##*$'\n'}"
    out="${out%$'\n'*}"
    echo ">> $1 $2 -> $code" >&2
    [[ "$code" == 2* ]] || { echo "$out" >&2; exit 1; }
    printf '%s\n' "$out"
}

# field JSON PATH...: one value out of an answer (python3 -c, no jq needed).
field() {
    python3 -c 'import json,sys
v=json.loads(sys.argv[1])
for k in sys.argv[2:]: v=v[int(k)] if isinstance(v,list) else v[k]
print(v if not isinstance(v,(dict,list)) else json.dumps(v))' "$@"
}

ORDER="order-$RUN"
AGENT="agent-$RUN"

# 1. The platform feeds the order: paid 3 days ago, delivered 2 days ago.
call POST /v1/orders "{\"order_id\":\"$ORDER\",\"buyer_id\":\"buyer-$RUN\",\"merchant_id\":\"shop-1\",
  \"paid_at\":$((NOW - 3 * DAY)),\"delivered_at\":$((NOW - 2 * DAY)),\"shipping_cents\":800,
  \"items\":[{\"sku\":\"tee-42\",\"category\":\"apparel\",\"price_cents\":5900,\"qty\":1,\"title\":\"T-shirt\"}],
  \"buyer\":{\"tier\":\"regular\",\"phone\":\"13812345678\"}}" >/dev/null

# 2. An after-sales agent comes online.
call POST /v1/agents "{\"agent_id\":\"$AGENT\",\"name\":\"Lin\",\"queues\":[\"after_sales\"],
  \"skills\":[],\"capacity\":20,\"online\":true}" >/dev/null

# 3. The buyer asks to return it, no reason given: the 7-day rule approves it.
kase="$(call POST /v1/cases "{\"type\":\"return\",\"order_id\":\"$ORDER\",\"reason\":\"no_reason\",
  \"channel\":\"app\",\"description\":\"does not fit\"}")"
CASE="$(field "$kase" case_id)"
echo "   case $CASE: $(field "$kase" status)/$(field "$kase" stage), decision $(field "$kase" decision outcome)" \
     "($(field "$kase" decision reason_code)), queue $(field "$kase" queue), assignee $(field "$kase" assignee)," \
     "return shipping paid by $(field "$kase" refund shipping_paid_by)"

# 4. The agent answers; the buyer ships it back; the warehouse receives and inspects it.
act() { call POST "/v1/cases/$CASE/actions" "$1"; }
act '{"action":"reply","by":"agent","body":"Approved: please send it back within 7 days."}' >/dev/null
act '{"action":"ship_back","carrier":"SF","tracking_no":"SF100200300"}' >/dev/null
act '{"action":"receive"}' >/dev/null
kase="$(act '{"action":"inspect","result":"pass","notes":"unused, tags on"}')"
echo "   inspected: $(field "$kase" status)/$(field "$kase" stage), approved $(field "$kase" refund approved_cents) cents"

# 5. Money goes back; an Idempotency-Key makes a retried refund safe: the
#    retry answers the first result and pays nothing more.
APPROVED="$(field "$kase" refund approved_cents)"
REFUND="{\"action\":\"refund\",\"amount_cents\":$APPROVED}"
kase="$(call POST "/v1/cases/$CASE/actions" "$REFUND" "Idempotency-Key: refund-$RUN")"
echo "   refunded: $(field "$kase" status)/$(field "$kase" stage), $(field "$kase" refund refunded_cents) cents"
kase="$(call POST "/v1/cases/$CASE/actions" "$REFUND" "Idempotency-Key: refund-$RUN")"
echo "   retried:  still $(field "$kase" refund refunded_cents) cents refunded"

# 6. What happened, in order, and what the platform's feed saw.
timeline="$(call GET "/v1/cases/$CASE/timeline")"
python3 -c 'import json,sys
for e in json.loads(sys.argv[1])["events"]:
    d=e["data"]; what=d.get("action") or d.get("module","")
    print("   %-14s %-12s %s" % (e["type"], e["actor"]["role"], what))' "$timeline"
events="$(call GET "/v1/events?after=0&limit=200")"
python3 -c 'import json,sys
evs=[e for e in json.loads(sys.argv[1])["events"] if e.get("case_id")==sys.argv[2]]
print("   feed: " + ", ".join(e["type"] for e in evs))' "$events" "$CASE"

-- survey.plan / survey.on_answer and the risk thresholds.

local x = make_ctx { now = 1794794400 }
local resolved = { case_id = "s1", type = "return", status = "resolved", followup = false }

test("a resolved case gets a survey one hour later with CSAT, NPS and comment", function()
    local plan = policy.survey.plan(resolved, x)
    eq(plan.send_after, 3600)
    local ids = {}
    for _, q in ipairs(plan.questions) do ids[#ids + 1] = q.id end
    eq(ids, { "csat", "nps", "comment" })
    eq(plan.questions[1].required, true)
    eq(plan.questions[1].min .. "-" .. plan.questions[1].max, "1-5")
end)

test("follow-up cases are not surveyed again", function()
    eq(policy.survey.plan({ case_id = "s2", type = "complaint", followup = true }, x), nil)
end)

test("CSAT 2 opens a follow-up for the quality team", function()
    local f = policy.survey.on_answer(resolved, { csat = 2 }, x)
    eq(f.followup, true)
    eq(f.queue, "quality")
    ok(f.reason:find("2/5", 1, true), f.reason)
    eq(policy.survey.on_answer(resolved, { csat = 1, nps = 0, comment = "slow" }, x).queue, "quality")
end)

test("CSAT 3 and above close the loop without follow-up", function()
    eq(policy.survey.on_answer(resolved, { csat = 3 }, x), nil)
    eq(policy.survey.on_answer(resolved, { csat = 5, nps = 10 }, x), nil)
end)

test("risk thresholds: complaint spikes and stalled parcels at 48 hours", function()
    local r = policy.risk.rules
    eq(r.stalled_parcel_hours, 48)
    eq(r.complaints_per_sku_24h, 5)
    eq(r.complaints_per_merchant_24h, 20)
end)

test("risk thresholds on returns: spikes per sku and merchant, serial returners across buyer ids", function()
    local r = policy.risk.rules
    eq(r.returns_per_sku_24h, 10)
    eq(r.returns_per_merchant_24h, 50)
    eq(r.serial_returns_30d, 6)
    eq(r.serial_returner_buyers, 2)
    for name, v in pairs(r) do ok(math.type(v) == "integer" and v > 0, name) end
end)

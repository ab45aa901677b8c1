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

test("relationship NPS: 30 days after a buyer's activity, at most one a quarter", function()
    local now = 1794794400
    local c = make_ctx { now = now }
    local first = policy.survey.relationship({ buyer_id = "b1", rounds = 0 }, c)
    eq(first.send_after, 30 * DAY)
    eq(first.questions[1].id .. ":" .. first.questions[1].min .. "-" .. first.questions[1].max, "nps:0-10")
    -- sent 20 days ago: the next not before 90 days after that
    eq(policy.survey.relationship({ buyer_id = "b1", rounds = 1, last_sent_at = now - 20 * DAY }, c).send_after,
       70 * DAY)
    eq(policy.survey.relationship({ buyer_id = "b1", rounds = 1, last_sent_at = now - 80 * DAY }, c).send_after,
       30 * DAY)
end)

test("floor: a merchant cannot drop or delay the platform's relationship survey", function()
    local buyer = { buyer_id = "b1", rounds = 0 }
    eq(policy.floor.survey_relationship(nil, buyer, x).send_after, 30 * DAY)
    eq(policy.floor.survey_relationship({ send_after = 99 * DAY }, buyer, x).send_after, 30 * DAY)
    eq(policy.floor.survey_relationship({ send_after = DAY, questions = {} }, buyer, x).send_after, DAY)
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

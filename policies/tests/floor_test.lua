-- floor: what a merchant override can never take away. The default set has
-- no merchant overrides, so these tests hand the floor a merchant's answer
-- directly, the way the host does after an override answered.

local NOW = 1794794400 -- Mon 2026-11-16 10:00 UTC+8
local x = make_ctx { now = NOW, merchant_id = "strict", customers = {
    b = { returns_30d = 0, cases_30d = 0, lifetime_spend_cents = 0, tier = "vip" } } }

local function parcel(days_ago)
    return { order_id = "of", paid_at = NOW - 20 * DAY, delivered_at = NOW - days_ago * DAY, shipping_cents = 600,
        items = { { sku = "k", category = "apparel", price_cents = 4000, qty = 1 } } }
end

local function ask(kind, reason, opened)
    return { case_id = "f1", type = kind, reason = reason, sku = "k", qty = 1, buyer_id = "b", opened = opened,
        photos = {}, created_at = NOW, escalated = false, followup = false,
        item = { sku = "k", category = "apparel", price_cents = 4000, qty = 1 } }
end

local function merchant_says(outcome, payer)
    return { outcome = outcome, reason_code = "merchant_rule", message = "merchant_rule: no",
        shipping_paid_by = payer }
end

-- The floor's verdict on a merchant's answer to a claim on a parcel delivered days_ago.
local function judge(outcome, payer, claim, days_ago)
    return policy.floor.returns_evaluate(merchant_says(outcome, payer), claim, parcel(days_ago), x)
end

test("without an override a merchant gets the platform defaults", function()
    local c, o = ask("return", "no_reason", false), parcel(2)
    eq(policy.merchant("nobody").returns.evaluate(c, o, x), policy.returns.evaluate(c, o, x))
end)

test("floor: a merchant cannot refuse the 7-day no-reason return", function()
    local d = judge("reject", "buyer", ask("return", "no_reason", false), 7)
    eq(d.outcome, "approve")
    eq(d.reason_code, "floor_applied")
    ok(d.message:find("7-day no-reason return", 1, true), d.message)
    eq(judge("review", "buyer", ask("return", "no_reason", false), 1).outcome, "approve")
end)

test("floor: outside the legal window the merchant's rejection stands", function()
    local d = judge("reject", "buyer", ask("return", "no_reason", false), 8)
    eq(d.reason_code, "merchant_rule")
end)

test("floor: a merchant may be more generous than the platform", function()
    eq(judge("approve", "buyer", ask("return", "no_reason", false), 30).outcome, "approve")
end)

test("floor: a merchant may decide what the platform only reviews", function()
    eq(judge("reject", "buyer", ask("return", "no_reason", true), 2).outcome, "reject")
end)

test("floor: faulty exchange and warranty repair are protected", function()
    eq(judge("reject", nil, ask("exchange", "quality", true), 10).reason_code, "floor_applied")
    local repair = ask("repair", "quality", true)
    repair.item = { sku = "k", category = "electronics", price_cents = 4000, qty = 1 }
    eq(judge("reject", nil, repair, 100).outcome, "approve")
end)

test("floor: the merchant pays shipping whenever it is at fault", function()
    local d = judge("approve", "buyer", ask("return", "damaged_in_transit", true), 3)
    eq(d.outcome .. "/" .. d.shipping_paid_by, "approve/merchant")
end)

test("floor: an override without a valid outcome gets the default decision", function()
    local d = policy.floor.returns_evaluate({ outcome = "maybe" }, ask("return", "no_reason", false),
        parcel(2), x)
    eq(d.outcome .. "/" .. d.reason_code, "approve/floor_applied")
end)

test("floor: a refund is never below the default amount", function()
    local c, o = ask("return", "quality", false), parcel(2)
    local r = policy.floor.compensation_refund({ amount_cents = 3000, breakdown = {} }, c, o, x)
    eq(r.amount_cents, 4600)
    eq(r.breakdown.floor_applied, true)
    eq(policy.floor.compensation_refund({ amount_cents = 5000, breakdown = {} }, c, o, x).amount_cents, 5000)
    eq(policy.floor.compensation_refund({ amount_cents = 4600.5 }, c, o, x).amount_cents, 4600)
end)

test("floor: goodwill coupons and the VIP lane cannot be cut", function()
    local late = { type = "logistics", reason = "late_delivery", buyer_id = "b" }
    local coupon = policy.floor.compensation_compensate
    eq(coupon(nil, late, nil, x).coupon_cents, policy.compensation.LATE_DELIVERY_COUPON_CENTS)
    eq(coupon({ coupon_cents = 2000, reason = "sorry" }, late, nil, x).coupon_cents, 2000)
    local desk = { queue = "shop_desk", priority = 4, skills = {} }
    local r = policy.floor.routing_route(desk, ask("return", "quality"), x)
    eq(r.queue .. "/" .. r.priority, "shop_desk/1")
end)

test("floor: SLA targets cannot be later than the platform's", function()
    local c = { case_id = "f2", type = "return", created_at = 1795140000 }
    local default = policy.sla.targets(c, x)
    eq(policy.floor.sla_targets({ resolution = 10 * DAY, business = false }, c, x), default)
    local quick = { resolution = DAY, business = false }
    eq(policy.floor.sla_targets(quick, c, x), quick)
end)

test("floor: a merchant may add SLA warnings, never drop the platform's", function()
    local c = { case_id = "f4", type = "return" }
    eq(policy.floor.sla_warnings(nil, c, x), { percents = { 75, 90 } })
    eq(policy.floor.sla_warnings({ percents = {} }, c, x), { percents = { 75, 90 } })
    eq(policy.floor.sla_warnings({ percents = { 50, 90 } }, c, x), { percents = { 50, 75, 90 } })
    -- at most 4 in all, the platform's first; junk is left out
    eq(policy.floor.sla_warnings({ percents = { 10, 20, 30, 0, 150, "x" } }, c, x), { percents = { 10, 20, 75, 90 } })
end)

test("floor: the escalation ladder cannot be removed or slowed by a merchant", function()
    local c = { case_id = "f5", type = "return", priority = 3 }
    local lazy = policy.floor.sla_on_breach({ escalate = true, priority = 3 }, c, "resolution", x)
    eq(lazy.next_after, 4 * HOUR)
    eq(policy.floor.sla_on_breach({ escalate = true, next_after = HOUR }, c, "resolution", x).next_after, HOUR)
    eq(policy.floor.sla_escalate(nil, c, { level = 2 }, x), { queue = "supervisors", next_after = 20 * HOUR })
    eq(policy.floor.sla_escalate({ queue = "m_leads", next_after = DAY }, c, { level = 2 }, x),
       { queue = "m_leads", next_after = 20 * HOUR })
    eq(policy.floor.sla_escalate({ priority = 2 }, c, { level = 3 }, x), { priority = 2, alert_merchant = true })
    eq(policy.floor.sla_escalate({ priority = 1 }, c, { level = 4 }, x), { priority = 1 })
end)

test("floor: breaches escalate, surveys go out, low scores get their follow-up", function()
    eq(policy.floor.sla_on_breach(nil, { priority = 2 }, "resolution", x).escalate, true)
    local done = { case_id = "f3", type = "return", followup = false }
    eq(policy.floor.survey_plan(nil, done, x).send_after, 3600)
    eq(policy.floor.survey_on_answer(nil, done, { csat = 1 }, x).queue, "quality")
    eq(policy.floor.survey_on_answer(nil, done, { csat = 4 }, x), nil)
end)

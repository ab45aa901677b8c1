-- returns.evaluate: every eligibility rule of SPEC section 1, with each window
-- checked just inside and just outside.

local NOW = 1794794400 -- Mon 2026-11-16 10:00 UTC+8

local function order(over)
    local o = {
        order_id = "o1", buyer_id = "b1", merchant_id = "m1", paid_at = NOW - 4 * DAY,
        delivered_at = NOW - 2 * DAY, shipping_cents = 800,
        items = { { sku = "s1", category = "apparel", price_cents = 12900, qty = 1, title = "Shirt" } },
        buyer = { tier = "normal", lifetime_spend_cents = 0 },
    }
    for k, v in pairs(over or {}) do o[k] = v end
    return o
end

local function undelivered()
    local o = order()
    o.delivered_at = nil
    return o
end

local function claim(kind, reason, over)
    local c = {
        case_id = "c1", type = kind, reason = reason, order_id = "o1", sku = "s1", qty = 1,
        buyer_id = "b1", merchant_id = "m1", channel = "app", opened = false, photos = {},
        created_at = NOW, escalated = false, followup = false,
        item = { sku = "s1", category = "apparel", price_cents = 12900, qty = 1, title = "Shirt" },
    }
    for k, v in pairs(over or {}) do c[k] = v end
    return c
end

local function item(category)
    return { sku = "s1", category = category, price_cents = 5000, qty = 1, title = category }
end

local function ctx(returns_30d)
    return make_ctx { now = NOW, merchant_id = "m1", customers = {
        b1 = { returns_30d = returns_30d or 0, cases_30d = 1, lifetime_spend_cents = 0, tier = "normal" } } }
end

local function decide(c, o, x)
    return policy.returns.evaluate(c, o, x or ctx())
end

local function outcome(c, o, x)
    local d = decide(c, o, x)
    return d.outcome .. "/" .. d.reason_code
end

test("no-reason return of an unused item within 7 days is approved, buyer pays shipping", function()
    local d = decide(claim("return", "no_reason"), order())
    eq(d.outcome, "approve")
    eq(d.reason_code, "no_reason_return")
    eq(d.shipping_paid_by, "buyer")
end)

test("no-reason return window: exactly 7 days after delivery is inside", function()
    eq(outcome(claim("return", "no_reason"), order { delivered_at = NOW - 7 * DAY }),
        "approve/no_reason_return")
end)

test("no-reason return window: 7 days and 1 second after delivery is rejected with dates", function()
    local d = decide(claim("return", "no_reason"), order { delivered_at = NOW - 7 * DAY - 1 })
    eq(d.outcome, "reject")
    eq(d.reason_code, "window_expired")
    eq(d.message, "window_expired: delivered 2026-11-09, 7-day window closed 2026-11-16")
end)

test("opened item returned without a reason goes to review", function()
    eq(outcome(claim("return", "no_reason", { opened = true }), order()), "review/opened_no_reason")
end)

test("each merchant-fault reason approves a return with merchant-paid shipping", function()
    for _, reason in ipairs({ "quality", "wrong_item", "damaged_in_transit", "not_as_described", "not_received" }) do
        local d = decide(claim("return", reason, { opened = true }), order())
        eq(d.outcome, "approve", reason)
        eq(d.shipping_paid_by, "merchant", reason)
    end
end)

test("faulty return after 7 days is rejected and points to exchange or repair", function()
    local d = decide(claim("return", "quality"), order { delivered_at = NOW - 8 * DAY })
    eq(d.reason_code, "window_expired")
    ok(d.message:find("exchanged", 1, true), d.message)
    eq(d.shipping_paid_by, "merchant")
end)

test("opened liquor, food and personal care are not returnable without a quality reason", function()
    for _, cat in ipairs({ "liquor", "food", "personal_care" }) do
        eq(outcome(claim("return", "no_reason", { opened = true, item = item(cat) }), order()),
            "reject/opened_" .. cat, cat)
        eq(outcome(claim("exchange", "no_reason", { opened = true, item = item(cat) }), order()),
            "reject/opened_" .. cat, cat)
        eq(outcome(claim("return", "quality", { opened = true, item = item(cat) }), order()),
            "approve/merchant_fault", cat)
        eq(outcome(claim("return", "no_reason", { item = item(cat) }), order()),
            "approve/no_reason_return", cat .. " unopened")
    end
end)

test("perishable goods are never returned or exchanged: refund-only", function()
    eq(outcome(claim("return", "quality", { item = item("perishable") }), order()),
        "reject/perishable_refund_only")
    eq(outcome(claim("exchange", "quality", { item = item("perishable") }), order()),
        "reject/perishable_refund_only")
end)

test("return or exchange before delivery is rejected", function()
    eq(outcome(claim("return", "no_reason"), undelivered()), "reject/not_delivered")
    eq(outcome(claim("exchange", "quality"), undelivered()), "reject/not_delivered")
end)

test("exchange window: 15 days inside, 15 days and 1 second outside", function()
    eq(outcome(claim("exchange", "no_reason"), order { delivered_at = NOW - 15 * DAY }),
        "approve/unused_exchange")
    local d = decide(claim("exchange", "no_reason"), order { delivered_at = NOW - 15 * DAY - 1 })
    eq(d.message, "window_expired: delivered 2026-11-01, 15-day window closed 2026-11-16")
end)

test("exchange needs an unused or a faulty item", function()
    eq(outcome(claim("exchange", "other", { opened = true }), order()), "reject/exchange_item_used")
    local d = decide(claim("exchange", "quality", { opened = true }), order())
    eq(d.outcome .. "/" .. d.shipping_paid_by, "approve/merchant")
    eq(decide(claim("exchange", "no_reason"), order()).shipping_paid_by, "buyer")
end)

test("refund-only is approved at once when no delivery is recorded", function()
    local d = decide(claim("refund_only", "not_received"), undelivered())
    eq(d.outcome .. "/" .. d.reason_code, "approve/not_received")
end)

test("refund-only of a perishable: photos approve, none or late go to review", function()
    local fresh = { item = item("perishable"), photos = { "https://img/1.jpg" } }
    eq(outcome(claim("refund_only", "quality", fresh), order()), "approve/perishable_with_photos")
    eq(outcome(claim("refund_only", "quality", { item = item("perishable") }), order()),
        "review/photos_required")
    eq(outcome(claim("refund_only", "quality", fresh), order { delivered_at = NOW - 7 * DAY }),
        "approve/perishable_with_photos")
    eq(outcome(claim("refund_only", "quality", fresh), order { delivered_at = NOW - 7 * DAY - 1 }),
        "review/perishable_late_claim")
end)

test("refund-only of a delivered non-perishable goes to manual review", function()
    eq(outcome(claim("refund_only", "quality"), order()), "review/manual_review")
end)

test("repair within the 365-day electronics warranty, inclusive", function()
    local c = claim("repair", "quality", { item = item("electronics") })
    local d = decide(c, order { delivered_at = NOW - 365 * DAY })
    eq(d.outcome .. "/" .. d.shipping_paid_by, "approve/merchant")
    d = decide(c, order { delivered_at = NOW - 365 * DAY - 1 })
    eq(d.outcome .. "/" .. d.reason_code, "reject/warranty_expired")
    ok(d.message:find("365-day electronics warranty ended 2026-11-16", 1, true), d.message)
end)

test("repair warranty by category: electronics and appliances 365, every other category none", function()
    eq(policy.returns.warranty_days("appliances"), 365)
    eq(policy.returns.warranty_days("electronics"), 365)
    eq(policy.returns.warranty_days("garden"), 0)
    eq(outcome(claim("repair", "quality", { item = item("appliances") }), order()), "approve/in_warranty")
    for _, cat in ipairs({ "apparel", "other", "garden", "food", "liquor", "personal_care", "perishable" }) do
        eq(outcome(claim("repair", "quality", { item = item(cat) }), order()), "reject/no_warranty", cat)
    end
end)

test("repair without a defect reason goes to a technician's review", function()
    eq(outcome(claim("repair", "other", { item = item("electronics") }), order()), "review/fault_unclear")
end)

test("price protection within 7 days of payment refunds a lower price", function()
    local prices = { s1 = { price_cents = 9900, at = NOW - DAY } }
    eq(outcome(claim("price_protection", "price_drop"), order { paid_at = NOW - 7 * DAY, prices = prices }),
        "approve/price_dropped")
    local d = decide(claim("price_protection", "price_drop"), order { paid_at = NOW - 7 * DAY - 1, prices = prices })
    eq(d.outcome .. "/" .. d.reason_code, "reject/window_expired")
    ok(d.message:find("closed 2026-11-16", 1, true), d.message)
end)

test("price protection without a lower price is rejected with the prices", function()
    local same = { s1 = { price_cents = 12900, at = NOW - DAY } }
    local d = decide(claim("price_protection", "price_drop"), order { prices = same })
    eq(d.outcome .. "/" .. d.reason_code, "reject/no_price_drop")
    eq(d.message, "no_price_drop: current price 129.00 is not lower than the 129.00 paid")
    eq(outcome(claim("price_protection", "price_drop"), order()), "reject/no_price_drop")
end)

test("anti-abuse: the 6th return in 30 days goes to review", function()
    -- ctx(n): n returns opened before this claim
    eq(outcome(claim("return", "no_reason"), order(), ctx(4)), "approve/no_reason_return") -- the 5th
    eq(outcome(claim("return", "no_reason"), order(), ctx(5)), "review/abuse_check")      -- the 6th
    eq(outcome(claim("exchange", "quality"), order(), ctx(5)), "approve/merchant_fault")   -- 5 returns
    eq(outcome(claim("exchange", "quality"), order(), ctx(6)), "review/abuse_check")
    eq(outcome(claim("refund_only", "not_received"), undelivered(), ctx(6)),
        "review/abuse_check")
    eq(outcome(claim("refund_only", "not_received"), undelivered(), ctx(5)),
        "approve/not_received")
end)

test("anti-abuse never turns an ineligible claim into a review", function()
    eq(outcome(claim("return", "no_reason"), order { delivered_at = NOW - 30 * DAY }, ctx(9)),
        "reject/window_expired")
end)

test("a claim without order or order line waits for a person", function()
    eq(outcome(claim("return", "no_reason"), nil), "review/order_missing")
    eq(outcome(claim("return", "no_reason", { item = false }), order()), "review/item_unknown")
end)

test("every decision carries the full contract", function()
    local d = decide(claim("return", "no_reason"), order())
    for _, field in ipairs({ "outcome", "reason_code", "message", "shipping_paid_by" }) do
        eq(type(d[field]), "string", field)
    end
    ok(d.message:find("^no_reason_return: "), d.message)
end)

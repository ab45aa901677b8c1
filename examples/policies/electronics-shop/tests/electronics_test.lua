-- The electronics-shop set: sealed returns, dead-on-arrival, warranty by
-- product line, restocking fees, and the budget-phones override under the floor.

local NOW = 1795140000 -- Fri 2026-11-20 10:00 UTC+8

local function sold(category, delivered_days_ago)
    return { order_id = "e1", buyer_id = "e", paid_at = NOW - 20 * DAY, delivered_at = NOW - delivered_days_ago * DAY,
        shipping_cents = 1500, items = { { sku = "x1", category = category, price_cents = 199900, qty = 1 } } }
end

local function ask(kind, reason, category, opened)
    return { case_id = "ec", type = kind, reason = reason, sku = "x1", qty = 1, buyer_id = "e", opened = opened or false,
        photos = {}, created_at = NOW, item = { sku = "x1", category = category, price_cents = 199900, qty = 1 } }
end

local x = make_ctx { now = NOW, customers = { e = { returns_30d = 0, cases_30d = 0, lifetime_spend_cents = 0, tier = "normal" } } }
local function code(d) return d.outcome .. "/" .. d.reason_code end
local evaluate = policy.returns.evaluate

test("sealed device: no-reason return for 7 days, opened goes to review", function()
    eq(code(evaluate(ask("return", "no_reason", "phone"), sold("phone", 7), x)), "approve/sealed_return")
    eq(code(evaluate(ask("return", "no_reason", "phone"), sold("phone", 8), x)), "reject/window_expired")
    eq(code(evaluate(ask("return", "no_reason", "phone", true), sold("phone", 2), x)), "review/activated_device")
end)

test("dead on arrival: faulty devices come back for 15 days at the store's cost", function()
    local d = evaluate(ask("exchange", "quality", "laptop", true), sold("laptop", 15), x)
    eq(code(d) .. "/" .. d.shipping_paid_by, "approve/dead_on_arrival/merchant")
    eq(code(evaluate(ask("return", "quality", "laptop", true), sold("laptop", 16), x)), "reject/window_expired")
end)

test("warranty by product line: laptop 2 years, accessory 6 months", function()
    eq(code(evaluate(ask("repair", "quality", "laptop"), sold("laptop", 730), x)), "approve/in_warranty")
    eq(code(evaluate(ask("repair", "quality", "accessory"), sold("accessory", 181), x)), "reject/warranty_expired")
end)

test("refund keeps 10% of an opened device returned without a fault, none of a faulty one", function()
    eq(policy.compensation.refund(ask("return", "no_reason", "phone", true), sold("phone", 2), x).amount_cents, 179910)
    eq(policy.compensation.refund(ask("return", "quality", "phone", true), sold("phone", 2), x).amount_cents, 199900 + 1500)
end)

test("repairs reach a technician of the product line at priority 2", function()
    eq(policy.routing.route(ask("repair", "quality", "laptop"), x), { queue = "tech_support", priority = 2, skills = { "laptop" } })
    eq(policy.sla.targets(ask("repair", "quality", "laptop"), x).resolution, 10 * 12 * HOUR)
end)

test("floor: budget-phones cannot shorten the 7-day sealed return", function()
    local shop = policy.merchant("budget-phones").returns
    eq(code(shop.evaluate(ask("return", "no_reason", "phone"), sold("phone", 3), x)), "approve/sealed_return")
    eq(code(shop.evaluate(ask("return", "no_reason", "phone"), sold("phone", 5), x)), "approve/floor_applied")
    eq(code(shop.evaluate(ask("return", "no_reason", "phone"), sold("phone", 8), x)), "reject/window_expired")
end)

test("floor: budget-phones' 20% fee is cut back to the store's refund", function()
    local refund = policy.merchant("budget-phones").compensation.refund
    eq(refund(ask("return", "quality", "phone", true), sold("phone", 2), x).amount_cents, 199900 + 1500)
    eq(refund(ask("return", "no_reason", "phone", true), sold("phone", 2), x).amount_cents, 179910)
end)

test("budget-phones: the 20% fee is for returns only; price protection is the store's drop", function()
    local shop = policy.merchant("budget-phones").compensation
    local o = sold("phone", 2)
    o.prices = { x1 = { price_cents = 189900, at = NOW } }
    eq(shop.refund(ask("price_protection", "price_drop", "phone"), o, x).amount_cents, 10000)
    eq(shop.refund(ask("return", "no_reason", "phone", true), sold("phone", 2), x).amount_cents, 179910) -- floor: 10%
end)

test("a no-reason exchange is 7 days here, like the sealed return", function()
    eq(code(evaluate(ask("exchange", "no_reason", "phone"), sold("phone", 7), x)), "approve/sealed_return")
    eq(code(evaluate(ask("exchange", "no_reason", "phone"), sold("phone", 10), x)), "reject/window_expired")
end)

test("floor: an override that raises gets the store's decision", function()
    local f = policy.floor.returns_evaluate(nil, ask("return", "no_reason", "phone", true), sold("phone", 2), x)
    eq(code(f), "review/floor_applied")
end)

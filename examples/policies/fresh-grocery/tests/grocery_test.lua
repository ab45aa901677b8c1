-- The fresh-grocery set: fresh claims, packaged returns, the 4-hour refund SLA
-- and the orchard-direct override under the marketplace floor.

local NOW = 1795140000 -- Fri 2026-11-20 10:00 UTC+8

local function basket(category, delivered_ago)
    return { order_id = "g1", buyer_id = "g", paid_at = NOW - 3 * DAY,
        delivered_at = delivered_ago and NOW - delivered_ago or nil, shipping_cents = 600,
        items = { { sku = "peach", category = category, price_cents = 450, qty = 6 } } }
end

local function claim(kind, category, extra)
    local c = { case_id = "gc", type = kind, reason = "quality", sku = "peach", qty = 2, buyer_id = "g",
        opened = false, photos = {}, created_at = NOW,
        item = { sku = "peach", category = category, price_cents = 450, qty = 6 } }
    for k, v in pairs(extra or {}) do c[k] = v end
    return c
end

local x = make_ctx { now = NOW, customers = { g = { returns_30d = 0, cases_30d = 0, lifetime_spend_cents = 0, tier = "normal" } } }
local photo = { photos = { "https://img/peach.jpg" } }

local function code(d) return d.outcome .. "/" .. d.reason_code end

test("fresh food is never sent back: return and exchange point to refund_only", function()
    eq(code(policy.returns.evaluate(claim("return", "perishable"), basket("perishable", HOUR), x)), "reject/fresh_refund_only")
    eq(code(policy.returns.evaluate(claim("exchange", "perishable"), basket("perishable", HOUR), x)), "reject/fresh_refund_only")
end)

test("a fresh claim with a photo is refunded up to 48 hours after delivery", function()
    eq(code(policy.returns.evaluate(claim("refund_only", "perishable", photo), basket("perishable", 48 * HOUR), x)),
        "approve/fresh_with_photos")
    eq(code(policy.returns.evaluate(claim("refund_only", "perishable", photo), basket("perishable", 48 * HOUR + 1), x)),
        "review/late_fresh_claim")
    eq(code(policy.returns.evaluate(claim("refund_only", "perishable"), basket("perishable", HOUR), x)),
        "review/photos_required")
end)

test("packaged food: unopened returns within 7 days, opened only when faulty", function()
    local unopened = claim("return", "food", { reason = "no_reason" })
    eq(policy.returns.evaluate(unopened, basket("food", 7 * DAY), x).shipping_paid_by, "buyer")
    eq(code(policy.returns.evaluate(unopened, basket("food", 7 * DAY + 1), x)), "reject/window_expired")
    eq(code(policy.returns.evaluate(claim("return", "food", { reason = "no_reason", opened = true }), basket("food", DAY), x)),
        "reject/opened_food")
    eq(code(policy.returns.evaluate(claim("return", "food", { opened = true }), basket("food", DAY), x)), "approve/merchant_fault")
    -- kitchenware: unopened comes back, opened without a fault goes to a person
    eq(code(policy.returns.evaluate(claim("return", "other", { reason = "no_reason" }), basket("other", DAY), x)),
        "approve/unopened_return")
    eq(code(policy.returns.evaluate(claim("return", "other", { reason = "no_reason", opened = true }), basket("other", DAY), x)),
        "review/opened_item")
end)

test("no repairs and no price protection for groceries", function()
    eq(code(policy.returns.evaluate(claim("repair", "other"), basket("other", DAY), x)), "reject/not_offered")
    eq(code(policy.returns.evaluate(claim("price_protection", "food"), basket("food", DAY), x)), "reject/not_offered")
end)

test("a partial fresh refund pays the claimed quantity plus the delivery fee", function()
    local r = policy.compensation.refund(claim("refund_only", "perishable"), basket("perishable", HOUR), x)
    eq(r.amount_cents, 2 * 450 + 600)
end)

test("fresh claims are routed at priority 2 and settled within 4 working hours", function()
    eq(policy.routing.route(claim("refund_only", "perishable"), x), { queue = "after_sales", priority = 2, skills = {} })
    local t = policy.sla.targets(claim("refund_only", "perishable"), x)
    local late_evening = NOW + 11 * HOUR -- 21:00 local: one hour today, three tomorrow from 08:00
    eq(x.add_business_seconds(late_evening, t.resolution), NOW + DAY + HOUR)
end)

test("orchard-direct refunds a fresh claim without photo within 24 hours", function()
    local shop = policy.merchant("orchard-direct")
    eq(code(shop.returns.evaluate(claim("refund_only", "perishable"), basket("perishable", 24 * HOUR), x)),
        "approve/orchard_trust")
    eq(code(shop.returns.evaluate(claim("refund_only", "perishable"), basket("perishable", 24 * HOUR + 1), x)),
        "review/photos_required")
end)

test("floor: orchard-direct cannot hold back the refund of an undelivered parcel", function()
    local d = policy.merchant("orchard-direct").returns.evaluate(claim("refund_only", "food"), basket("food", nil), x)
    eq(code(d), "approve/floor_applied")
end)

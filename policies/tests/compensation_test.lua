-- compensation.refund and compensation.compensate: integer cents, shipping
-- only when the merchant is at fault, price protection differences.

local NOW = 1794794400 -- Mon 2026-11-16 10:00 UTC+8
local x = make_ctx { now = NOW }

local function sale(prices)
    return { order_id = "o2", paid_at = NOW - 3 * DAY, delivered_at = NOW - DAY, shipping_cents = 1200,
        items = { { sku = "mug", category = "other", price_cents = 2599, qty = 3 } }, prices = prices }
end

local function refund_case(kind, reason, qty)
    return { case_id = "c2", type = kind, reason = reason, sku = "mug", qty = qty, buyer_id = "b2",
        item = { sku = "mug", category = "other", price_cents = 2599, qty = 3 } }
end

test("refund is unit price times quantity without shipping for a no-reason return", function()
    local r = policy.compensation.refund(refund_case("return", "no_reason", 2), sale(), x)
    eq(r.amount_cents, 5198)
    eq(r.breakdown, { unit_cents = 2599, qty = 2, item_cents = 5198, shipping_cents = 0 })
end)

test("refund adds the original shipping for each merchant-fault reason", function()
    for _, reason in ipairs({ "quality", "wrong_item", "damaged_in_transit", "not_as_described", "not_received" }) do
        eq(policy.compensation.refund(refund_case("return", reason, 1), sale(), x).amount_cents, 2599 + 1200, reason)
    end
    eq(policy.compensation.refund(refund_case("return", "other", 1), sale(), x).amount_cents, 2599)
end)

test("refund-only of a parcel never delivered returns the shipping too", function()
    local o = sale()
    o.delivered_at = nil
    eq(policy.compensation.refund(refund_case("refund_only", "other", 3), o, x).amount_cents, 3 * 2599 + 1200)
end)

test("quantity defaults to the order line's quantity", function()
    eq(policy.compensation.refund(refund_case("return", "no_reason", nil), sale(), x).amount_cents, 3 * 2599)
end)

test("amounts are Lua integers, never floats", function()
    local r = policy.compensation.refund(refund_case("return", "quality", 3), sale(), x)
    eq(math.type(r.amount_cents), "integer")
    eq(math.type(r.breakdown.item_cents), "integer")
end)

test("price protection refunds the difference times quantity", function()
    local r = policy.compensation.refund(refund_case("price_protection", "price_drop", 2),
        sale { mug = { price_cents = 1999, at = NOW - DAY } }, x)
    eq(r.amount_cents, 1200)
    eq(r.breakdown.paid_cents, 2599)
    eq(r.breakdown.current_cents, 1999)
    eq(r.breakdown.shipping_cents, 0)
end)

test("price protection pays nothing when the price did not drop", function()
    local higher = sale { mug = { price_cents = 2999, at = NOW - DAY } }
    eq(policy.compensation.refund(refund_case("price_protection", "price_drop", 1), higher, x).amount_cents, 0)
    eq(policy.compensation.refund(refund_case("price_protection", "price_drop", 1), sale(), x).amount_cents, 0)
end)

test("goodwill coupons for late delivery and staff attitude only", function()
    local late = policy.compensation.compensate({ type = "logistics", reason = "late_delivery" }, sale(), x)
    eq(late, { coupon_cents = policy.compensation.LATE_DELIVERY_COUPON_CENTS, reason = "late_delivery" })
    local rude = policy.compensation.compensate({ type = "complaint", reason = "attitude" }, nil, x)
    eq(rude.coupon_cents, policy.compensation.ATTITUDE_COUPON_CENTS)
    eq(policy.compensation.compensate({ type = "complaint", reason = "quality" }, sale(), x), nil)
end)

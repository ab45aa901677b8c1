--[[ compensation: how much money goes back, and goodwill coupons.

compensation.refund(case, order, ctx) is called when a refund is approved
(refund_only and price_protection at once, return after the inspection passed).
  Receives case {type, reason, qty, item={sku, price_cents, qty}}, order
  {shipping_cents, delivered_at, prices={[sku]={price_cents, at}}}, ctx.
  Must return {amount_cents = INTEGER >= 0, breakdown = {...}}:
    refund           = unit price x qty (+ order.shipping_cents when the merchant is
                       at fault, or when a refund_only parcel was never delivered)
    price_protection = (paid unit price - current unit price) x qty, 0 if not lower
  breakdown = {unit_cents, qty, item_cents = unit_cents x qty, shipping_cents}.
  Money is integer cents: only integer arithmetic here (// never /).

compensation.compensate(case, order, ctx) offers an optional goodwill coupon.
  Must return {coupon_cents = INTEGER > 0, reason = "snake_case"} or nil.
  Late deliveries and complaints about staff attitude get a fixed coupon. ]]

local M = {}

M.LATE_DELIVERY_COUPON_CENTS = 500   -- 5.00 for a late parcel
M.ATTITUDE_COUPON_CENTS = 1000       -- 10.00 for a complaint about staff attitude

-- Integer cents from a number the host passed (JSON integers arrive as Lua
-- integers; anything else counts as 0 rather than becoming a float amount).
local function cents(v)
    return math.tointeger(v) or 0
end

local function quantity(case)
    local item = case.item or {}
    local qty = math.tointeger(case.qty) or math.tointeger(item.qty) or 1
    return qty > 0 and qty or 1
end

local function price_protection(case, order)
    local item = case.item or {}
    local qty = quantity(case)
    local paid = cents(item.price_cents)
    local posted = order and order.prices and order.prices[item.sku]
    local current = posted and cents(posted.price_cents) or paid
    local diff = paid - current
    if diff < 0 then diff = 0 end
    return { amount_cents = diff * qty, breakdown = {
        unit_cents = diff, qty = qty, item_cents = diff * qty, shipping_cents = 0,
        paid_cents = paid, current_cents = current } }
end

local function shipping_refunded(case, order)
    local returns = require("returns")
    if returns.merchant_at_fault(case.reason) then return true end
    return case.type == "refund_only" and math.type(order.delivered_at) == nil
end

function M.refund(case, order, ctx)
    if case.type == "price_protection" then return price_protection(case, order) end
    local qty = quantity(case)
    local unit = cents((case.item or {}).price_cents)
    local shipping = 0
    if type(order) == "table" and shipping_refunded(case, order) then
        shipping = cents(order.shipping_cents)
    end
    return { amount_cents = unit * qty + shipping, breakdown = {
        unit_cents = unit, qty = qty, item_cents = unit * qty, shipping_cents = shipping } }
end

local COUPONS = {
    late_delivery = M.LATE_DELIVERY_COUPON_CENTS,
    attitude = M.ATTITUDE_COUPON_CENTS,
}

function M.compensate(case, order, ctx)
    local coupon = COUPONS[case.reason]
    if coupon == nil then return nil end
    return { coupon_cents = coupon, reason = case.reason }
end

return M

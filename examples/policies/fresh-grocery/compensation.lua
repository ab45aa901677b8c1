--[[ compensation (fresh-grocery set): refunds and cold-chain goodwill.

compensation.refund(case, order, ctx) -> {amount_cents, breakdown}: unit price x
the claimed quantity (a buyer may claim 2 of 6 peaches), plus the delivery fee
when the merchant is at fault. compensation.compensate -> a coupon for a late
cold-chain delivery (bigger than the platform's: the food may have warmed up). ]]

local M = {}

M.LATE_COLD_CHAIN_COUPON_CENTS = 800
M.FAULT = { quality = true, wrong_item = true, damaged_in_transit = true,
            not_as_described = true, not_received = true }

function M.refund(case, order, ctx)
    local unit = math.tointeger(case.item and case.item.price_cents) or 0
    local qty = math.tointeger(case.qty) or math.tointeger(case.item and case.item.qty) or 1
    local fee = 0
    if M.FAULT[case.reason] and type(order) == "table" then fee = math.tointeger(order.shipping_cents) or 0 end
    return { amount_cents = unit * qty + fee,
             breakdown = { unit_cents = unit, qty = qty, item_cents = unit * qty, delivery_fee_cents = fee } }
end

function M.compensate(case, order, ctx)
    if case.reason ~= "late_delivery" then return nil end
    return { coupon_cents = M.LATE_COLD_CHAIN_COUPON_CENTS, reason = "late_cold_chain" }
end

return M

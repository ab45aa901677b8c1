--[[ compensation (electronics-shop set): refunds with a restocking fee.

compensation.refund(case, order, ctx) -> {amount_cents, breakdown}:
  price protection: (paid - current) x qty;
  otherwise unit price x qty, minus RESTOCKING_PERCENT of it for an opened
  device returned without a fault, plus shipping when the store is at fault.
Integer cents only: the fee is rounded down in the buyer's favour (// 100). ]]

local M = {}

M.RESTOCKING_PERCENT = 10
M.FAULT = { quality = true, wrong_item = true, damaged_in_transit = true,
            not_as_described = true, not_received = true }

function M.refund(case, order, ctx)
    local item = case.item or {}
    local qty = math.tointeger(case.qty) or math.tointeger(item.qty) or 1
    local unit = math.tointeger(item.price_cents) or 0
    if case.type == "price_protection" then
        local posted = order and order.prices and order.prices[item.sku]
        local drop = posted and unit - math.tointeger(posted.price_cents) or 0
        if drop < 0 then drop = 0 end
        return { amount_cents = drop * qty, breakdown = { unit_cents = drop, qty = qty } }
    end
    local goods = unit * qty
    local fee, shipping = 0, 0
    if M.FAULT[case.reason] then
        shipping = math.tointeger(order and order.shipping_cents) or 0
    elseif case.opened then
        fee = goods * M.RESTOCKING_PERCENT // 100
    end
    return { amount_cents = goods - fee + shipping,
             breakdown = { item_cents = goods, qty = qty, restocking_fee_cents = fee, shipping_cents = shipping } }
end

return M

--[[ compensation override for merchant budget-phones: a flat 20% restocking
fee on every return (case type "return"; refund_only and price protection are
the store's amounts). The floor (floor.lua) caps the fee: a faulty phone is
refunded in full with shipping, an opened one loses only the store's 10%. ]]

local M = {}

M.FEE_PERCENT = 20

function M.refund(case, order, ctx)
    if case.type ~= "return" then return require("compensation").refund(case, order, ctx) end
    local goods = (math.tointeger(case.qty) or 1) * (math.tointeger(case.item and case.item.price_cents) or 0)
    local fee = goods * M.FEE_PERCENT // 100
    return { amount_cents = goods - fee, breakdown = { item_cents = goods, restocking_fee_cents = fee } }
end

return M

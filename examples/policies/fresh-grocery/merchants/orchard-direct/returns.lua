--[[ returns override for merchant orchard-direct, a farm shop.

It trusts its buyers more than the marketplace does: a fresh claim made within
24 hours of delivery is refunded without a photo. It would also like its own
courier to investigate lost parcels before refunding (review): the
marketplace floor (floor.lua) turns that back into an immediate refund.
Everything else is the marketplace default, via require("returns"). ]]

local M = {}

M.NO_PHOTO_HOURS = 24

function M.evaluate(case, order, ctx)
    local default = require("returns").evaluate(case, order, ctx)
    if type(order) ~= "table" or case.type ~= "refund_only" then return default end
    if order.delivered_at == nil then
        return { outcome = "review", reason_code = "courier_investigation",
                 message = "courier_investigation: our courier looks for the parcel first",
                 shipping_paid_by = "merchant" }
    end
    local fresh = case.item and case.item.category == "perishable"
    if fresh and ctx.now - order.delivered_at <= M.NO_PHOTO_HOURS * 3600 then
        return { outcome = "approve", reason_code = "orchard_trust",
                 message = "orchard_trust: reported within 24 hours, no photo needed",
                 shipping_paid_by = "merchant" }
    end
    return default
end

return M

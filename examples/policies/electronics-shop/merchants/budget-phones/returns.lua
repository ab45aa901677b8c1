--[[ returns override for merchant budget-phones: it wants a 3-day no-reason
return instead of 7. The floor (floor.lua) keeps the 7 days: on days 4-7 its
rejection is replaced by the store's approval. Faults follow the store rules. ]]

local M = {}

M.NO_REASON_DAYS = 3

function M.evaluate(case, order, ctx)
    local store = require("returns").evaluate(case, order, ctx)
    local delivered = type(order) == "table" and order.delivered_at
    if case.type == "return" and case.reason == "no_reason" and delivered
        and ctx.now - delivered > M.NO_REASON_DAYS * 86400 then
        return { outcome = "reject", reason_code = "window_expired",
                 message = "window_expired: budget-phones accepts no-reason returns for 3 days",
                 shipping_paid_by = "buyer" }
    end
    return store
end

return M

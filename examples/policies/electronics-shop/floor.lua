--[[ floor (electronics-shop set): what a merchant selling through this store
cannot take away (called by the host after a merchant override answered):
  - the 7-day return of a sealed device and the 15-day return or exchange of a
    faulty one: if the store's own rules approve, so does the merchant;
  - a refund below the store's own amount (so no restocking fee on a faulty
    device, and no fee above the store's 10%).
An override that gives no valid answer (or raised: the host passes nil) gets
the store's own decision. ]]

local M = {}

M.PROTECTED = { sealed_return = true, dead_on_arrival = true }
local OUTCOMES = { approve = true, reject = true, review = true }

function M.returns_evaluate(result, case, order, ctx)
    local store = require("returns").evaluate(case, order, ctx)
    local valid = type(result) == "table" and OUTCOMES[result.outcome]
    if not valid or (M.PROTECTED[store.reason_code] and result.outcome ~= "approve") then
        store.message = "floor_applied: " .. store.message
        store.reason_code = "floor_applied"
        return store
    end
    return result
end

function M.compensation_refund(result, case, order, ctx)
    local store = require("compensation").refund(case, order, ctx)
    local offered = type(result) == "table" and math.tointeger(result.amount_cents)
    if offered and offered >= store.amount_cents then return result end
    store.breakdown.floor_applied = true
    return store
end

return M

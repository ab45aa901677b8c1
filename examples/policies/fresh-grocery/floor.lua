--[[ floor (fresh-grocery set): what a shop on this marketplace cannot refuse
(called by the host after a merchant override answered, see docs/policies.md):
  - a refund_only for a parcel never delivered;
  - a fresh-food claim with photos within 48 hours of delivery;
  - less money than the marketplace's own refund amount.
Anything else a shop may decide its own way, more or less generously. ]]

local M = {}

M.PROTECTED = { not_received = true, fresh_with_photos = true }

function M.returns_evaluate(result, case, order, ctx)
    local base = require("returns").evaluate(case, order, ctx)
    local approved = type(result) == "table" and result.outcome == "approve"
    if M.PROTECTED[base.reason_code] and not approved then
        base.reason_code = "floor_applied"
        base.message = "floor_applied: the marketplace guarantees this refund; " .. base.message
        return base
    end
    return type(result) == "table" and result or base
end

function M.compensation_refund(result, case, order, ctx)
    local base = require("compensation").refund(case, order, ctx)
    local amount = type(result) == "table" and math.tointeger(result.amount_cents) or -1
    return amount >= base.amount_cents and result or base
end

return M

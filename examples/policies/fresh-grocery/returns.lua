--[[ returns (fresh-grocery set): eligibility for a fresh-food marketplace.

Same contract as the platform set (docs/policies.md): returns.evaluate(case,
order, ctx) -> {outcome, reason_code, message, shipping_paid_by}.

What differs from the platform defaults, and why:
  - fresh (category "perishable") food is never sent back: returns and
    exchanges are refused with a pointer to refund_only;
  - a fresh refund_only claim with photos is approved within 48 hours of
    delivery (food spoils, claims must be quick); later claims, or claims
    without photos, go to a person;
  - packaged food and kitchenware ("food", "other") keep the 7-day return if
    unopened; opened food only with a quality reason, opened kitchenware
    without one goes to a person;
  - no repairs and no price protection: prices change daily. ]]

local M = {}

local HOUR = 3600
M.FRESH = "perishable"
M.FRESH_CLAIM_HOURS = 48
M.PACKAGED_RETURN_DAYS = 7
M.FAULT = { quality = true, wrong_item = true, damaged_in_transit = true,
            not_as_described = true, not_received = true }

local function say(outcome, code, text, payer)
    return { outcome = outcome, reason_code = code, message = code .. ": " .. text,
             shipping_paid_by = payer or "merchant" }
end

local function hours_since(ts, ctx)
    return (ctx.now - ts) / HOUR
end

local function fresh_claim(case, order, ctx)
    if order.delivered_at == nil then
        return say("approve", "not_received", "the parcel was never delivered")
    end
    if type(case.photos) ~= "table" or #case.photos == 0 then
        return say("review", "photos_required", "send a photo of the produce so we can refund it")
    end
    if hours_since(order.delivered_at, ctx) > M.FRESH_CLAIM_HOURS then
        return say("review", "late_fresh_claim", string.format(
            "reported more than %d hours after delivery", M.FRESH_CLAIM_HOURS))
    end
    return say("approve", "fresh_with_photos", "photo evidence within 48 hours of delivery")
end

local function packaged_return(case, order, ctx)
    local payer = M.FAULT[case.reason] and "merchant" or "buyer"
    if order.delivered_at == nil then
        return say("reject", "not_delivered", "nothing to send back before delivery", payer)
    end
    if ctx.now - order.delivered_at > M.PACKAGED_RETURN_DAYS * 24 * HOUR then
        local closes = order.delivered_at + M.PACKAGED_RETURN_DAYS * 24 * HOUR
        return say("reject", "window_expired", "the 7-day return closed " ..
            os.date("!%Y-%m-%d %H:%M", closes + require("sla").calendar.utc_offset), payer)
    end
    if case.opened and payer == "buyer" then
        if case.item.category == "food" then
            return say("reject", "opened_food", "opened food is returned only with a quality problem", payer)
        end
        return say("review", "opened_item", "a person checks an opened item returned without a fault", payer)
    end
    return say("approve", payer == "merchant" and "merchant_fault" or "unopened_return", "within 7 days", payer)
end

function M.evaluate(case, order, ctx)
    if type(order) ~= "table" or type(case.item) ~= "table" then
        return say("review", "order_missing", "no order line to check")
    end
    local fresh = case.item.category == M.FRESH
    if case.type == "refund_only" then
        if fresh or order.delivered_at == nil then return fresh_claim(case, order, ctx) end
        return say("review", "manual_review", "a person checks refunds of packaged goods")
    end
    if case.type == "return" or case.type == "exchange" then
        if fresh then
            return say("reject", "fresh_refund_only", "fresh food is not sent back: open a refund_only case with a photo")
        end
        return packaged_return(case, order, ctx)
    end
    return say("reject", "not_offered", case.type .. " is not offered for groceries", "buyer")
end

return M

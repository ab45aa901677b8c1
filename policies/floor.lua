--[[ floor: the platform minimum that merchant overrides can raise, never lower.

When a merchant override (merchants/{id}/MODULE.lua) answered a call, the host
calls floor.MODULE_FUNCTION(result, args..., ctx) with the merchant's result
and uses what the floor returns. Inside the sandbox require("returns") etc.
give the platform DEFAULT modules, so the floor compares the merchant's answer
with what the platform itself would have decided.

  returns_evaluate   The customer's legal and platform rights win: if the
                     default approves a return (the 7-day no-reason return or a
                     faulty item within 7 days), an exchange or repair of a
                     faulty item, or a refund_only for a parcel never delivered,
                     a merchant's reject or review is replaced by the default's
                     approval with reason_code "floor_applied". The merchant
                     pays shipping whenever the reason is the merchant's fault.
                     Merchants may freely be more generous, and may decide
                     claims the default only sends to review.
  compensation_refund      never below the default refund amount
  compensation_compensate  never a smaller goodwill coupon than the default
  routing_route      never a lower priority than the default (VIP lane stays)
  sla_targets        never a later due time than the default's targets
  sla_warnings       the platform's warning percents always stay (a merchant
                     may add its own, up to 4 in all)
  sla_on_breach      a breach always escalates, and the ladder's next level
                     comes no later than the platform's
  sla_escalate       each level does at least what the platform's does: as
                     high a priority, a queue when it moves one, the alert
                     to the merchant, the next level no later
  survey_plan        a resolved case always gets the platform's survey
  survey_on_answer   a low score always opens the platform's follow-up
  survey_relationship  the platform's relationship survey cannot be dropped or
                     put off past the platform's date
An override that fails to answer properly (no valid outcome, no integer amount,
or an error: the host then passes result = nil)
gets the default's answer. ]]

local M = {}

local OUTCOMES = { approve = true, reject = true, review = true }

local function copy(t)
    local out = {}
    for k, v in pairs(t) do out[k] = v end
    return out
end

-- What right the default's approval protects, or nil if merchants may differ.
local function protected_right(case, default)
    if default.outcome ~= "approve" then return nil end
    local fault = require("returns").merchant_at_fault(case.reason)
    if case.type == "return" then
        return fault and "return of a faulty item" or "7-day no-reason return"
    elseif case.type == "exchange" and fault then
        return "exchange of a faulty item"
    elseif case.type == "repair" then
        return "warranty repair"
    elseif case.type == "refund_only" and default.reason_code == "not_received" then
        return "refund of a parcel never delivered"
    end
    return nil
end

local function floor_applied(default, why)
    local out = copy(default)
    out.reason_code = "floor_applied"
    out.message = "floor_applied: " .. why .. "; " .. tostring(default.message)
    return out
end

function M.returns_evaluate(result, case, order, ctx)
    local default = require("returns").evaluate(case, order, ctx)
    if type(result) ~= "table" or not OUTCOMES[result.outcome] then
        return floor_applied(default, "the merchant policy gave no valid outcome")
    end
    local right = protected_right(case, default)
    if right and result.outcome ~= "approve" then
        return floor_applied(default, string.format(
            "the merchant answered %s, but the platform guarantees the %s",
            result.outcome, right))
    end
    local out = copy(result)
    if require("returns").merchant_at_fault(case.reason) then
        out.shipping_paid_by = "merchant"
    elseif out.shipping_paid_by == nil then
        out.shipping_paid_by = default.shipping_paid_by
    end
    return out
end

function M.compensation_refund(result, case, order, ctx)
    local default = require("compensation").refund(case, order, ctx)
    local amount = type(result) == "table" and math.tointeger(result.amount_cents) or nil
    if amount ~= nil and amount >= default.amount_cents then return result end
    local out = copy(default)
    out.breakdown = copy(default.breakdown)
    out.breakdown.floor_applied = true
    out.breakdown.merchant_amount_cents = amount
    return out
end

function M.compensation_compensate(result, case, order, ctx)
    local default = require("compensation").compensate(case, order, ctx)
    if default == nil then return result end
    local coupon = type(result) == "table" and math.tointeger(result.coupon_cents) or 0
    if coupon >= default.coupon_cents then return result end
    return default
end

function M.routing_route(result, case, ctx)
    local default = require("routing").route(case, ctx)
    if type(result) ~= "table" or type(result.queue) ~= "string" then return default end
    local priority = math.tointeger(result.priority)
    if priority ~= nil and priority <= default.priority then return result end
    local out = copy(result)
    out.priority = default.priority
    return out
end

-- The instant a target falls due, the way the core computes it.
local function due(targets, kind, start, ctx)
    local secs = math.tointeger(targets[kind])
    if secs == nil then return nil end
    if targets.business then return ctx.add_business_seconds(start, secs) end
    return start + secs
end

function M.sla_targets(result, case, ctx)
    local default = require("sla").targets(case, ctx)
    if type(result) ~= "table" then return default end
    local start = math.tointeger(case.created_at) or ctx.now
    for _, kind in ipairs({ "first_response", "resolution" }) do
        local limit = due(default, kind, start, ctx)
        local mine = due(result, kind, start, ctx)
        if limit ~= nil and (mine == nil or mine > limit) then return default end
    end
    return result
end

-- The earlier of two next_after delays (nil when neither has one).
local function sooner(mine, limit)
    mine, limit = math.tointeger(mine), math.tointeger(limit)
    if limit ~= nil and (mine == nil or mine > limit) then return limit end
    return mine
end

function M.sla_warnings(result, case, ctx)
    local default = require("sla").warnings(case, ctx)
    local out, seen = {}, {}
    local function add(list, all)
        if type(list) ~= "table" then return end
        for _, p in ipairs(list) do
            p = math.tointeger(p)
            if p and p >= 1 and p <= 99 and not seen[p] and (all or #out < 4) then
                seen[p] = true
                out[#out + 1] = p
            end
        end
    end
    add(type(default) == "table" and default.percents, true)
    add(type(result) == "table" and result.percents, false)
    if #out == 0 then return nil end
    table.sort(out)
    return { percents = out }
end

function M.sla_on_breach(result, case, kind, ctx)
    local default = require("sla").on_breach(case, kind, ctx)
    if type(result) ~= "table" or result.escalate ~= true then return default end
    if type(default) ~= "table" then return result end
    local out = copy(result)
    out.next_after = sooner(result.next_after, default.next_after)
    return out
end

function M.sla_escalate(result, case, step, ctx)
    local default = require("sla").escalate(case, step, ctx)
    if type(default) ~= "table" then return result end
    if type(result) ~= "table" then return default end
    local out = copy(result)
    local mine, limit = math.tointeger(result.priority), math.tointeger(default.priority)
    if limit ~= nil and (mine == nil or mine > limit) then out.priority = limit end
    if default.queue ~= nil and type(result.queue) ~= "string" then out.queue = default.queue end
    if default.alert_merchant == true then out.alert_merchant = true end
    out.next_after = sooner(result.next_after, default.next_after)
    return out
end

function M.survey_plan(result, case, ctx)
    if result ~= nil then return result end
    return require("survey").plan(case, ctx)
end

function M.survey_relationship(result, buyer, ctx)
    local default = require("survey").relationship(buyer, ctx)
    if type(default) ~= "table" then return result end
    if type(result) ~= "table" then return default end
    local mine, limit = math.tointeger(result.send_after), math.tointeger(default.send_after)
    if mine == nil or (limit ~= nil and mine > limit) then
        local out = copy(result)
        out.send_after = limit
        return out
    end
    return result
end

function M.survey_on_answer(result, case, answer, ctx)
    if type(result) == "table" and result.followup then return result end
    return require("survey").on_answer(case, answer, ctx) or result
end

return M

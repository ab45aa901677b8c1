--[[ returns: is an after-sales claim eligible? (SPEC section 1)

Called as returns.evaluate(case, order, ctx) for the case types return,
exchange, refund_only, repair and price_protection.

Receives
  case   {case_id, type, reason, qty, opened (item unsealed/used), photos={urls},
          created_at, buyer_id, merchant_id, item={sku, category, price_cents, qty, title}}
  order  {order_id, paid_at, delivered_at (nil until delivered), shipping_cents,
          items={...}, prices={[sku]={price_cents, at}}} or nil
  ctx    ctx.now, ctx.customer(buyer_id) -> {returns_30d, ...}, ctx.log(msg)

Must return
  {outcome = "approve" | "reject" | "review",
   reason_code = "snake_case",               -- machine-readable why
   message = "reason_code: human text",      -- shown on the case, with dates
   shipping_paid_by = "buyer" | "merchant"}  -- who pays the return shipping

Windows are inclusive: "within 7 days" means ctx.now - delivered_at <= 7 * DAY.
Checks run from hard limits (no order, not delivered, category, window) to the
anti-abuse review, so an ineligible claim is rejected whoever asks. Also exported
for the other modules of the set: merchant_at_fault(reason), window(days, from,
now) and the constants below. ]]

local M = {}

local DAY = 86400

M.RETURN_WINDOW_DAYS = 7            -- 7-day return, no reason needed if unused
M.EXCHANGE_WINDOW_DAYS = 15         -- exchange of an unused or faulty item
M.PRICE_PROTECTION_DAYS = 7         -- counted from payment, not delivery
M.PERISHABLE_CLAIM_DAYS = 7         -- later perishable claims go to a person
M.ABUSE_RETURNS_30D = 5             -- more than this many returns in 30 days (the one
                                    -- being claimed included): review
M.PERISHABLE = "perishable"         -- refund-only with photos, never shipped back

-- Warranty for repairs, by category (SPEC: electronics and appliances carry
-- the 365-day warranty). A category not listed has no repair warranty.
M.DEFAULT_WARRANTY_DAYS = 365
M.WARRANTY_DAYS = {
    electronics = M.DEFAULT_WARRANTY_DAYS, appliances = M.DEFAULT_WARRANTY_DAYS,
}

-- Categories that cannot be returned or exchanged once opened unless the
-- merchant is at fault (hygiene and safety).
M.NO_RETURN_IF_OPENED = { liquor = true, food = true, personal_care = true }

-- The five reasons that put the merchant at fault: the merchant pays shipping
-- and the refund includes the original shipping.
M.MERCHANT_FAULT = {
    quality = true, wrong_item = true, damaged_in_transit = true,
    not_as_described = true, not_received = true,
}

-- Reasons that describe a defect in the item itself (repair needs one).
M.DEFECT = { quality = true, damaged_in_transit = true, not_as_described = true }

function M.merchant_at_fault(reason)
    return M.MERCHANT_FAULT[reason] == true
end

-- Dates in messages are local dates of the SLA calendar's time zone.
local function date(ts)
    local offset = math.tointeger(require("sla").calendar.utc_offset) or 0
    return os.date("!%Y-%m-%d", ts + offset)
end

local function money(cents)
    return string.format("%d.%02d", cents // 100, cents % 100)
end

-- Whether now lies within `days` whole days of `from` (inclusive), and the
-- instant the window closes.
function M.window(days, from, now)
    local closes = from + days * DAY
    return now <= closes, closes
end

local function decision(outcome, code, text, payer)
    return { outcome = outcome, reason_code = code, message = code .. ": " .. text,
             shipping_paid_by = payer }
end

local function payer_for(case)
    return M.merchant_at_fault(case.reason) and "merchant" or "buyer"
end

local function delivered(order)
    return order ~= nil and math.type(order.delivered_at) ~= nil
end

local function has_photos(case)
    return type(case.photos) == "table" and #case.photos > 0
end

-- The anti-abuse rule, shared by return, exchange and refund_only. A buyer
-- "with more than 5 returns in 30 days": ctx.customer counts the returns
-- opened before this claim, and a return claim is one more, so the 6th return
-- in 30 days is the first reviewed; an exchange or refund_only claim is
-- reviewed once the buyer already has 6 returns.
local function abuse_review(case, ctx, payer)
    local who = ctx.customer(case.buyer_id)
    local n = (who and who.returns_30d or 0) + (case.type == "return" and 1 or 0)
    if n > M.ABUSE_RETURNS_30D then
        return decision("review", "abuse_check", string.format(
            "buyer has %d returns in 30 days (more than %d)%s, a person checks this claim",
            n, M.ABUSE_RETURNS_30D, case.type == "return" and ", this one included" or ""), payer)
    end
    return nil
end

local function expired(case, order, days, payer, hint)
    return decision("reject", "window_expired", string.format(
        "delivered %s, %d-day window closed %s%s", date(order.delivered_at), days,
        date(order.delivered_at + days * DAY), hint or ""), payer)
end

-- Limits common to returns and exchanges; nil when none applies.
local function goods_back_limits(case, order, kind)
    local payer = payer_for(case)
    if not delivered(order) then
        return decision("reject", "not_delivered", "no delivery is recorded for order "
            .. tostring(order.order_id) .. "; if the parcel never arrives open a refund_only case (not_received)", payer)
    end
    local cat = case.item.category
    if cat == M.PERISHABLE then
        return decision("reject", "perishable_refund_only", "perishable goods are not shipped back; "
            .. "open a refund_only case with photos of the problem", payer)
    end
    if case.opened and M.NO_RETURN_IF_OPENED[cat] and not M.merchant_at_fault(case.reason) then
        return decision("reject", "opened_" .. cat, string.format(
            "opened %s cannot be %s without a quality reason", cat, kind), payer)
    end
    return nil
end

local function evaluate_return(case, order, ctx)
    local payer = payer_for(case)
    local limit = goods_back_limits(case, order, "returned")
    if limit then return limit end
    if not M.window(M.RETURN_WINDOW_DAYS, order.delivered_at, ctx.now) then
        local hint = M.merchant_at_fault(case.reason)
            and "; a faulty item can still be exchanged (15 days) or repaired under warranty" or ""
        return expired(case, order, M.RETURN_WINDOW_DAYS, payer, hint)
    end
    local abuse = abuse_review(case, ctx, payer)
    if abuse then return abuse end
    if M.merchant_at_fault(case.reason) then
        return decision("approve", "merchant_fault", string.format(
            "%s reported within %d days of delivery; the merchant pays return shipping",
            case.reason, M.RETURN_WINDOW_DAYS), payer)
    end
    if case.opened then
        return decision("review", "opened_no_reason", "the item was opened; a person checks "
            .. "that it is complete and resellable before a no-reason return", payer)
    end
    return decision("approve", "no_reason_return", string.format(
        "unused item within the %d-day no-reason window (closes %s); the buyer pays return shipping",
        M.RETURN_WINDOW_DAYS, date(order.delivered_at + M.RETURN_WINDOW_DAYS * DAY)), payer)
end

local function evaluate_exchange(case, order, ctx)
    local payer = payer_for(case)
    local limit = goods_back_limits(case, order, "exchanged")
    if limit then return limit end
    if not M.window(M.EXCHANGE_WINDOW_DAYS, order.delivered_at, ctx.now) then
        return expired(case, order, M.EXCHANGE_WINDOW_DAYS, payer,
            M.merchant_at_fault(case.reason) and "; a faulty item can still be repaired under warranty" or "")
    end
    if case.opened and not M.merchant_at_fault(case.reason) then
        return decision("reject", "exchange_item_used",
            "only an unused or faulty item can be exchanged", payer)
    end
    local abuse = abuse_review(case, ctx, payer)
    if abuse then return abuse end
    return decision("approve", M.merchant_at_fault(case.reason) and "merchant_fault" or "unused_exchange",
        string.format("within the %d-day exchange window (closes %s)", M.EXCHANGE_WINDOW_DAYS,
            date(order.delivered_at + M.EXCHANGE_WINDOW_DAYS * DAY)), payer)
end

local function evaluate_refund_only(case, order, ctx)
    local abuse = abuse_review(case, ctx, "merchant")
    if abuse then return abuse end
    if not delivered(order) then
        return decision("approve", "not_received",
            "no delivery is recorded for order " .. tostring(order.order_id), "merchant")
    end
    if case.item.category == M.PERISHABLE then
        if not has_photos(case) then
            return decision("review", "photos_required",
                "perishable refund needs photos of the problem; a person follows up", "merchant")
        end
        if not M.window(M.PERISHABLE_CLAIM_DAYS, order.delivered_at, ctx.now) then
            return decision("review", "perishable_late_claim", string.format(
                "delivered %s, more than %d days ago; a person checks the photos",
                date(order.delivered_at), M.PERISHABLE_CLAIM_DAYS), "merchant")
        end
        return decision("approve", "perishable_with_photos",
            string.format("perishable item with %d photo(s)", #case.photos), "merchant")
    end
    return decision("review", "manual_review",
        "refund without return of a delivered item needs a person", "merchant")
end

function M.warranty_days(category)
    return M.WARRANTY_DAYS[category] or 0
end

local function evaluate_repair(case, order, ctx)
    local cat = case.item.category
    local days = M.warranty_days(cat)
    if days <= 0 then
        return decision("reject", "no_warranty", tostring(cat) .. " items carry no repair warranty", "buyer")
    end
    if not delivered(order) then
        return decision("reject", "not_delivered", "the warranty starts at delivery; none is recorded", "buyer")
    end
    if not M.window(days, order.delivered_at, ctx.now) then
        return decision("reject", "warranty_expired", string.format(
            "delivered %s, %d-day %s warranty ended %s", date(order.delivered_at), days, cat,
            date(order.delivered_at + days * DAY)), "buyer")
    end
    if not M.DEFECT[case.reason] then
        return decision("review", "fault_unclear", "reason " .. tostring(case.reason)
            .. " does not describe a defect; a technician checks the item", "buyer")
    end
    return decision("approve", "in_warranty", string.format(
        "%s within the %d-day warranty (ends %s); the merchant pays shipping", case.reason, days,
        date(order.delivered_at + days * DAY)), "merchant")
end

local function evaluate_price_protection(case, order, ctx)
    local in_window, closes = M.window(M.PRICE_PROTECTION_DAYS, order.paid_at, ctx.now)
    if not in_window then
        return decision("reject", "window_expired", string.format(
            "paid %s, %d-day price protection closed %s", date(order.paid_at),
            M.PRICE_PROTECTION_DAYS, date(closes)), "merchant")
    end
    local paid = case.item.price_cents
    local current = order.prices and order.prices[case.item.sku]
    if current == nil or current.price_cents >= paid then
        return decision("reject", "no_price_drop", string.format(
            "current price %s is not lower than the %s paid",
            current and money(current.price_cents) or "(unchanged)", money(paid)), "merchant")
    end
    return decision("approve", "price_dropped", string.format(
        "paid %s, now %s (posted %s), within %d days of payment", money(paid),
        money(current.price_cents), date(current.at or ctx.now), M.PRICE_PROTECTION_DAYS), "merchant")
end

local EVALUATORS = {
    ["return"] = evaluate_return,
    exchange = evaluate_exchange,
    refund_only = evaluate_refund_only,
    repair = evaluate_repair,
    price_protection = evaluate_price_protection,
}

function M.evaluate(case, order, ctx)
    local fn = EVALUATORS[case.type]
    if fn == nil then
        return decision("review", "unsupported_type", "no eligibility rule for case type "
            .. tostring(case.type), "buyer")
    end
    if type(order) ~= "table" then
        return decision("review", "order_missing", "the case has no order to check", payer_for(case))
    end
    if type(case.item) ~= "table" then
        return decision("review", "item_unknown", "the order has no line for sku "
            .. tostring(case.sku), payer_for(case))
    end
    return fn(case, order, ctx)
end

return M

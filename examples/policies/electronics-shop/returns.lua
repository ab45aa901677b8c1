--[[ returns (electronics-shop set): eligibility for a consumer-electronics store.

Same contract as the platform set (docs/policies.md): returns.evaluate(case,
order, ctx) -> {outcome, reason_code, message, shipping_paid_by}.

What differs from the platform defaults, and why:
  - a no-reason return or exchange is 7 days (the platform's exchange is 15)
    and needs the device still sealed; an opened (activated) device goes to a
    person, who may accept it minus a restocking fee;
  - a faulty device (dead on arrival) may be returned or exchanged for 15 days;
  - warranty by product line: phones 1 year, laptops 2 years, accessories 6 months;
  - price protection for 15 days after payment (the store's promise). ]]

local M = {}

local DAY = 86400
M.SEALED_RETURN_DAYS = 7
M.FAULTY_RETURN_DAYS = 15
M.PRICE_PROTECTION_DAYS = 15
M.WARRANTY_DAYS = { phone = 365, laptop = 730, accessory = 180 }
M.DEFAULT_WARRANTY_DAYS = 365
M.FAULT = { quality = true, wrong_item = true, damaged_in_transit = true,
            not_as_described = true, not_received = true }

local function verdict(outcome, code, text, case)
    return { outcome = outcome, reason_code = code, message = code .. ": " .. text,
             shipping_paid_by = M.FAULT[case.reason] and "merchant" or "buyer" }
end

local function within(days, from, ctx)
    return from ~= nil and ctx.now - from <= days * DAY
end

local function goods_back(case, order, ctx)
    if order.delivered_at == nil then return verdict("reject", "not_delivered", "not delivered yet", case) end
    if M.FAULT[case.reason] then
        if within(M.FAULTY_RETURN_DAYS, order.delivered_at, ctx) then
            return verdict("approve", "dead_on_arrival", "faulty within 15 days of delivery", case)
        end
        return verdict("reject", "window_expired", "after 15 days a faulty device is repaired under warranty", case)
    end
    if not within(M.SEALED_RETURN_DAYS, order.delivered_at, ctx) then
        return verdict("reject", "window_expired", "the 7-day no-reason return has closed", case)
    end
    if case.opened then
        return verdict("review", "activated_device", "opened devices are checked; a restocking fee may apply", case)
    end
    return verdict("approve", "sealed_return", "sealed device within 7 days", case)
end

local function repair(case, order, ctx)
    local days = M.WARRANTY_DAYS[case.item.category] or M.DEFAULT_WARRANTY_DAYS
    if within(days, order.delivered_at, ctx) then
        local v = verdict("approve", "in_warranty", days .. "-day warranty", case)
        v.shipping_paid_by = "merchant"
        return v
    end
    return verdict("reject", "warranty_expired", "the " .. days .. "-day warranty has ended; a paid repair is possible", case)
end

local function price_protection(case, order, ctx)
    local posted = order.prices and order.prices[case.item.sku]
    if not within(M.PRICE_PROTECTION_DAYS, order.paid_at, ctx) then
        return verdict("reject", "window_expired", "price protection lasts 15 days after payment", case)
    end
    if posted == nil or posted.price_cents >= case.item.price_cents then
        return verdict("reject", "no_price_drop", "the price has not dropped", case)
    end
    return verdict("approve", "price_dropped", "the price dropped within 15 days", case)
end

function M.evaluate(case, order, ctx)
    if type(order) ~= "table" or type(case.item) ~= "table" then
        return verdict("review", "order_missing", "no order line to check", case)
    end
    if case.type == "return" or case.type == "exchange" then return goods_back(case, order, ctx) end
    if case.type == "repair" then return repair(case, order, ctx) end
    if case.type == "price_protection" then return price_protection(case, order, ctx) end
    if order.delivered_at == nil then return verdict("approve", "not_received", "never delivered", case) end
    return verdict("review", "manual_review", "a person checks refunds without a returned device", case)
end

return M

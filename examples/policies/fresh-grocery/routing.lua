--[[ routing (fresh-grocery set): one after-sales team works every claim, fast.

routing.route(case, ctx) -> {queue, priority, skills}. Questions go to
customer_service, complaints to quality, everything else to after_sales. A
fresh-food claim gets priority 2 (it must be settled before the food is gone),
VIP buyers priority 1. ]]

local M = {}

M.QUEUE = { consultation = "customer_service", logistics = "customer_service", complaint = "quality" }

function M.route(case, ctx)
    local who = ctx.customer(case.buyer_id) or {}
    local priority = 3
    if who.tier == "vip" then
        priority = 1
    elseif case.type == "complaint" or (case.item and case.item.category == "perishable") then
        priority = 2
    end
    return { queue = case.followup and "quality" or M.QUEUE[case.type] or "after_sales",
             priority = priority, skills = {} }
end

return M

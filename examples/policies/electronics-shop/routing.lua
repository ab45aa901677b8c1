--[[ routing (electronics-shop set): technicians by product line.

routing.route(case, ctx) -> {queue, priority, skills}. Repairs and faulty
devices (quality reason) go to tech_support with the product line as the
skill ("phone", "laptop", ...), so a laptop reaches a laptop technician.
Consultations and logistics go to customer_service, complaints and survey
follow-ups to quality, other claims to after_sales. Priority: 1 for VIP, 2 for
a faulty device (the buyer has nothing that works), 3 otherwise. ]]

local M = {}

function M.route(case, ctx)
    local who = ctx.customer(case.buyer_id) or {}
    local faulty = case.type == "repair" or case.reason == "quality"
    local queue = "after_sales"
    if case.followup or case.type == "complaint" then
        queue = "quality"
    elseif case.type == "consultation" or case.type == "logistics" then
        queue = "customer_service"
    elseif faulty then
        queue = "tech_support"
    end
    local skills = {}
    if queue == "tech_support" and case.item then skills = { case.item.category } end
    local priority = who.tier == "vip" and 1 or faulty and 2 or 3
    return { queue = queue, priority = priority, skills = skills }
end

return M

--[[ routing: which team works a case, how urgently, with which skills.

routing.route(case, ctx) is called when a case opens and again when it is
escalated (case.escalated == true).
  Receives case {type, buyer_id, escalated, followup, item={category}}, ctx
  (ctx.customer(buyer_id) -> {tier, lifetime_spend_cents, ...}).
  Must return {queue = "team", priority = 1 (highest) .. 5, skills = {"skill", ...}}.
  The core then assigns the least-loaded online agent of the queue who has every
  skill and free capacity.

Rules
  queue     consultation, logistics -> customer_service; repair -> tech_support;
            return, exchange, refund_only, price_protection -> after_sales;
            complaint and survey follow-ups (case.followup) -> quality
  priority  1 for the priority lane (tier "vip" or lifetime spend >= 1,000,000
            cents), 2 for complaints and survey follow-ups, 3 otherwise;
            an escalated case goes one step higher (never above 1), same queue
  skills    tech_support cases need the item's category as a skill (an
            electronics repair goes to an agent with "electronics"); other teams
            need no skill, so any agent of the queue can take the case ]]

local M = {}

M.VIP_TIER = "vip"
M.VIP_LIFETIME_SPEND_CENTS = 1000000   -- 10,000.00 spent in total: priority lane
M.PRIORITY_VIP = 1
M.PRIORITY_COMPLAINT = 2
M.PRIORITY_DEFAULT = 3
M.FOLLOWUP_QUEUE = "quality"
M.DEFAULT_QUEUE = "after_sales"

M.QUEUES = {
    consultation = "customer_service",
    logistics = "customer_service",
    repair = "tech_support",
    ["return"] = "after_sales",
    exchange = "after_sales",
    refund_only = "after_sales",
    price_protection = "after_sales",
    complaint = "quality",
}

-- Queues whose agents are matched by the item's category.
M.SKILLED_BY_CATEGORY = { tech_support = true }

function M.priority_lane(customer)
    if type(customer) ~= "table" then return false end
    local spend = math.tointeger(customer.lifetime_spend_cents) or 0
    return customer.tier == M.VIP_TIER or spend >= M.VIP_LIFETIME_SPEND_CENTS
end

function M.route(case, ctx)
    local queue = M.QUEUES[case.type] or M.DEFAULT_QUEUE
    if case.followup then queue = M.FOLLOWUP_QUEUE end
    local priority = M.PRIORITY_DEFAULT
    if M.priority_lane(ctx.customer(case.buyer_id)) then
        priority = M.PRIORITY_VIP
    elseif case.type == "complaint" or case.followup then
        priority = M.PRIORITY_COMPLAINT
    end
    if case.escalated and priority > 1 then priority = priority - 1 end
    local skills = {}
    local category = case.item and case.item.category
    if M.SKILLED_BY_CATEGORY[queue] and category then skills = { category } end
    return { queue = queue, priority = priority, skills = skills }
end

return M

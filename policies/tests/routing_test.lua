-- routing.route: queues for every case type, the priority lane, escalation
-- and skills.

local function ctx_for(tier, spend)
    return make_ctx { now = 1794794400, customers = {
        u = { returns_30d = 0, cases_30d = 0, lifetime_spend_cents = spend, tier = tier } } }
end

local plain = ctx_for("normal", 0)

local function route(kind, extra, x)
    local c = { case_id = "r1", type = kind, buyer_id = "u", escalated = false, followup = false }
    for k, v in pairs(extra or {}) do c[k] = v end
    return policy.routing.route(c, x or plain)
end

test("every case type goes to its team", function()
    local want = {
        consultation = "customer_service", logistics = "customer_service", repair = "tech_support",
        ["return"] = "after_sales", exchange = "after_sales", refund_only = "after_sales",
        price_protection = "after_sales", complaint = "quality",
    }
    for kind, queue in pairs(want) do eq(route(kind).queue, queue, kind) end
end)

test("survey follow-ups go to quality with complaint priority", function()
    local r = route("consultation", { followup = true })
    eq(r.queue, "quality")
    eq(r.priority, 2)
end)

test("priority: 3 by default, 2 for complaints", function()
    eq(route("return").priority, 3)
    eq(route("complaint").priority, 2)
end)

test("VIP tier gets priority 1", function()
    eq(route("return", nil, ctx_for("vip", 0)).priority, 1)
    eq(route("complaint", nil, ctx_for("vip", 0)).priority, 1)
end)

test("lifetime spend of 1,000,000 cents is the priority lane, 999,999 is not", function()
    eq(route("consultation", nil, ctx_for("normal", 999999)).priority, 3)
    eq(route("consultation", nil, ctx_for("normal", 1000000)).priority, 1)
end)

test("an unknown customer routes with default priority", function()
    eq(route("return", { buyer_id = "stranger" }).priority, 3)
end)

test("escalation raises priority one step, never above 1, same queue", function()
    eq(route("return", { escalated = true }).priority, 2)
    eq(route("complaint", { escalated = true }).priority, 1)
    local vip = route("repair", { escalated = true }, ctx_for("vip", 0))
    eq(vip.priority, 1)
    eq(vip.queue, "tech_support")
end)

test("tech support needs the item's category as skill, other teams none", function()
    eq(route("repair", { item = { category = "electronics" } }).skills, { "electronics" })
    eq(route("repair").skills, {})
    eq(route("return", { item = { category = "electronics" } }).skills, {})
end)

test("a case with no buyer (a dry-run of an order-less case) routes without asking for a customer", function()
    local r = policy.routing.route({ case_id = "r2", type = "complaint", escalated = false, followup = false },
                                   plain)
    eq(r.queue, "quality")
    eq(r.priority, 2)
end)

-- sla.targets, sla.calendar and sla.on_breach: wall-clock and working-time
-- targets, weekends, public holidays and make-up days.

local FRI = 1795140000      -- Fri 2026-11-20 10:00 UTC+8
local EVE = 1790733600      -- Wed 2026-09-30 10:00 UTC+8, the day before National Day
local x = make_ctx { now = FRI }

local function targets(kind)
    return policy.sla.targets({ case_id = "t1", type = kind, created_at = FRI }, x)
end

local function contains(list, value)
    for _, v in ipairs(list) do if v == value then return true end end
    return false
end

test("one working day of the calendar is 7.5 hours", function()
    eq(policy.sla.working_day_seconds(policy.sla.calendar), 27000)
end)

test("consultation: first reply within 2 wall-clock hours", function()
    eq(targets("consultation"), { first_response = 2 * HOUR, business = false })
end)

test("complaint: solution within 24 wall-clock hours", function()
    eq(targets("complaint"), { resolution = 24 * HOUR, business = false })
end)

test("return and exchange: processed within 3 working days", function()
    eq(targets("return"), { resolution = 3 * 27000, business = true })
    eq(targets("exchange"), { resolution = 3 * 27000, business = true })
end)

test("every other case: 5 working days", function()
    for _, kind in ipairs({ "refund_only", "repair", "price_protection", "logistics" }) do
        eq(targets(kind), { resolution = 5 * 27000, business = true }, kind)
    end
end)

test("3 working days from a Friday morning skip the weekend: due Wednesday 10:00", function()
    eq(x.add_business_seconds(FRI, targets("return").resolution), 1795572000)
end)

test("3 working days before National Day skip the holiday and use the make-up Saturday", function()
    eq(x.add_business_seconds(EVE, targets("return").resolution), 1791597600) -- Sat 2026-10-10 10:00
end)

test("the calendar lists 2026 holidays and make-up working days", function()
    local cal = policy.sla.calendar
    eq(cal.workdays, { 1, 2, 3, 4, 5 })
    eq(cal.utc_offset, 28800)
    ok(contains(cal.holidays, "2026-10-01") and contains(cal.holidays, "2026-10-07"), "National Day")
    ok(contains(cal.holidays, "2026-02-17"), "Spring Festival")
    ok(contains(cal.workday_overrides, "2026-10-10"), "make-up day")
    for i = 2, #cal.holidays do ok(cal.holidays[i - 1] < cal.holidays[i], "holidays sorted") end
end)

test("a breach escalates one priority step (level 1) and arms level 2 four hours later", function()
    eq(policy.sla.on_breach({ type = "return", priority = 3 }, "resolution", x),
       { escalate = true, priority = 2, next_after = 4 * HOUR })
    eq(policy.sla.on_breach({ type = "return", priority = 1 }, "first_response", x).priority, 1)
end)

test("warnings at 75% and 90% of every target", function()
    eq(policy.sla.warnings({ type = "return" }, x), { percents = { 75, 90 } })
    eq(policy.sla.warnings({ type = "consultation" }, x), { percents = { 75, 90 } })
end)

test("escalation ladder: level 2 moves to the supervisors, level 3 alerts the merchant, then it stops", function()
    local c = { type = "complaint", priority = 1, queue = "quality" }
    eq(policy.sla.escalate(c, { level = 2, kind = "resolution" }, x),
       { queue = "supervisors", next_after = 20 * HOUR })
    eq(policy.sla.escalate(c, { level = 3, kind = "resolution" }, x), { alert_merchant = true })
    eq(policy.sla.escalate(c, { level = 4, kind = "resolution" }, x), nil)
end)

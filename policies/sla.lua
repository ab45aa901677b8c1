--[[ sla: response and resolution targets, the working calendar, breaches.

sla.targets(case, ctx) is called when a case opens.
  Receives case {type, created_at, ...}, ctx.
  Must return {first_response = SECONDS?, resolution = SECONDS?, business = BOOL}.
  business = false: the due time is created_at + SECONDS (wall clock).
  business = true:  the core adds SECONDS of working time over sla.calendar
                    (ctx.add_business_seconds), so "3 working days" is
                    3 x the working seconds of one calendar day.

sla.calendar (a table, read by the core):
  {workdays = {ISO weekday, 1 = Monday}, hours = {{"HH:MM","HH:MM"}, ...} (local,
   sorted, disjoint), utc_offset = seconds east of UTC, holidays = {"YYYY-MM-DD"},
   workday_overrides = {"YYYY-MM-DD"} (make-up working days, 调休)}

sla.warnings(case, ctx) is called right after targets.
  Must return {percents = {INTEGER 1..99, ...}} (at most 4) or nil. The core
  warns at each percent of each target's time (working time when the target
  is business time): a timeline entry, an alert and a feed event, once each.

sla.on_breach(case, kind, ctx), kind "first_response" or "resolution".
  Must return {escalate = true, queue = "team"?, priority = 1..5?,
  next_after = SECONDS?} or nil. An escalation is level 1 of the ladder;
  next_after (wall-clock seconds) arms level 2.

sla.escalate(case, step, ctx) climbs the ladder: step = {level = 2.., kind =
  the first target missed, since = when level 1 started}. Called when the
  level before it comes due and the case is still active.
  Must return {priority = 1..5?, queue = "team"?, alert_merchant = true?,
  next_after = SECONDS?} (next_after arms the level after) or nil to stop.

Targets (SPEC section 1): consultation first reply within 2 hours; complaint
solved within 24 hours (both wall clock: customers count hours, not office
hours); return and exchange processed within 3 working days; every other case
within 5 working days. Warnings at 75% and 90% of each target. The ladder:
level 1 at the breach raises priority one step; level 2, 4 hours later, moves
the case to the supervisors' queue; level 3, 20 hours after that (a day after
the breach), alerts the merchant. ]]

local M = {}

local HOUR = 3600

M.CONSULTATION_FIRST_RESPONSE = 2 * HOUR
M.COMPLAINT_RESOLUTION = 24 * HOUR
M.RETURN_EXCHANGE_WORKING_DAYS = 3
M.OTHER_WORKING_DAYS = 5
M.WARNING_PERCENTS = { 75, 90 }
M.LEVEL_2_AFTER = 4 * HOUR       -- after the breach (level 1)
M.LEVEL_3_AFTER = 20 * HOUR      -- after level 2
M.SUPERVISOR_QUEUE = "supervisors"

-- China mainland office hours (UTC+8) and the State Council's 2026 public
-- holiday schedule with its make-up working days. Update every year when the
-- next schedule is published (only New Year's Day 2027 is fixed by law so far).
M.calendar = {
    workdays = { 1, 2, 3, 4, 5 },
    hours = { { "09:00", "12:00" }, { "13:30", "18:00" } },
    utc_offset = 8 * HOUR,
    holidays = {
        "2026-01-01", "2026-01-02", "2026-01-03",                          -- New Year
        "2026-02-15", "2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19",
        "2026-02-20", "2026-02-21", "2026-02-22", "2026-02-23",            -- Spring Festival
        "2026-04-04", "2026-04-05", "2026-04-06",                          -- Qingming
        "2026-05-01", "2026-05-02", "2026-05-03", "2026-05-04", "2026-05-05", -- Labour Day
        "2026-06-19", "2026-06-20", "2026-06-21",                          -- Dragon Boat
        "2026-09-25", "2026-09-26", "2026-09-27",                          -- Mid-Autumn
        "2026-10-01", "2026-10-02", "2026-10-03", "2026-10-04", "2026-10-05",
        "2026-10-06", "2026-10-07",                                        -- National Day
        "2027-01-01",                                                      -- New Year
    },
    workday_overrides = {
        "2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10",
    },
}

local function minutes(hhmm)
    local h, m = string.match(hhmm, "^(%d%d):(%d%d)$")
    return tonumber(h) * 60 + tonumber(m)
end

-- Working seconds in one working day of a calendar: the sum of its intervals.
function M.working_day_seconds(calendar)
    local total = 0
    for _, span in ipairs(calendar.hours) do
        total = total + (minutes(span[2]) - minutes(span[1])) * 60
    end
    return total
end

-- One working day of the calendar, worked out once when the module loads
-- (a call to targets then costs a multiplication, not a parse of the hours).
local WORKING_DAY = M.working_day_seconds(M.calendar)

function M.working_days(n)
    return n * WORKING_DAY
end

function M.targets(case, ctx)
    if case.type == "consultation" then
        return { first_response = M.CONSULTATION_FIRST_RESPONSE, business = false }
    end
    if case.type == "complaint" then
        return { resolution = M.COMPLAINT_RESOLUTION, business = false }
    end
    if case.type == "return" or case.type == "exchange" then
        return { resolution = M.working_days(M.RETURN_EXCHANGE_WORKING_DAYS), business = true }
    end
    return { resolution = M.working_days(M.OTHER_WORKING_DAYS), business = true }
end

function M.warnings(case, ctx)
    return { percents = M.WARNING_PERCENTS }
end

-- A missed target escalates (level 1): one priority step up, in the same
-- queue; level 2 comes LEVEL_2_AFTER later if the case is still open.
function M.on_breach(case, kind, ctx)
    local priority = math.tointeger(case.priority) or 3
    if priority > 1 then priority = priority - 1 end
    return { escalate = true, priority = priority, next_after = M.LEVEL_2_AFTER }
end

-- Level 2: the supervisors take it over; level 3: the merchant is alerted.
function M.escalate(case, step, ctx)
    if step.level == 2 then
        return { queue = M.SUPERVISOR_QUEUE, next_after = M.LEVEL_3_AFTER }
    elseif step.level == 3 then
        return { alert_merchant = true }
    end
    return nil
end

return M

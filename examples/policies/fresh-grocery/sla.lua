--[[ sla (fresh-grocery set): the shop answers 08:00-22:00 every day of the year.

sla.targets(case, ctx) -> {first_response?, resolution?, business}; targets in
working seconds of the calendar below (14 working hours a day, no holidays:
grocery delivery runs on public holidays too). Empty lists are left out:
an empty Lua table would reach the core as {} rather than []. ]]

local M = {}

local HOUR = 3600
M.calendar = {
    workdays = { 1, 2, 3, 4, 5, 6, 7 },
    hours = { { "08:00", "22:00" } },
    utc_offset = 8 * HOUR,
}

M.FIRST_REPLY = 30 * 60               -- 30 working minutes for every case
M.FRESH_RESOLUTION = 4 * HOUR          -- refund_only settled in 4 working hours
M.OTHER_RESOLUTION = 14 * HOUR         -- one working day for everything else

function M.targets(case, ctx)
    local resolution = case.type == "refund_only" and M.FRESH_RESOLUTION or M.OTHER_RESOLUTION
    return { first_response = M.FIRST_REPLY, resolution = resolution, business = true }
end

function M.on_breach(case, kind, ctx)
    return { escalate = true, priority = 1 }
end

return M

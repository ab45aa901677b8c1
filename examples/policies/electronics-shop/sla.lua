--[[ sla (electronics-shop set): store hours 10:00-22:00, seven days a week,
closed for the Spring Festival days only.

sla.targets(case, ctx) -> {first_response?, resolution?, business=true}, in
working seconds of this calendar (12 working hours a day). ]]

local M = {}

local HOUR = 3600
M.calendar = {
    workdays = { 1, 2, 3, 4, 5, 6, 7 },
    hours = { { "10:00", "22:00" } },
    utc_offset = 8 * HOUR,
    holidays = { "2026-02-16", "2026-02-17", "2026-02-18" },
}

M.STORE_DAY = 12 * HOUR
M.FIRST_REPLY = 1 * HOUR
M.REPAIR_DAYS = 10
M.OTHER_DAYS = 2

function M.targets(case, ctx)
    local days = case.type == "repair" and M.REPAIR_DAYS or M.OTHER_DAYS
    return { first_response = M.FIRST_REPLY, resolution = days * M.STORE_DAY, business = true }
end

function M.on_breach(case, kind, ctx)
    return { escalate = true, queue = kind == "resolution" and "quality" or nil }
end

return M

--[[ survey (electronics-shop set): repaired devices are surveyed a day after
they come back (the buyer needs time to try them), other cases after an hour.
survey.on_answer: CSAT <= 2, or NPS <= 3 from a repair, calls the buyer back. ]]

local M = {}

function M.plan(case, ctx)
    if case.followup then return nil end
    return { send_after = case.type == "repair" and 24 * 3600 or 3600, questions = {
        { id = "csat", kind = "scale", min = 1, max = 5, required = true },
        { id = "nps", kind = "scale", min = 0, max = 10, required = false },
        { id = "comment", kind = "text", required = false } } }
end

function M.on_answer(case, answer, ctx)
    local unhappy = (answer.csat or 5) <= 2 or (case.type == "repair" and (answer.nps or 10) <= 3)
    if not unhappy then return nil end
    return { followup = true, queue = "quality", reason = "call back about " .. tostring(case.case_id) }
end

return M

--[[ survey (fresh-grocery set): one question, two hours after the claim is
settled (after the buyer has cooked with the replacement). survey.plan ->
{send_after, questions}; survey.on_answer -> a quality follow-up at CSAT <= 2. ]]

local M = {}

function M.plan(case, ctx)
    if case.followup then return nil end
    return { send_after = 2 * 3600, questions = {
        { id = "csat", kind = "scale", min = 1, max = 5, required = true, text = "How did we do?" } } }
end

function M.on_answer(case, answer, ctx)
    if (answer.csat or 5) > 2 then return nil end
    return { followup = true, queue = "quality", reason = "unhappy grocery buyer (csat " .. answer.csat .. ")" }
end

return M

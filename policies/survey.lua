--[[ survey: the satisfaction survey after a case is resolved, and follow-ups.

survey.plan(case, ctx) is called when a case is resolved.
  Receives case {type, status, followup, ...}, ctx.
  Must return {send_after = SECONDS, questions = {{id, kind, ...}, ...}} or nil
  (no survey). The core sends it send_after seconds after resolution.

survey.on_answer(case, answer, ctx) is called with the customer's answer
  {csat = 1..5, nps = 0..10?, comment = "..."?}.
  Must return {followup = true, queue = "team", reason = "text"} to open a
  follow-up (回访) case for that team, or nil.

Rules: every resolved case gets CSAT (1-5, required), NPS (0-10, optional) and
a comment (optional) one hour after resolution, except follow-up cases
themselves (a low score there would otherwise open follow-ups forever).
A CSAT of 2 or below opens a follow-up for the quality team. ]]

local M = {}

M.SEND_AFTER = 3600                 -- one hour after resolution
M.FOLLOWUP_CSAT_AT_OR_BELOW = 2
M.FOLLOWUP_QUEUE = "quality"

M.QUESTIONS = {
    { id = "csat", kind = "scale", min = 1, max = 5, required = true,
      text = "How satisfied are you with how we handled your request? (1-5)" },
    { id = "nps", kind = "scale", min = 0, max = 10, required = false,
      text = "How likely are you to recommend us to a friend? (0-10)" },
    { id = "comment", kind = "text", required = false,
      text = "Anything you would like to tell us?" },
}

function M.plan(case, ctx)
    if case.followup then return nil end
    return { send_after = M.SEND_AFTER, questions = M.QUESTIONS }
end

function M.on_answer(case, answer, ctx)
    local csat = math.tointeger(answer and answer.csat)
    if csat == nil or csat > M.FOLLOWUP_CSAT_AT_OR_BELOW then return nil end
    return { followup = true, queue = M.FOLLOWUP_QUEUE, reason = string.format(
        "low_csat: case %s scored %d/5%s", tostring(case.case_id), csat,
        answer.comment and (" (\"" .. tostring(answer.comment) .. "\")") or "") }
end

return M

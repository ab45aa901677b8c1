--[[ survey: the satisfaction survey after a case is resolved, and follow-ups.

survey.plan(case, ctx) is called when a case is resolved.
  Receives case {type, status, followup, ...}, ctx.
  Must return {send_after = SECONDS, questions = {{id, kind, ...}, ...}} or nil
  (no survey). The core sends it send_after seconds after resolution.

survey.relationship(buyer, ctx) plans a relationship survey: an NPS about the
  merchant (or the platform) outside any case. Called when the buyer is active
  (an order created, a case opened) and no round is planned.
  Receives buyer {buyer_id, merchant_id?, rounds, last_sent_at?,
  last_answered_at?, last_nps?}, ctx (ctx.customer(buyer.buyer_id) as usual).
  Must return {send_after = SECONDS, questions = {...}} or nil.

survey.on_answer(case, answer, ctx) is called with the customer's answer
  {csat = 1..5, nps = 0..10?, comment = "..."?}.
  Must return {followup = true, queue = "team", reason = "text"} to open a
  follow-up (回访) case for that team, or nil.

Rules: every resolved case gets CSAT (1-5, required), NPS (0-10, optional) and
a comment (optional) one hour after resolution, except follow-up cases
themselves (a low score there would otherwise open follow-ups forever).
A CSAT of 2 or below opens a follow-up for the quality team. A relationship NPS
goes out 30 days after a buyer's activity, and not within 90 days of the last
one sent. ]]

local M = {}

M.SEND_AFTER = 3600                 -- one hour after resolution
M.FOLLOWUP_CSAT_AT_OR_BELOW = 2
M.FOLLOWUP_QUEUE = "quality"
M.RELATIONSHIP_AFTER = 30 * 86400   -- after the activity that plans it
M.RELATIONSHIP_EVERY = 90 * 86400   -- at most one a quarter

M.QUESTIONS = {
    { id = "csat", kind = "scale", min = 1, max = 5, required = true,
      text = "How satisfied are you with how we handled your request? (1-5)" },
    { id = "nps", kind = "scale", min = 0, max = 10, required = false,
      text = "How likely are you to recommend us to a friend? (0-10)" },
    { id = "comment", kind = "text", required = false,
      text = "Anything you would like to tell us?" },
}

M.RELATIONSHIP_QUESTIONS = {
    { id = "nps", kind = "scale", min = 0, max = 10, required = true,
      text = "How likely are you to recommend us to a friend? (0-10)" },
    { id = "comment", kind = "text", required = false, text = "What is the main reason for your score?" },
}

function M.relationship(buyer, ctx)
    local wait = M.RELATIONSHIP_AFTER
    local last = math.tointeger(buyer.last_sent_at)
    if last and last + M.RELATIONSHIP_EVERY - ctx.now > wait then
        wait = last + M.RELATIONSHIP_EVERY - ctx.now
    end
    return { send_after = wait, questions = M.RELATIONSHIP_QUESTIONS }
end

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

--[[ risk: thresholds for the core's risk warnings (GET /v1/alerts).

risk.rules is a plain table the core reads (no function is called). The core
keeps the counters and raises an alert when a count reaches its threshold.

  complaints_per_sku_24h       complaint cases about one sku in a rolling 24 h
  complaints_per_merchant_24h  complaint cases against one merchant in 24 h
  stalled_parcel_hours         a shipped parcel with no tracking update for this
                               long opens a proactive logistics case (SPEC: 48 h)
  sla_breaches_per_queue_24h   breached SLA targets in one queue in 24 h: the
                               team is overloaded
  low_csat_per_merchant_7d     surveys scoring 2 or below for one merchant in 7 days ]]

local M = {}

M.rules = {
    complaints_per_sku_24h = 5,
    complaints_per_merchant_24h = 20,
    stalled_parcel_hours = 48,
    sla_breaches_per_queue_24h = 10,
    low_csat_per_merchant_7d = 10,
}

return M

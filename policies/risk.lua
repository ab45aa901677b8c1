--[[ risk: thresholds for the core's risk warnings (GET /v1/alerts).

risk.rules is a plain table the core reads (no function is called). The core
keeps the counters and raises an alert when a count reaches its threshold.

  complaints_per_sku_24h       complaint cases about one sku in a rolling 24 h
  complaints_per_merchant_24h  complaint cases against one merchant in 24 h
  stalled_parcel_hours         a shipped parcel with no tracking update for this
                               long opens a proactive logistics case (SPEC: 48 h)
The core evaluates exactly these keys (core/api/alerts.c); SLA breaches raise
their own alert without a threshold. ]]

local M = {}

M.rules = {
    complaints_per_sku_24h = 5,
    complaints_per_merchant_24h = 20,
    stalled_parcel_hours = 48,
}

return M

--[[ risk: thresholds for the core's risk warnings (GET /v1/alerts).

risk.rules is a plain table the core reads (no function is called). The core
keeps the counters and raises an alert when a count reaches its threshold.

  complaints_per_sku_24h       complaint cases about one sku in a rolling 24 h
  complaints_per_merchant_24h  complaint cases against one merchant in 24 h
  stalled_parcel_hours         a shipped parcel with no tracking update for this
                               long opens a proactive logistics case (SPEC: 48 h)
  returns_per_sku_24h          buyer return cases about one sku of a merchant in 24 h
  returns_per_merchant_24h     buyer return cases against one merchant in 24 h
  serial_returns_30d           return cases in 30 days by the buyers whose orders
                               give one phone, or one address (compared hashed) ...
  serial_returner_buyers       ... from at least this many buyer ids: one person
                               returning through several accounts
The core evaluates exactly these keys (core/case/open.c, core/case/risk.c); SLA
breaches, warnings and escalations raise their own alerts without a threshold. ]]

local M = {}

M.rules = {
    complaints_per_sku_24h = 5,
    complaints_per_merchant_24h = 20,
    stalled_parcel_hours = 48,
    returns_per_sku_24h = 10,
    returns_per_merchant_24h = 50,
    serial_returns_30d = 6,
    serial_returner_buyers = 2,
}

return M

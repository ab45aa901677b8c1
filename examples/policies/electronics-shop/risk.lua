--[[ risk (electronics-shop set): a batch defect shows as repeated quality
complaints about one model, so the per-sku line is low. ]]

local M = {}

M.rules = {
    complaints_per_sku_24h = 3,
    complaints_per_merchant_24h = 25,
    stalled_parcel_hours = 72,        -- insured parcels move slower
}

return M

--[[ risk (fresh-grocery set): thresholds for cold-chain goods. A parcel of
fresh food that has not moved for 12 hours is already a problem. ]]

local M = {}

M.rules = {
    stalled_parcel_hours = 12,
    complaints_per_sku_24h = 3,       -- one bad batch of strawberries shows fast
    complaints_per_merchant_24h = 15,
}

return M

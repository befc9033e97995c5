-- Asset models whose devices the fault model watches (e.g. 'cmapss_fd001' for turbofans).
ALTER TABLE asset_models ADD COLUMN fault_model text;

-- Applied only when CREATE EXTENSION timescaledb succeeds (see store/migrate.py).
SELECT create_hypertable('positions', by_range('ts', INTERVAL '1 day'), migrate_data => true);
SELECT create_hypertable('readings', by_range('ts', INTERVAL '1 day'), migrate_data => true);
ALTER TABLE positions SET (timescaledb.compress, timescaledb.compress_segmentby = 'engineer_id');
ALTER TABLE readings SET (timescaledb.compress, timescaledb.compress_segmentby = 'device_id');
SELECT add_compression_policy('positions', INTERVAL '7 days');
SELECT add_compression_policy('readings', INTERVAL '7 days');
SELECT add_retention_policy('positions', INTERVAL '180 days');
SELECT add_retention_policy('readings', INTERVAL '365 days');

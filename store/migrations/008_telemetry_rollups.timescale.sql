-- TimescaleDB: hypertables, compression, continuous aggregates (docs/timescale.md says
-- why these intervals). Retention policies come from settings (store/migrate.py
-- apply_retention), so the fixed ones of 002 go.

-- Chunk intervals, sized so one chunk of the busiest table fits comfortably in memory:
-- readings (devices every ~10 s) get 6-hour chunks, positions (phones every ~5-10 s, far
-- fewer senders) keep 1 day, the sparse geofence events and KPI facts 30 days.
SELECT set_chunk_time_interval('readings', INTERVAL '6 hours');
SELECT set_chunk_time_interval('positions', INTERVAL '1 day');

-- Compression: one segment per device / engineer, newest first inside a segment.
ALTER TABLE readings SET (timescaledb.compress, timescaledb.compress_segmentby = 'device_id',
                          timescaledb.compress_orderby = 'ts DESC');
ALTER TABLE positions SET (timescaledb.compress, timescaledb.compress_segmentby = 'engineer_id',
                           timescaledb.compress_orderby = 'ts DESC');
SELECT remove_retention_policy('positions', if_exists => true);
SELECT remove_retention_policy('readings', if_exists => true);

-- Geofence events: a hypertable's unique keys must hold its time column, and the event key
-- already holds the event time, so (event_key, ts) is as unique as event_key was.
ALTER TABLE geofence_events DROP CONSTRAINT geofence_events_pkey;
ALTER TABLE geofence_events DROP CONSTRAINT geofence_events_event_key_key;
ALTER TABLE geofence_events ADD PRIMARY KEY (id, ts);
ALTER TABLE geofence_events ADD CONSTRAINT geofence_events_event_key_ts_key UNIQUE (event_key, ts);
SELECT create_hypertable('geofence_events', by_range('ts', INTERVAL '30 days'),
                         migrate_data => true);
ALTER TABLE geofence_events SET (timescaledb.compress,
                                 timescaledb.compress_segmentby = 'engineer_id',
                                 timescaledb.compress_orderby = 'ts DESC');
SELECT add_compression_policy('geofence_events', INTERVAL '60 days');

SELECT create_hypertable('work_order_facts', by_range('ts', INTERVAL '30 days'),
                         migrate_data => true);

-- Per-asset metric buckets. Real-time aggregation (materialized_only = false): the
-- newest buckets, not yet materialised, are computed from the raw rows at query time.
CREATE MATERIALIZED VIEW readings_1m
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT r.device_id, m.key AS metric, time_bucket(INTERVAL '1 minute', r.ts) AS bucket,
       min(m.value::float8) AS min, max(m.value::float8) AS max,
       sum(m.value::float8) AS sum, count(*) AS count
FROM readings r, LATERAL jsonb_each_text(r.metrics) m
GROUP BY r.device_id, m.key, time_bucket(INTERVAL '1 minute', r.ts)
WITH NO DATA;
SELECT add_continuous_aggregate_policy('readings_1m', start_offset => INTERVAL '3 hours',
    end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '1 minute');
-- The rollups compress too, one segment per device and metric, past their refresh window.
ALTER MATERIALIZED VIEW readings_1m SET (timescaledb.compress = true,
    timescaledb.compress_segmentby = 'device_id, metric', timescaledb.compress_orderby = 'bucket DESC');
SELECT add_compression_policy('readings_1m', compress_after => INTERVAL '7 days');

CREATE MATERIALIZED VIEW readings_1h
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT device_id, metric, time_bucket(INTERVAL '1 hour', bucket) AS bucket,
       min(min) AS min, max(max) AS max, sum(sum) AS sum, sum(count)::bigint AS count
FROM readings_1m
GROUP BY device_id, metric, time_bucket(INTERVAL '1 hour', bucket)
WITH NO DATA;
SELECT add_continuous_aggregate_policy('readings_1h', start_offset => INTERVAL '3 days',
    end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '30 minutes');
ALTER MATERIALIZED VIEW readings_1h SET (timescaledb.compress = true,
    timescaledb.compress_segmentby = 'device_id, metric', timescaledb.compress_orderby = 'bucket DESC');
SELECT add_compression_policy('readings_1h', compress_after => INTERVAL '30 days');

-- KPIs per hour, engineer, site and customer.
CREATE MATERIALIZED VIEW kpi_hourly
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT time_bucket(INTERVAL '1 hour', ts) AS bucket, engineer_id, site_id, customer_id,
       count(*) FILTER (WHERE kind = 'created') AS created,
       count(*) FILTER (WHERE kind = 'arrived') AS arrived,
       sum(arrive_s) AS arrive_s_sum,
       count(sla_met) AS sla_decided,
       count(*) FILTER (WHERE sla_met) AS sla_met,
       count(*) FILTER (WHERE kind = 'completed') AS completed,
       count(*) FILTER (WHERE first_time_fix) AS first_time_fixes
FROM work_order_facts
GROUP BY time_bucket(INTERVAL '1 hour', ts), engineer_id, site_id, customer_id
WITH NO DATA;
SELECT add_continuous_aggregate_policy('kpi_hourly', start_offset => INTERVAL '7 days',
    end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '15 minutes');

-- KPI facts: one row per order event the KPIs count, written by a trigger in the same
-- transaction as the work-order event. On TimescaleDB it is a hypertable under the
-- kpi_hourly continuous aggregate (008_telemetry_rollups.timescale.sql); on plain
-- PostgreSQL store/rollups.py aggregates it with ordinary SQL, with the same answers.
CREATE TABLE work_order_facts (
    work_order_id   text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('created', 'arrived', 'completed')),
    ts              timestamptz NOT NULL,
    engineer_id     text,
    site_id         text,
    customer_id     text,
    arrive_s        double precision,  -- arrived: created -> first on site, seconds
    sla_met         boolean,           -- arrived: on site by sla_due (NULL: no due time)
    first_time_fix  boolean,           -- completed: never waited for parts, one visit
    PRIMARY KEY (work_order_id, kind, ts)
);
CREATE INDEX work_order_facts_ts_idx ON work_order_facts (ts DESC);

CREATE FUNCTION record_work_order_fact(ev work_order_events) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    o work_orders%ROWTYPE;
BEGIN
    IF ev.from_status IS NOT DISTINCT FROM ev.to_status THEN
        RETURN;  -- an edit, not a transition
    END IF;
    IF NOT ((ev.to_status = 'new' AND ev.from_status IS NULL)
            OR ev.to_status IN ('on_site', 'completed')) THEN
        RETURN;
    END IF;
    SELECT * INTO o FROM work_orders WHERE id = ev.work_order_id;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF ev.to_status = 'new' THEN
        INSERT INTO work_order_facts (work_order_id, kind, ts, engineer_id, site_id, customer_id)
        VALUES (o.id, 'created', ev.ts, o.engineer_id, o.site_id, o.customer_id)
        ON CONFLICT DO NOTHING;
    ELSIF ev.to_status = 'on_site' THEN
        IF EXISTS (SELECT 1 FROM work_order_facts
                   WHERE work_order_id = o.id AND kind = 'arrived') THEN
            RETURN;  -- only the first arrival counts
        END IF;
        INSERT INTO work_order_facts (work_order_id, kind, ts, engineer_id, site_id, customer_id,
                                      arrive_s, sla_met)
        VALUES (o.id, 'arrived', ev.ts, o.engineer_id, o.site_id, o.customer_id,
                extract(epoch FROM ev.ts - o.created_at),
                CASE WHEN o.sla_due IS NULL THEN NULL ELSE ev.ts <= o.sla_due END)
        ON CONFLICT DO NOTHING;
    ELSE
        INSERT INTO work_order_facts (work_order_id, kind, ts, engineer_id, site_id, customer_id,
                                      first_time_fix)
        VALUES (o.id, 'completed', ev.ts, o.engineer_id, o.site_id, o.customer_id,
                NOT EXISTS (SELECT 1 FROM work_order_events w WHERE w.work_order_id = o.id
                            AND w.to_status = 'waiting_parts'
                            AND w.from_status IS DISTINCT FROM 'waiting_parts')
                AND (SELECT count(*) FROM work_order_events w WHERE w.work_order_id = o.id
                     AND w.to_status = 'on_site'
                     AND w.from_status IS DISTINCT FROM 'on_site') <= 1)
        ON CONFLICT DO NOTHING;
    END IF;
END $$;

CREATE FUNCTION work_order_fact_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM record_work_order_fact(NEW);
    RETURN NULL;
END $$;

CREATE TRIGGER work_order_events_facts AFTER INSERT ON work_order_events
    FOR EACH ROW EXECUTE FUNCTION work_order_fact_trigger();

-- Orders from before this migration.
SELECT record_work_order_fact(ev) FROM work_order_events ev ORDER BY ev.id;

-- Transactional outbox (issue #21): every side effect of a use case is a row written in
-- the use case's own transaction; a relay sends committed rows after the commit.

CREATE TABLE outbox (
    id               bigserial PRIMARY KEY,
    event_id         uuid NOT NULL UNIQUE,
    channel          text NOT NULL CHECK (channel IN ('kafka', 'mqtt')),
    destination      text NOT NULL,          -- Kafka topic, or MQTT topic
    key              text NOT NULL,          -- Kafka key / engineer id: order is kept per key
    payload          bytea NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    sent_at          timestamptz,
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_error       text
);
-- The relay reads pending rows in id order, and per (destination, key) to keep order.
CREATE INDEX outbox_pending ON outbox (id) WHERE sent_at IS NULL;
CREATE INDEX outbox_pending_key ON outbox (destination, key, id) WHERE sent_at IS NULL;

-- NOTIFY is delivered only when the writing transaction commits (never for a rollback);
-- one per statement, and PostgreSQL folds repeats within a transaction.
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('fieldflow_outbox', TG_TABLE_NAME);
    RETURN NULL;
END $$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

-- Webhook deliveries: one durable row per (subscription, event), written in the event's
-- transaction; ``attempt`` counts attempts so far, ``error`` is the last error.
ALTER TABLE webhook_deliveries
    ADD COLUMN event_id uuid,
    ADD COLUMN state text NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'delivered', 'dead')),
    ADD COLUMN next_attempt_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN delivered_at timestamptz;
ALTER TABLE webhook_deliveries ALTER COLUMN attempt SET DEFAULT 0;
UPDATE webhook_deliveries SET state = CASE WHEN delivered THEN 'delivered' ELSE 'dead' END;
CREATE UNIQUE INDEX webhook_deliveries_once ON webhook_deliveries (webhook_id, event_id)
    WHERE event_id IS NOT NULL;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at, id)
    WHERE state = 'pending';
CREATE TRIGGER webhook_deliveries_notify AFTER INSERT ON webhook_deliveries
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

-- One SLA rule: response target by customer tier x order priority. A tier without a row
-- for a priority falls back to the tier's response_minutes; an order without a customer
-- is a 'silver' customer's (the customers.sla_tier default). services/sla.py.
CREATE TABLE sla_targets (
    tier              text NOT NULL REFERENCES sla_policies (tier),
    priority          text NOT NULL CHECK (priority IN ('P1', 'P2', 'P3', 'P4')),
    response_minutes  integer NOT NULL CHECK (response_minutes > 0),
    PRIMARY KEY (tier, priority)
);
-- P1 half the tier's response time, P2 and P3 the tier's, P4 double.
INSERT INTO sla_targets (tier, priority, response_minutes)
SELECT p.tier, x.priority, greatest(1, (p.response_minutes * x.factor)::integer)
FROM sla_policies p,
     (VALUES ('P1', 0.5), ('P2', 1.0), ('P3', 1.0), ('P4', 2.0)) AS x (priority, factor);

-- Notifications to people (issue #17 item 6): one row per (recipient, event), written in
-- the transaction of the event that causes it (services/outbox.py), sent by the relay's
-- email loop (api/mailer.py) with back-off, kept with its delivery state.

CREATE TABLE notifications (
    id               bigserial PRIMARY KEY,
    event_id         uuid NOT NULL,            -- the event that caused it
    kind             text NOT NULL,            -- sla_risk | escalation
    channel          text NOT NULL DEFAULT 'email' CHECK (channel IN ('email')),
    recipient        text NOT NULL,
    subject          text NOT NULL,
    body             text NOT NULL,
    link             text NOT NULL,
    work_order_id    text,
    state            text NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts         integer NOT NULL DEFAULT 0,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz,
    UNIQUE (event_id, channel, recipient)
);
CREATE INDEX notifications_due ON notifications (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX notifications_order ON notifications (work_order_id, id);
CREATE TRIGGER notifications_notify AFTER INSERT ON notifications
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

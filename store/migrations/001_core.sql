-- FieldFlow core schema (plain PostgreSQL; TimescaleDB features are in *.timescale.sql).

CREATE TABLE sla_policies (
    tier              text PRIMARY KEY,
    response_minutes  integer NOT NULL CHECK (response_minutes > 0),
    resolve_minutes   integer NOT NULL CHECK (resolve_minutes > 0)
);
INSERT INTO sla_policies (tier, response_minutes, resolve_minutes) VALUES
    ('platinum', 60, 240), ('gold', 120, 480), ('silver', 240, 1440), ('bronze', 480, 2880);

CREATE TABLE customers (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    sla_tier    text NOT NULL DEFAULT 'silver' REFERENCES sla_policies (tier),
    contacts    jsonb NOT NULL DEFAULT '[]',
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sites (
    id              text PRIMARY KEY,
    customer_id     text NOT NULL REFERENCES customers (id),
    name            text NOT NULL,
    address         text NOT NULL DEFAULT '',
    lat             double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon             double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
    fence_radius_m  double precision NOT NULL DEFAULT 100 CHECK (fence_radius_m > 0),
    fence_polygon   jsonb,            -- optional [[lat, lon], ...]
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sites_customer_idx ON sites (customer_id);

CREATE TABLE asset_models (
    id                 text PRIMARY KEY,
    name               text NOT NULL,
    required_skills    text[] NOT NULL DEFAULT '{}',
    rules              jsonb NOT NULL DEFAULT '[]',   -- threshold rules, e.g. "temperature > 90 for 60s"
    reading_timeout_s  integer NOT NULL DEFAULT 600,
    service_minutes    integer NOT NULL DEFAULT 45
);

CREATE TABLE assets (
    id            text PRIMARY KEY,
    site_id       text NOT NULL REFERENCES sites (id),
    model_id      text NOT NULL REFERENCES asset_models (id),
    serial        text NOT NULL DEFAULT '',
    installed_on  date,
    device_id     text UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX assets_site_idx ON assets (site_id);

CREATE TABLE engineers (
    id                 text PRIMARY KEY,
    name               text NOT NULL,
    skills             text[] NOT NULL DEFAULT '{}',
    shift_start        time NOT NULL DEFAULT '08:00',
    shift_end          time NOT NULL DEFAULT '17:00',
    home_lat           double precision,
    home_lon           double precision,
    status             text NOT NULL DEFAULT 'offline' CHECK (status IN ('online', 'offline')),
    offline_timeout_s  integer NOT NULL DEFAULT 300,
    last_seen          timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE engineer_last_position (
    engineer_id  text PRIMARY KEY,
    ts           timestamptz NOT NULL,
    lat          double precision NOT NULL,
    lon          double precision NOT NULL,
    accuracy_m   double precision,
    speed_mps    double precision,
    heading      double precision,
    battery      double precision,
    source       text NOT NULL,
    received_at  timestamptz
);

CREATE TABLE parts (
    id                   text PRIMARY KEY,
    name                 text NOT NULL,
    unit_cost            numeric(12, 2) NOT NULL DEFAULT 0,
    low_stock_threshold  integer NOT NULL DEFAULT 1
);

CREATE TABLE depots (
    id    text PRIMARY KEY,
    name  text NOT NULL,
    lat   double precision NOT NULL,
    lon   double precision NOT NULL
);

CREATE TABLE van_stock (
    engineer_id  text NOT NULL REFERENCES engineers (id),
    part_id      text NOT NULL REFERENCES parts (id),
    qty          integer NOT NULL CHECK (qty >= 0),
    PRIMARY KEY (engineer_id, part_id)
);

CREATE TABLE checklist_templates (
    order_type  text PRIMARY KEY,
    items       jsonb NOT NULL   -- [{id, label, kind: checkbox|number|photo|signature, required, min, max}]
);
INSERT INTO checklist_templates (order_type, items) VALUES
    ('repair', '[{"id": "diagnosis", "label": "Fault diagnosed", "kind": "checkbox", "required": true},
                 {"id": "photo_after", "label": "Photo after repair", "kind": "photo", "required": true},
                 {"id": "test_run", "label": "Test run passed", "kind": "checkbox", "required": true}]'),
    ('inspection', '[{"id": "visual", "label": "Visual inspection", "kind": "checkbox", "required": true}]'),
    ('install', '[{"id": "commissioned", "label": "Commissioned", "kind": "checkbox", "required": true},
                  {"id": "signature", "label": "Customer signature", "kind": "signature", "required": true}]');

CREATE TABLE work_orders (
    id                  text PRIMARY KEY,
    order_type          text NOT NULL DEFAULT 'repair' REFERENCES checklist_templates (order_type),
    status              text NOT NULL DEFAULT 'new',
    priority            text NOT NULL DEFAULT 'P3' CHECK (priority IN ('P1', 'P2', 'P3', 'P4')),
    title               text NOT NULL,
    description         text NOT NULL DEFAULT '',
    customer_id         text REFERENCES customers (id),
    site_id             text REFERENCES sites (id),
    asset_id            text REFERENCES assets (id),
    engineer_id         text REFERENCES engineers (id),
    required_skills     text[] NOT NULL DEFAULT '{}',
    required_parts      jsonb NOT NULL DEFAULT '{}',
    fault_type          text,
    alert_id            bigint,
    idempotency_key     text UNIQUE,
    sla_due             timestamptz,
    sla_breached        boolean NOT NULL DEFAULT false,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    assigned_at         timestamptz,
    accepted_at         timestamptz,
    en_route_at         timestamptz,
    checkin_at          timestamptz,
    checkout_at         timestamptz,
    completed_at        timestamptz,
    signed_off_at       timestamptz,
    closed_at           timestamptz,
    signed_by           text,
    rating              smallint CHECK (rating BETWEEN 1 AND 5),
    feedback            text
);
CREATE INDEX work_orders_status_idx ON work_orders (status, priority);
CREATE INDEX work_orders_engineer_idx ON work_orders (engineer_id, status);
CREATE INDEX work_orders_site_idx ON work_orders (site_id);
CREATE INDEX work_orders_asset_idx ON work_orders (asset_id);

CREATE TABLE work_order_events (
    id             bigserial PRIMARY KEY,
    work_order_id  text NOT NULL REFERENCES work_orders (id),
    from_status    text,
    to_status      text NOT NULL,
    ts             timestamptz NOT NULL,
    actor          text NOT NULL,
    reason         text NOT NULL DEFAULT '',
    details        jsonb NOT NULL DEFAULT '{}',
    event_key      text UNIQUE
);
CREATE INDEX work_order_events_order_idx ON work_order_events (work_order_id, id);

CREATE TABLE checklist_answers (
    work_order_id  text NOT NULL REFERENCES work_orders (id),
    item_id        text NOT NULL,
    value          jsonb NOT NULL,
    answered_at    timestamptz NOT NULL DEFAULT now(),
    answered_by    text NOT NULL,
    PRIMARY KEY (work_order_id, item_id)
);

CREATE TABLE work_order_parts (
    id             bigserial PRIMARY KEY,
    work_order_id  text NOT NULL REFERENCES work_orders (id),
    part_id        text NOT NULL REFERENCES parts (id),
    qty            integer NOT NULL CHECK (qty > 0),
    engineer_id    text REFERENCES engineers (id),
    used_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE alerts (
    id               bigserial PRIMARY KEY,
    dedup_key        text NOT NULL UNIQUE,
    device_id        text NOT NULL,
    asset_id         text,
    fault_type       text NOT NULL,
    kind             text NOT NULL,
    severity         text NOT NULL,
    state            text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'acknowledged', 'cleared')),
    opened_at        timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    cleared_at       timestamptz,
    message          text NOT NULL DEFAULT '',
    value            double precision,
    details          jsonb NOT NULL DEFAULT '{}',
    work_order_id    text,
    acknowledged_by  text
);
-- One incident, one alert: at most one open alert per (device, fault type).
CREATE UNIQUE INDEX alerts_one_open_idx ON alerts (device_id, fault_type) WHERE state <> 'cleared';

-- Telemetry. Primary keys make redelivered records idempotent (ON CONFLICT DO NOTHING).
CREATE TABLE positions (
    engineer_id  text NOT NULL,
    ts           timestamptz NOT NULL,
    lat          double precision NOT NULL,
    lon          double precision NOT NULL,
    accuracy_m   double precision,
    speed_mps    double precision,
    heading      double precision,
    battery      double precision,
    source       text NOT NULL,
    received_at  timestamptz,
    stored_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (engineer_id, ts)
);
CREATE INDEX positions_ts_idx ON positions (ts DESC);

CREATE TABLE readings (
    device_id    text NOT NULL,
    ts           timestamptz NOT NULL,
    metrics      jsonb NOT NULL,
    source       text NOT NULL,
    received_at  timestamptz,
    stored_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (device_id, ts)
);
CREATE INDEX readings_ts_idx ON readings (ts DESC);

CREATE TABLE geofence_events (
    id             bigserial PRIMARY KEY,
    event_key      text NOT NULL UNIQUE,
    engineer_id    text NOT NULL,
    site_id        text NOT NULL,
    work_order_id  text,
    kind           text NOT NULL CHECK (kind IN ('enter', 'exit')),
    ts             timestamptz NOT NULL,
    dwell_s        double precision,
    lat            double precision,
    lon            double precision
);
CREATE INDEX geofence_events_ts_idx ON geofence_events (ts DESC);

CREATE TABLE eta_latest (
    work_order_id  text PRIMARY KEY,
    engineer_id    text NOT NULL,
    ts             timestamptz NOT NULL,
    eta            timestamptz NOT NULL,
    remaining_m    double precision NOT NULL,
    speed_mps      double precision NOT NULL,
    confidence     double precision NOT NULL,
    late_by_s      double precision
);

CREATE TABLE users (
    id           text PRIMARY KEY,
    name         text NOT NULL,
    role         text NOT NULL CHECK (role IN ('admin', 'dispatcher', 'engineer', 'customer', 'device')),
    engineer_id  text REFERENCES engineers (id),
    customer_id  text REFERENCES customers (id),
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_tokens (
    token_hash     text PRIMARY KEY,          -- sha256 hex; the token itself is never stored
    user_id        text REFERENCES users (id),
    role           text NOT NULL,
    work_order_id  text REFERENCES work_orders (id),   -- customer tracking tokens
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz,
    revoked        boolean NOT NULL DEFAULT false
);

CREATE TABLE audit_log (
    id         bigserial PRIMARY KEY,
    ts         timestamptz NOT NULL DEFAULT now(),
    actor      text NOT NULL,
    action     text NOT NULL,
    entity     text NOT NULL,
    entity_id  text NOT NULL,
    details    jsonb NOT NULL DEFAULT '{}'
);

CREATE TABLE webhooks (
    id           bigserial PRIMARY KEY,
    url          text NOT NULL,
    event_types  text[] NOT NULL,
    secret       text NOT NULL,
    active       boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE webhook_deliveries (
    id           bigserial PRIMARY KEY,
    webhook_id   bigint NOT NULL REFERENCES webhooks (id),
    event_type   text NOT NULL,
    payload      jsonb NOT NULL,
    attempt      integer NOT NULL,
    status_code  integer,
    error        text,
    delivered    boolean NOT NULL DEFAULT false,
    ts           timestamptz NOT NULL DEFAULT now()
);

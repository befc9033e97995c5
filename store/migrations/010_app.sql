-- The engineer's phone (issue #16): tracker ids for Traccar Client, one-time enrolment
-- codes, and attachments (photos, signatures, documents) stored outside the database.

ALTER TABLE engineers ADD COLUMN tracker_id text UNIQUE
    CHECK (tracker_id ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$');

CREATE TABLE enrolment_codes (
    code_hash    text PRIMARY KEY,        -- sha256 hex of the one-time code, never the code
    engineer_id  text NOT NULL REFERENCES engineers (id),
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    redeemed_at  timestamptz,
    token_hash   text                     -- the engineer token it was exchanged for
);
CREATE INDEX enrolment_codes_engineer_idx ON enrolment_codes (engineer_id);

CREATE TABLE attachments (
    id             text PRIMARY KEY,
    work_order_id  text NOT NULL REFERENCES work_orders (id),
    kind           text NOT NULL CHECK (kind IN ('photo', 'signature', 'document')),
    sha256         text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size           bigint NOT NULL CHECK (size > 0),
    content_type   text NOT NULL,
    storage_key    text NOT NULL,
    thumbnail_key  text,
    captured_at    timestamptz,           -- the client's time, else the photo's EXIF time
    lat            double precision CHECK (lat BETWEEN -90 AND 90),
    lon            double precision CHECK (lon BETWEEN -180 AND 180),
    exif_taken_at  timestamptz,
    exif_lat       double precision,
    exif_lon       double precision,
    uploaded_by    text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (work_order_id, kind, sha256)  -- a replayed upload finds the first one
);
CREATE INDEX attachments_order_idx ON attachments (work_order_id, created_at);

-- Stream state owned by partitions (docs/streams.md "State and time"): the working state
-- of one topic partition, taken at `next_offset` (the first record not yet in it). A
-- worker that gains the partition restores it and replays from that offset.
CREATE TABLE stream_snapshots (
    consumer_group text NOT NULL,
    topic text NOT NULL,
    partition integer NOT NULL,
    next_offset bigint NOT NULL,
    state bytea NOT NULL,
    worker text NOT NULL,
    taken_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, topic, partition)
);

-- Records whose event time was too far ahead of their partition's watermark: stored as
-- usual (positions, readings) and flagged here; they did not move the partition's time.
CREATE TABLE clock_skew_events (
    topic text NOT NULL,
    key text NOT NULL,
    ts timestamptz NOT NULL,
    partition integer NOT NULL,
    watermark timestamptz,
    flagged_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, key, ts)
);
CREATE INDEX clock_skew_events_key ON clock_skew_events (key, ts DESC);

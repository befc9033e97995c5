-- What the live dispatcher needs beyond 001: appointment windows, lunch breaks, depot
-- stock, and the route order chosen when an order was dispatched.

-- The customer's appointment window: bounds the *start* of service (either end optional).
ALTER TABLE work_orders
    ADD COLUMN window_start timestamptz,
    ADD COLUMN window_end   timestamptz,
    ADD CONSTRAINT work_orders_window_check CHECK (window_start < window_end);

-- Position of the order in its engineer's route, written when dispatch assigns it.
ALTER TABLE work_orders ADD COLUMN route_seq integer;

-- Orders already on a route keep the order they had (frozen first, then as assigned).
UPDATE work_orders o SET route_seq = r.seq
FROM (SELECT id, row_number() OVER (
          PARTITION BY engineer_id
          ORDER BY status IN ('en_route', 'on_site', 'in_progress', 'waiting_parts') DESC,
                   assigned_at NULLS LAST, id) AS seq
      FROM work_orders
      WHERE engineer_id IS NOT NULL
        AND status IN ('assigned', 'accepted', 'en_route', 'on_site', 'in_progress',
                       'waiting_parts')) AS r
WHERE o.id = r.id;

-- A break of lunch_minutes starting anywhere in [lunch_earliest, lunch_latest] (times of
-- the engineer's day, like the shift; latest before earliest means across midnight).
ALTER TABLE engineers
    ADD COLUMN lunch_earliest time,
    ADD COLUMN lunch_latest   time,
    ADD COLUMN lunch_minutes  integer CHECK (lunch_minutes > 0),
    ADD CONSTRAINT engineers_lunch_check CHECK (
        (lunch_earliest IS NULL AND lunch_latest IS NULL AND lunch_minutes IS NULL)
        OR (lunch_earliest IS NOT NULL AND lunch_latest IS NOT NULL
            AND lunch_minutes IS NOT NULL));

CREATE TABLE depot_stock (
    depot_id  text NOT NULL REFERENCES depots (id),
    part_id   text NOT NULL REFERENCES parts (id),
    qty       integer NOT NULL CHECK (qty >= 0),
    PRIMARY KEY (depot_id, part_id)
);

-- A depot pickup booked by auto-dispatch: the engineer collects the parts their van lacks
-- at this depot on the way to the order. While pickup_parts is set the parts are reserved
-- (no other order can count on them); at check-in they move from the depot to the van
-- and pickup_parts is cleared (pickup_depot_id stays as history). Reassigning, rejecting
-- or cancelling the order releases them.
ALTER TABLE work_orders
    ADD COLUMN pickup_depot_id text REFERENCES depots (id),
    ADD COLUMN pickup_parts    jsonb;

CREATE INDEX work_orders_pickup_idx ON work_orders (pickup_depot_id)
    WHERE pickup_parts IS NOT NULL;

CREATE VIEW depot_reserved AS
    SELECT o.pickup_depot_id AS depot_id, p.key AS part_id, sum(p.value::integer) AS qty
    FROM work_orders o, jsonb_each_text(o.pickup_parts) AS p
    WHERE o.pickup_parts IS NOT NULL
    GROUP BY o.pickup_depot_id, p.key;

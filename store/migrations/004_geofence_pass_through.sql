-- Drive-throughs (a fence crossed without a check-in) are stored beside enters and exits.
ALTER TABLE geofence_events DROP CONSTRAINT geofence_events_kind_check;
ALTER TABLE geofence_events ADD CONSTRAINT geofence_events_kind_check
    CHECK (kind IN ('enter', 'exit', 'pass_through'));

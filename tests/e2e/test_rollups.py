"""Readings buckets and KPI rollups on the run's database flavour (--db-flavor): the
API's numbers equal the ones computed here from the data, and on TimescaleDB the
continuous aggregates answer exactly as the plain-PostgreSQL SQL does on the same rows."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from models.buckets import floor
from stack.timescale import installed_version
from store import rollups
from tests.e2e.conftest import Stack, wait_until
from tests.e2e.seed import query, seed_site, uid

pytestmark = pytest.mark.e2e


def _plain_and_timescale(stack: Stack, call: Any) -> tuple[Any, Any]:
    async def both() -> tuple[Any, Any]:
        async with await psycopg.AsyncConnection.connect(stack.database_url,
                                                         autocommit=True) as conn:
            return await call(conn, "plain"), await call(conn, "timescale")
    return asyncio.run(both())


def test_status_and_schema_follow_the_flavour(stack: Stack, db_flavor: str) -> None:
    status = json.loads(stack.cli("status", "--json").stdout)
    tables = {r[0] for r in query(stack.database_url,
                                  "SELECT hypertable_name::text FROM timescaledb_information"
                                  ".hypertables")} if db_flavor == "timescale" else set()
    if db_flavor == "timescale":
        assert status["timescaledb"]
        assert {"positions", "readings", "geofence_events", "work_order_facts"} <= tables
        caggs = {r[0] for r in query(stack.database_url, "SELECT view_name::text FROM"
                                     " timescaledb_information.continuous_aggregates")}
        assert caggs == {"readings_1m", "readings_1h", "kpi_hourly"}
        jobs = {(r[0], r[1]) for r in query(
            stack.database_url, "SELECT proc_name::text, hypertable_name::text FROM"
            " timescaledb_information.jobs WHERE hypertable_name IS NOT NULL")}
        for table in ("positions", "readings", "geofence_events"):
            assert ("policy_compression", table) in jobs
            assert ("policy_retention", table) in jobs
        compress = query(stack.database_url,
                         "SELECT hypertable::text, segmentby, orderby FROM"
                         " timescaledb_information.hypertable_compression_settings")
        assert {("readings", "device_id", "ts DESC"), ("positions", "engineer_id", "ts DESC"),
                ("geofence_events", "engineer_id", "ts DESC")} <= set(compress)
    else:
        assert status["timescaledb"] is None
        assert not query(stack.database_url,
                         "SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")


def test_installed_but_not_preloaded_starts_on_plain_postgres(stack: Stack,
                                                              db_flavor: str) -> None:
    """The plain flavour with the library installed is exactly that case: `up` succeeded
    (the fixture), migrations ran on plain tables and running them again is harmless."""
    if db_flavor != "plain" or installed_version() is None:
        pytest.skip("needs the plain flavour with TimescaleDB installed (make timescale)")
    preload = query(stack.database_url, "SELECT current_setting('shared_preload_libraries')")
    assert "timescaledb" not in preload[0][0]
    assert query(stack.database_url,
                 "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'")
    done = stack.cli("migrate")
    assert done.returncode == 0, done.stderr
    assert "not in shared_preload_libraries" in done.stderr
    assert query(stack.database_url, "SELECT count(*) FROM work_order_facts")[0][0] >= 0


def _expected(rows: list[tuple[datetime, float]], width: timedelta) -> list[dict[str, Any]]:
    buckets: dict[datetime, list[float]] = {}
    for ts, v in rows:
        buckets.setdefault(floor(ts, width), []).append(v)
    return [{"ts": b, "min": min(vs), "max": max(vs), "avg": sum(vs) / len(vs),
             "count": len(vs)} for b, vs in sorted(buckets.items())]


def _same(got: list[dict[str, Any]], want: list[dict[str, Any]]) -> None:
    assert [(datetime.fromisoformat(str(g["ts"])) if isinstance(g["ts"], str) else g["ts"],
             g["count"], g["min"], g["max"]) for g in got] == [
        (w["ts"], w["count"], w["min"], w["max"]) for w in want]
    for g, w in zip(got, want, strict=True):
        assert g["avg"] == pytest.approx(w["avg"], rel=1e-12)


def test_readings_over_mqtt_come_back_bucketed(stack: Stack, db_flavor: str) -> None:
    ids = seed_site(stack.database_url, lat=51.5, lon=-0.1)
    # Event times from just after now on (above any aggregate's watermark: real-time
    # aggregation answers for them), 7 s apart, over three minutes and a bit.
    t0 = floor(datetime.now(UTC), timedelta(minutes=1)) + timedelta(minutes=2)
    sent = [(t0 + timedelta(seconds=7 * i), round(20 + (i * 37 % 11) * 0.5, 2))
            for i in range(30)]
    c = stack.mqtt_client()
    try:
        for ts, v in sent:
            c.publish(f"fieldflow/devices/{ids['dev']}/telemetry", json.dumps(
                {"ts": int(ts.timestamp() * 1000), "metrics": {"temperature": v, "rpm": 1}}),
                qos=1).wait_for_publish(10)
    finally:
        c.loop_stop()
        c.disconnect()
    wait_until(lambda: query(stack.database_url, "SELECT count(*) FROM readings WHERE"
                             " device_id = %s", (ids["dev"],))[0][0] == len(sent), 60)
    params = {"metric": "temperature", "from": (t0 - timedelta(minutes=1)).isoformat(),
              "to": (t0 + timedelta(minutes=5)).isoformat()}
    with stack.api() as api:
        for bucket, width in (("60s", timedelta(minutes=1)), ("1h", timedelta(hours=1)),
                              ("20s", timedelta(seconds=20))):
            r = api.get(f"/api/v1/assets/{ids['asset']}/readings",
                        params={**params, "bucket": bucket})
            assert r.status_code == 200, r.text
            assert r.json()["flavour"] == db_flavor
            _same(r.json()["items"], _expected(sent, width))
        assert api.get(f"/api/v1/assets/{ids['asset']}/readings",
                       params={**params, "bucket": "7w"}).status_code == 422
        assert api.get("/api/v1/assets/nope/readings",
                       params={**params}).status_code == 404
    if db_flavor == "timescale":  # materialised too, and the plain SQL agrees
        for view in ("readings_1m", "readings_1h"):
            query(stack.database_url, f"CALL refresh_continuous_aggregate('{view}', NULL, NULL)")
        for width in (timedelta(minutes=1), timedelta(hours=1), timedelta(seconds=20)):
            plain, ts = _plain_and_timescale(stack, lambda conn, kind, w=width: (
                rollups.reading_buckets(conn, device_id=ids["dev"], metric="temperature",
                                        start=t0, end=t0 + timedelta(minutes=5), width=w,
                                        kind=kind)))
            _same(ts, _expected(sent, width))
            _same(plain, _expected(sent, width))


def _order(db: str, ids: dict[str, str], created: datetime, due: datetime | None,
           path: list[tuple[str, str, int]]) -> str:
    """An order and its status events (minutes after ``created``), as the services write
    them: the event rows fire the KPI-facts trigger."""
    oid = uid("wo")
    query(db, "INSERT INTO work_orders (id, title, status, customer_id, site_id, sla_due,"
          " created_at) VALUES (%s, 'kpi', 'new', %s, %s, %s, %s)",
          (oid, ids["cust"], ids["site"], due, created))
    query(db, "INSERT INTO work_order_events (work_order_id, from_status, to_status, ts, actor)"
          " VALUES (%s, NULL, 'new', %s, 'test')", (oid, created))
    for frm, to, minutes in path:
        at = created + timedelta(minutes=minutes)
        if to == "on_site":
            query(db, "UPDATE work_orders SET checkin_at = coalesce(checkin_at, %s) WHERE id = %s",
                  (at, oid))
        query(db, "INSERT INTO work_order_events (work_order_id, from_status, to_status, ts,"
              " actor) VALUES (%s, %s, %s, %s, 'test')", (oid, frm, to, at))
    return oid


def test_kpis_from_the_aggregates_equal_plain_sql(stack: Stack, db_flavor: str) -> None:
    db = stack.database_url
    ids = seed_site(db, lat=51.5, lon=-0.1)
    t = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    visit = [("en_route", "on_site", 30), ("on_site", "in_progress", 35)]
    _order(db, ids, t, t + timedelta(hours=1),  # on time, fixed first time
           [*visit, ("in_progress", "completed", 60)])
    _order(db, ids, t + timedelta(minutes=10), t + timedelta(minutes=40),  # late, parts
           [("en_route", "on_site", 50), ("on_site", "in_progress", 55),
            ("in_progress", "waiting_parts", 60), ("waiting_parts", "in_progress", 70),
            ("in_progress", "completed", 80)])
    _order(db, ids, t + timedelta(minutes=20), None, [])  # never arrives
    _order(db, ids, t + timedelta(minutes=5), None,  # no due time, two visits
           [*visit, ("in_progress", "on_site", 40), ("on_site", "in_progress", 45),
            ("in_progress", "completed", 130)])
    if db_flavor == "timescale":
        query(db, "CALL refresh_continuous_aggregate('kpi_hourly', NULL, NULL)")
    with stack.api() as api:
        r = api.get("/api/v1/kpis/rollup", params={
            "group_by": "site", "bucket": "1h", "from": t.isoformat(),
            "to": (t + timedelta(hours=3)).isoformat()})
        assert r.status_code == 200, r.text
        mine = [i for i in r.json()["items"] if i["group"] == ids["site"]]
        day = api.get("/api/v1/kpis/rollup", params={
            "group_by": "site", "bucket": "1d", "from": t.isoformat(),
            "to": (t + timedelta(hours=3)).isoformat()}).json()["items"]
        assert api.get("/api/v1/kpis/rollup", params={"bucket": "90s"}).status_code == 422
    assert r.json()["flavour"] == db_flavor
    nine, ten, eleven = mine  # created 9:00 9:05 9:10 9:20; arrived 9:30 9:35 10:00
    assert (nine["orders"], nine["arrived"], nine["completed"]) == (4, 2, 0)
    assert nine["mean_time_to_arrive_s"] == pytest.approx(30 * 60)
    assert nine["sla_attainment"] == 1.0
    assert (ten["orders"], ten["arrived"], ten["mean_time_to_arrive_s"]) == (0, 1, 50 * 60)
    assert (ten["sla_attainment"], ten["completed"], ten["first_time_fix_rate"]) == (0.0, 2, 0.5)
    assert (eleven["completed"], eleven["first_time_fix_rate"]) == (1, 0.0)
    (whole,) = [i for i in day if i["group"] == ids["site"]]
    assert (whole["orders"], whole["arrived"], whole["completed"]) == (4, 3, 3)
    assert whole["first_time_fix_rate"] == pytest.approx(1 / 3)
    assert whole["mean_time_to_arrive_s"] == pytest.approx((30 + 30 + 50) * 60 / 3)
    assert whole["sla_attainment"] == pytest.approx(1 / 2)
    if db_flavor == "timescale":
        for width in (timedelta(hours=1), timedelta(days=1)):
            plain, ts = _plain_and_timescale(stack, lambda conn, kind, w=width: (
                rollups.kpi_buckets(conn, start=t, end=t + timedelta(hours=3), width=w,
                                    group_by="site", kind=kind)))
            assert [p for p in plain if p["group"] == ids["site"]] == [
                x for x in ts if x["group"] == ids["site"]]

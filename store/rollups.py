"""Bucketed readings and KPIs, from TimescaleDB's continuous aggregates or, on plain
PostgreSQL, from the raw rows with ordinary SQL: the same buckets and the same numbers.

``time_bucket`` and the ``readings_1m`` / ``readings_1h`` / ``kpi_hourly`` aggregates on
TimescaleDB (migration 008), ``date_bin`` at the same origin on plain PostgreSQL.
A width that is a whole number of hours reads the 1-hour rollup, of minutes the 1-minute
one, anything else the raw readings.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from models.buckets import ORIGIN, BadBucket, bucket_range, rollup_for

Flavour = Literal["timescale", "plain"]
Conn = AsyncConnection[Any]
KpiGroup = Literal["engineer", "site", "customer", "none"]
_GROUP = {"engineer": "engineer_id", "site": "site_id", "customer": "customer_id",
          "none": "NULL::text"}
_ROLLUP_VIEW = {"1m": "readings_1m", "1h": "readings_1h"}


async def _all(conn: Conn, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql, params)
        return await cur.fetchall()


async def flavour(conn: Conn) -> Flavour:
    """``timescale`` once migration 008's aggregates exist, else ``plain``."""
    if not await _all(conn, "SELECT 1 AS x FROM pg_extension WHERE extname = 'timescaledb'", {}):
        return "plain"
    found = await _all(conn, "SELECT 1 AS x FROM timescaledb_information.continuous_aggregates"
                       " WHERE view_name = 'kpi_hourly'", {})
    return "timescale" if found else "plain"


async def device_of_asset(conn: Conn, asset_id: str) -> tuple[bool, str | None]:
    """(asset exists, its device id)."""
    rows = await _all(conn, "SELECT device_id FROM assets WHERE id = %(a)s", {"a": asset_id})
    return (bool(rows), rows[0]["device_id"] if rows else None)


def _readings_sql(kind: Flavour, width: timedelta) -> str:
    rollup = rollup_for(width) if kind == "timescale" else None
    if rollup:
        return (
            "SELECT time_bucket(%(w)s, bucket) AS ts, min(min) AS min, max(max) AS max,"  # noqa: S608  # nosec B608 - fixed names
            " sum(sum) / sum(count) AS avg, sum(count)::bigint AS count"
            f" FROM {_ROLLUP_VIEW[rollup]}"
            " WHERE device_id = %(d)s AND metric = %(m)s AND bucket >= %(lo)s AND bucket < %(hi)s"
            " GROUP BY 1 ORDER BY 1"
        )
    cut = "time_bucket(%(w)s, r.ts)" if kind == "timescale" else "date_bin(%(w)s, r.ts, %(o)s)"
    return (
        f"SELECT {cut} AS ts, min(v) AS min, max(v) AS max, avg(v) AS avg, count(v) AS count"  # noqa: S608  # nosec B608 - fixed names
        " FROM readings r, LATERAL (SELECT (r.metrics ->> %(m)s)::float8 AS v) x"
        " WHERE r.device_id = %(d)s AND r.ts >= %(lo)s AND r.ts < %(hi)s AND r.metrics ? %(m)s"
        " GROUP BY 1 ORDER BY 1"
    )


async def reading_buckets(
    conn: Conn, *, device_id: str, metric: str, start: datetime, end: datetime,
    width: timedelta, kind: Flavour,
) -> list[dict[str, Any]]:
    """``{ts, min, max, avg, count}`` per bucket overlapping ``[start, end)`` (whole
    buckets, see models.buckets), empty buckets left out."""
    lo, hi = bucket_range(start, end, width)
    rows = await _all(conn, _readings_sql(kind, width), {
        "w": width, "o": ORIGIN, "d": device_id, "m": metric, "lo": lo, "hi": hi})
    return [{**r, "min": float(r["min"]), "max": float(r["max"]), "avg": float(r["avg"]),
             "count": int(r["count"])} for r in rows]


def _kpi_sql(kind: Flavour, group: str) -> str:
    if kind == "timescale":
        return (
            f"SELECT time_bucket(%(w)s, bucket) AS bucket, {group} AS grp,"  # noqa: S608  # nosec B608 - fixed names
            " sum(created)::bigint AS orders, sum(arrived)::bigint AS arrived,"
            " sum(arrive_s_sum) AS arrive_s_sum, sum(sla_decided)::bigint AS sla_decided,"
            " sum(sla_met)::bigint AS sla_met, sum(completed)::bigint AS completed,"
            " sum(first_time_fixes)::bigint AS first_time_fixes"
            " FROM kpi_hourly WHERE bucket >= %(lo)s AND bucket < %(hi)s"
            " GROUP BY 1, 2 ORDER BY 1, 2"
        )
    return (
        f"SELECT date_bin(%(w)s, ts, %(o)s) AS bucket, {group} AS grp,"  # noqa: S608  # nosec B608 - fixed names
        " count(*) FILTER (WHERE kind = 'created') AS orders,"
        " count(*) FILTER (WHERE kind = 'arrived') AS arrived,"
        " sum(arrive_s) AS arrive_s_sum, count(sla_met) AS sla_decided,"
        " count(*) FILTER (WHERE sla_met) AS sla_met,"
        " count(*) FILTER (WHERE kind = 'completed') AS completed,"
        " count(*) FILTER (WHERE first_time_fix) AS first_time_fixes"
        " FROM work_order_facts WHERE ts >= %(lo)s AND ts < %(hi)s"
        " GROUP BY 1, 2 ORDER BY 1, 2"
    )


def _ratio(num: Any, den: Any) -> float | None:
    return float(num) / float(den) if den else None


async def kpi_buckets(
    conn: Conn, *, start: datetime, end: datetime, width: timedelta, group_by: KpiGroup,
    kind: Flavour,
) -> list[dict[str, Any]]:
    """Orders per bucket, mean time to arrive, SLA attainment (first arrivals on site by
    their due time, over first arrivals that had one) and first-time-fix rate (completed
    orders that never waited for parts and had one visit), each counted in the bucket
    where it happened. ``width``: whole hours (the aggregate's grain)."""
    if width % timedelta(hours=1):
        raise BadBucket("KPI buckets are whole hours (1h, 24h, 1d ...)")
    lo, hi = bucket_range(start, end, width)
    rows = await _all(conn, _kpi_sql(kind, _GROUP[group_by]),
                      {"w": width, "o": ORIGIN, "lo": lo, "hi": hi})
    return [
        {
            "bucket": r["bucket"],
            "group": r["grp"],
            "orders": int(r["orders"]),
            "arrived": int(r["arrived"]),
            "mean_time_to_arrive_s": _ratio(r["arrive_s_sum"], r["arrived"]),
            "sla_attainment": _ratio(r["sla_met"], r["sla_decided"]),
            "completed": int(r["completed"]),
            "first_time_fix_rate": _ratio(r["first_time_fixes"], r["completed"]),
        }
        for r in rows
    ]

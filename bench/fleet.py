"""The benchmarks' fleet: devices on sites with a threshold rule and engineers on shift,
seeded by SQL under a run prefix (and retired after the run), and the load plan that
splits them over publisher processes."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from bench.load import LoadPlan

RULE = "temperature > 90 severity major as overheating"
ORIGIN = (51.5, -0.12)


# -- seeding -----------------------------------------------------------------------------
@dataclass
class Fleet:
    prefix: str
    devices: list[str]
    assets: dict[str, str]  # device -> asset
    engineers: list[str] = field(default_factory=list)


def seed_fleet(
    database_url: str, prefix: str, devices: int, engineers: int, per_site: int = 50
) -> Fleet:
    """Customer, sites, one asset model with :data:`RULE`, assets with devices, engineers
    on shift all day (skill hvac) with a last known position. All ids start with prefix."""
    import random

    import psycopg
    from psycopg.types.json import Jsonb

    rng = random.Random(prefix)
    cust, model = f"{prefix}-cust", f"{prefix}-model"
    fleet = Fleet(prefix, [f"{prefix}-d{i:05d}" for i in range(devices)], {})
    n_sites = max(1, math.ceil(devices / per_site))
    sites = [
        (
            f"{prefix}-s{i:03d}",
            ORIGIN[0] + rng.uniform(-0.05, 0.05),
            ORIGIN[1] + rng.uniform(-0.08, 0.08),
        )
        for i in range(n_sites)
    ]
    with psycopg.connect(database_url, autocommit=True) as conn, conn.transaction():
        conn.execute(
            "INSERT INTO customers (id, name, sla_tier) VALUES (%s, 'Bench', 'gold')", (cust,)
        )
        conn.execute(
            "INSERT INTO asset_models (id, name, required_skills, rules,"
            " reading_timeout_s) VALUES (%s, 'Bench chiller', '{hvac}', %s, 2592000)",
            (model, Jsonb([RULE])),
        )
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO sites (id, customer_id, name, lat, lon, fence_radius_m)"
                " VALUES (%s, %s, %s, %s, %s, 100)",
                [(sid, cust, sid, lat, lon) for sid, lat, lon in sites],
            )
            rows = []
            for i, dev in enumerate(fleet.devices):
                asset = f"{prefix}-a{i:05d}"
                fleet.assets[dev] = asset
                rows.append((asset, sites[i % n_sites][0], model, dev))
            cur.executemany(
                "INSERT INTO assets (id, site_id, model_id, serial, device_id)"
                " VALUES (%s, %s, %s, 'SN', %s)",
                rows,
            )
            fleet.engineers = [f"{prefix}-e{i:04d}" for i in range(engineers)]
            spots = [
                (ORIGIN[0] + rng.uniform(-0.05, 0.05), ORIGIN[1] + rng.uniform(-0.08, 0.08))
                for _ in fleet.engineers
            ]
            cur.executemany(
                "INSERT INTO engineers (id, name, skills, shift_start, shift_end,"
                " home_lat, home_lon, status) VALUES (%s, %s, '{hvac}', '00:00',"
                " '23:59:59', %s, %s, 'online')",
                [(e, e, la, lo) for e, (la, lo) in zip(fleet.engineers, spots, strict=True)],
            )
            cur.executemany(
                "INSERT INTO engineer_last_position (engineer_id, ts, lat, lon,"
                " source) VALUES (%s, now(), %s, %s, 'native')",
                [(e, la, lo) for e, (la, lo) in zip(fleet.engineers, spots, strict=True)],
            )
    return fleet


def retire_fleet(database_url: str, fleet: Fleet) -> None:
    """After a run: cancel the run's open orders, take its engineers out of dispatch and
    its devices off their assets, so a stack that keeps running (a demo, say) is not
    left with bench work; and delete the run's readings and positions, so a home that is
    measured again and again does not grow (bench streams on a home holding 3.2 GB of
    earlier runs: p99 3.3 s, where a fresh home gave 0.54 s, 2026-12-05)."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE work_orders SET status = 'cancelled', updated_at = now()"
            " WHERE asset_id = ANY(%s) AND status NOT IN"
            " ('completed', 'signed_off', 'closed', 'cancelled')",
            (list(fleet.assets.values()),),
        )
        conn.execute(
            "UPDATE engineers SET skills = '{}', status = 'offline' WHERE id = ANY(%s)",
            (fleet.engineers,),
        )
        # its devices leave the registry the workers reload every few seconds, so the
        # next run on this stack is not measured with every earlier run's fleet in it
        conn.execute("UPDATE assets SET device_id = NULL WHERE id = ANY(%s)",
                     (list(fleet.assets.values()),))
        conn.execute("DELETE FROM readings WHERE device_id = ANY(%s)", (fleet.devices,))
        conn.execute("DELETE FROM positions WHERE engineer_id = ANY(%s)", (fleet.engineers,))


def plan_load(
    host: str,
    port: int,
    fleet: Fleet,
    *,
    publishers: int,
    rate: float,
    duration: float,
    faults: int,
    phones: list[str] | None = None,
    phone_interval_s: float = 1.0,
) -> list[LoadPlan]:
    """Split devices, phones and fault times (spread over 15%..75% of the run) over processes."""
    fault_devs = fleet.devices[:: max(1, len(fleet.devices) // max(1, faults))][:faults]
    when = {
        d: duration * (0.15 + 0.6 * i / max(1, len(fault_devs))) for i, d in enumerate(fault_devs)
    }
    start_at = time.time() + 3.0  # the processes import paho meanwhile
    plans = []
    for i in range(publishers):
        devs = fleet.devices[i::publishers]
        plans.append(
            LoadPlan(
                index=i,
                host=host,
                port=port,
                devices=devs,
                rate=rate / publishers,
                duration_s=duration,
                start_at=start_at,
                phones=(phones or [])[i::publishers],
                phone_interval_s=phone_interval_s,
                faults={d: when[d] for d in devs if d in when},
                origin=ORIGIN,
            )
        )
    return plans

"""The bench helpers that need no stack: percentiles, tables, outputs, payloads, sampling."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from bench.common import latency_summary, percentile, print_table, write_outputs
from bench.fleet import Fleet, plan_load
from bench.load import position_payload, reading_payload
from bench.procs import ProcessSampler
from bench.profiling import profile_summary
from bench.stackctl import mqtt_address, service_pids
from ingest.router import Router
from models.codec import decode
from models.messages import Position, Reading


def test_percentile_is_nearest_rank() -> None:
    values = list(range(1, 101))
    assert percentile(values, 0.50) == 50
    assert percentile(values, 0.99) == 99
    assert percentile(values, 1.0) == 100
    assert percentile([7.0], 0.99) == 7.0
    assert math.isnan(percentile([], 0.5))
    assert latency_summary([3.0, 1.0, 2.0])["p50_ms"] == 2.0


def test_print_table_aligns_columns(capsys) -> None:  # type: ignore[no-untyped-def]
    print_table("T", [("a", "1"), ("long name", "1,000")], header=("what", "n"))
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "T"
    assert lines[2].startswith("  what     ")
    assert lines[-1].endswith("1,000") and len(lines[-1]) == len(lines[-2])


def test_write_outputs_headline_and_report(tmp_path: Path) -> None:
    def plot(_r: dict[str, object], path: Path) -> None:
        path.write_bytes(b"png")

    paths = write_outputs(
        "x",
        {"full": 1},
        {"lost": 0},
        json_path=str(tmp_path / "h.json"),
        out_dir=str(tmp_path / "out"),
        plot=plot,
    )
    assert json.loads((tmp_path / "h.json").read_text()) == {"lost": 0}
    assert [p.suffix for p in paths] == [".json", ".json", ".png"]


def test_payloads_are_valid_native_messages() -> None:
    reading = json.loads(reading_payload(1_700_000_000_123, 1_700_000_000_123.5, 95.0))
    assert reading["metrics"] == {"temperature": 95.0, "sent_ms": 1_700_000_000_123.5}
    position = json.loads(position_payload(1_700_000_000_123, 51.5, -0.12))
    assert (position["ts"], position["lat"], position["lon"]) == (1_700_000_000_123, 51.5, -0.12)
    # The bridge's router turns them into one record each, no dead letter.
    router = Router()
    for topic, payload, model in (
        ("fieldflow/devices/d1/telemetry", reading, Reading),
        ("fieldflow/engineers/e1/location", position, Position),
    ):
        result = router.route(topic, json.dumps(payload).encode(), 1_700_000_000_200)
        assert result.dead is None
        assert [decode(model, rec.value) for rec in result.records]


def test_status_helpers() -> None:
    status = {
        "mqtt_url": "mqtt://127.0.0.1:11883",
        "services": {
            "worker-1": {"pid": 12},
            "worker-2": {"pid": 14},
            "kafka": {"pid": 13, "external": True},
            "api": {"pid": None},
        },
    }
    assert mqtt_address(status) == ("127.0.0.1", 11883)
    assert service_pids(status) == {"worker-1": 12, "worker-2": 14}


def test_sampler_measures_this_process() -> None:
    sampler = ProcessSampler({"me": os.getpid()}, interval_s=0.05).start()
    sum(i * i for i in range(300_000))  # some CPU
    result = sampler.stop()["me"]
    assert result["cpu_pct"] > 0
    assert result["rss_mb"] > 10


def test_plan_load_splits_devices_and_spreads_faults() -> None:
    fleet = Fleet(
        "p", [f"d{i}" for i in range(10)], {f"d{i}": f"a{i}" for i in range(10)}, ["e1", "e2", "e3"]
    )
    plans = plan_load(
        "h", 1, fleet, publishers=2, rate=1000, duration=100, faults=4, phones=fleet.engineers
    )
    assert sorted(d for p in plans for d in p.devices) == sorted(fleet.devices)
    assert sorted(e for p in plans for e in p.phones) == sorted(fleet.engineers)
    times = sorted(t for p in plans for t in p.faults.values())
    assert len(times) == 4 and times[0] >= 15 and times[-1] <= 75
    assert all(p.rate == 500 for p in plans)


def test_profile_summary_reads_collapsed_stacks(tmp_path: Path) -> None:
    path = tmp_path / "p.txt"
    path.write_text(
        "main (w.py:1);loop (l.py:2);decode (codec.py:3) 30\nmain (w.py:1);loop (l.py:2) 70\n"
    )
    top = {f: (incl, own) for f, incl, own in profile_summary(path)}
    assert top["main (w.py)"] == (100.0, 0.0)
    assert top["decode (codec.py)"] == (30.0, 30.0)

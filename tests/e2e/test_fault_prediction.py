"""C-MAPSS test units replayed over MQTT: predicted_failure orders before the end."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from models.fault.predictor import FaultPredictor
from simulators.cmapss_replay import replay_file
from stack.settings import REPO_ROOT
from tests.e2e.conftest import SHARED_MODEL_ENV, Stack, wait_until
from tests.e2e.seed import query, seed_engineer, seed_site, uid

pytestmark = pytest.mark.e2e
TEST_FILE = REPO_ROOT / "data" / "cmapss" / "test_FD001.txt"
CYCLE_MS = 10_000
FAILING, HEALTHY = (34, 31), 25  # true RUL at the last cycle: 7, 8 and 145


def test_replayed_units_get_orders_before_failure_and_healthy_none(stack: Stack) -> None:
    site = seed_site(stack.database_url, lat=51.48, lon=-0.05, skills=["turbine"])
    with stack.api() as api:  # watch this asset model with the C-MAPSS fault model
        got = api.patch(f"/api/v1/asset-models/{site['model']}",
                        json={"fault_model": "cmapss_fd001"})
        assert got.status_code == 200 and got.json()["fault_model"] == "cmapss_fd001", got.text
        assert api.patch(f"/api/v1/asset-models/{site['model']}",
                         json={"fault_model": "nope"}).status_code == 422
    devices = {FAILING[0]: site["dev"]}
    for unit in (FAILING[1], HEALTHY):
        asset, dev = uid("asset"), uid("dev")
        query(stack.database_url, "INSERT INTO assets (id, site_id, model_id, device_id)"
              " VALUES (%s, %s, %s, %s)", (asset, site["site"], site["model"], dev))
        devices[unit] = dev
    seed_engineer(stack.database_url, lat=51.49, lon=-0.05, skills=["turbine"])
    time.sleep(6)  # agents reload the device registry
    # On a fresh clone the first `up` is still training the model in the background;
    # readings that come before it is loaded are kept and replayed, not lost.
    wait_until(Path(SHARED_MODEL_ENV["FIELDFLOW_FAULT_MODEL_PATH"]).exists, timeout_s=300)

    t0 = int(time.time() * 1000)
    last_ts: dict[str, int] = {}
    client = stack.mqtt_client()
    for unit, dev in devices.items():
        for cycle, metrics in replay_file(TEST_FILE, unit):
            ts = t0 + cycle * CYCLE_MS
            client.publish(f"fieldflow/devices/{dev}/telemetry",
                           json.dumps({"ts": ts, "metrics": metrics}), qos=1)
            last_ts[dev] = ts
    client.loop_stop()
    client.disconnect()

    def orders() -> dict[str, tuple]:
        rows = query(stack.database_url,
                     "SELECT a.device_id, o.id, o.created_at, o.fault_type, o.description"
                     " FROM work_orders o JOIN assets a ON a.id = o.asset_id"
                     " WHERE a.device_id = ANY(%s)", (list(devices.values()),))
        return {r[0]: r[1:] for r in rows}

    found = wait_until(lambda: (o := orders()) and len(o) >= 2 and o, timeout_s=90)
    wait_until(lambda: query(stack.database_url, "SELECT count(DISTINCT device_id) FROM readings"
                             " WHERE device_id = ANY(%s)", (list(devices.values()),))[0][0] == 3,
               timeout_s=60)
    time.sleep(3)
    found = orders()
    assert set(found) == {devices[u] for u in FAILING}, "healthy unit must get no order"
    # a model file with prediction intervals (version 1.1 on) puts them in the order
    with_interval = FaultPredictor.load(SHARED_MODEL_ENV["FIELDFLOW_FAULT_MODEL_PATH"]).intervals
    coverage = f"{with_interval.coverage:.0%} interval " if with_interval else None
    for unit in FAILING:
        _oid, created_at, fault, description = found[devices[unit]]
        assert fault == "predicted_failure"
        assert created_at.timestamp() * 1000 < last_ts[devices[unit]], "order after the end"
        assert "Predicted time left" in description and "cycles" in description
        assert coverage is None or coverage in description, description
    alerts = query(stack.database_url, "SELECT device_id, kind, fault_type, severity, state,"
                   " dedup_key, message FROM alerts WHERE device_id = ANY(%s)",
                   (list(devices.values()),))
    per_device = {d: sum(1 for a in alerts if a[0] == d) for d in devices.values()}
    assert sorted(per_device.values()) == [0, 1, 1], alerts

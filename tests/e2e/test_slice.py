"""The first real slice: MQTT -> bridge -> Kafka -> faust -> PostgreSQL -> API."""

from __future__ import annotations

import base64
import json
import time

import pytest

from tests.e2e.conftest import Stack, wait_until

pytestmark = pytest.mark.e2e


def test_status_reports_every_service_running(stack: Stack) -> None:
    result = stack.cli("status", "--json")
    status = json.loads(result.stdout)
    assert status["running"] is True
    core = ("postgres", "kafka", "mqtt", "bridge", "worker-1", "api")
    assert set(status["services"]) >= set(core)
    assert {status["services"][name]["state"] for name in core} == {"running"}
    # every worker with its pid and partitions (one worker: all of them, once assigned)
    everything = {"telemetry.positions": list(range(8)), "telemetry.readings": list(range(8))}
    workers = wait_until(lambda: [w for w in json.loads(stack.cli("status", "--json").stdout)[
        "workers"] if w["partitions"] == everything], timeout_s=60)
    assert [(w["name"], w["pid"]) for w in workers] == [
        ("worker-1", status["services"]["worker-1"]["pid"])]
    # one-shot jobs (first-start fault-model training) are running or done, never failed
    assert {s["state"] for n, s in status["services"].items() if n not in core} <= {
        "running", "done"}
    for key in ("mqtt_url", "kafka_bootstrap", "database_url", "api_url", "admin_token"):
        assert status[key]


def test_second_up_refuses_instead_of_fighting(stack: Stack) -> None:
    result = stack.cli("up", "--detach")
    assert result.returncode == 1
    assert "already running" in result.stderr


def test_position_reaches_the_api(stack: Stack) -> None:
    ts = int(time.time() * 1000)
    payload = {
        "ts": ts,
        "lat": 51.5072,
        "lon": -0.1276,
        "acc": 8,
        "spd": 3.2,
        "hdg": 90,
        "batt": 77,
    }
    stack.publish("fieldflow/engineers/eng-slice/location", json.dumps(payload))
    with stack.api() as api:
        resp = wait_until(
            lambda: (r := api.get("/api/v1/engineers/eng-slice/position")).status_code == 200 and r,
            timeout_s=60,
        )
    body = resp.json()
    assert body["engineer_id"] == "eng-slice"
    assert body["lat"] == pytest.approx(51.5072)
    assert body["lon"] == pytest.approx(-0.1276)
    assert body["battery"] == 77
    assert body["source"] == "native"


def test_bad_positions_are_dead_lettered_and_valid_traffic_flows(stack: Stack) -> None:
    before = json.loads(stack.cli("status", "--json").stdout)["services"]
    bad = {
        b"not json at all": "not JSON",
        json.dumps({"ts": 1767225600000, "lon": 2.0}).encode(): "missing field 'lat'",
        json.dumps({"ts": 1767225600000, "lat": 123, "lon": 2.0}).encode(): "lat",
    }
    for payload in bad:
        stack.publish("fieldflow/engineers/eng-bad/location", payload)
    ts = int(time.time() * 1000)
    stack.publish(
        "fieldflow/engineers/eng-after-bad/location",
        json.dumps({"ts": ts, "lat": 48.85, "lon": 2.35}),
    )

    def all_dead(msgs: list) -> bool:
        payloads = {base64.b64decode(json.loads(m.value())["payload_b64"]) for m in msgs}
        return set(bad) <= payloads

    letters = stack.consume("ingest.deadletter", until=all_dead, timeout_s=30)
    by_payload = {
        base64.b64decode(json.loads(m.value())["payload_b64"]): json.loads(m.value())
        for m in letters
    }
    for payload, reason_part in bad.items():
        letter = by_payload[payload]
        assert letter["topic"] == "fieldflow/engineers/eng-bad/location"
        assert reason_part in letter["reason"]
    with stack.api() as api:
        wait_until(
            lambda: api.get("/api/v1/engineers/eng-after-bad/position").status_code == 200,
            timeout_s=60,
        )
    status = json.loads(stack.cli("status", "--json").stdout)
    for name in ("bridge", "worker-1"):  # other tests may have killed them before: compare
        assert status["services"][name]["restarts"] == before[name]["restarts"]


def test_position_api_requires_a_token(stack: Stack) -> None:
    import httpx

    r = httpx.get(f"{stack.api_url}/api/v1/engineers/eng-slice/position")
    assert r.status_code == 401
    r = httpx.get(
        f"{stack.api_url}/api/v1/engineers/eng-slice/position",
        headers={"Authorization": "Bearer wrong"},
    )
    assert r.status_code == 401
    assert httpx.get(f"{stack.api_url}/healthz").status_code == 200

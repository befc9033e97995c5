"""A second real stack with ``FIELDFLOW_MQTT_AUTH=true`` (mosquitto password file + ACL).

- ``fieldflow up`` generates the bridge's credentials; devices are added to the running
  stack with ``fieldflow mqtt-credentials`` (mosquitto reloads them);
- the broker refuses a device publishing to another device's topic and accepts its own,
  end to end through the logged-in bridge into Kafka;
- the bridge is SIGKILLed in the middle of a QoS 1 burst; the supervisor restarts it (it
  logs in again) and every message is in Kafka (duplicates allowed, loss not).

This stack is separate from the session one so that its restarted bridge does not
change what the other tests see.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stack.procs import find_mosquitto
from tests.e2e.conftest import Stack, close_mqtt, mqtt_client, run_stack, wait_until
from tests.e2e.test_ingest import consume_all

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(find_mosquitto() is None, reason="MQTT auth needs mosquitto"),
]


@pytest.fixture(scope="module")
def auth_stack() -> Iterator[Stack]:
    yield from run_stack(FIELDFLOW_MQTT_AUTH="true", FIELDFLOW_PARTITIONS="2")


@pytest.fixture(scope="module")
def creds(auth_stack: Stack) -> dict[str, str]:
    """Devices and a phone added to the running stack, as an operator would."""
    mqtt_dir = auth_stack.home / "mqtt"
    log = (auth_stack.home / "logs" / "supervisor.log").read_text()
    assert "fieldflow mqtt-credentials --out" in log  # the log says how to add devices
    run = uuid.uuid4().hex[:6]
    out = auth_stack.cli("mqtt-credentials", "--out", str(mqtt_dir),
                         "--devices", f"a{run},b{run}", "--engineers", f"e{run}")
    assert out.returncode == 0, out.stderr
    assert "reloaded" in out.stdout
    assert oct((mqtt_dir / "credentials.json").stat().st_mode & 0o777) == "0o600"
    passwords: dict[str, str] = json.loads((mqtt_dir / "credentials.json").read_text())
    for user in (f"dev-a{run}", f"dev-b{run}", f"eng-e{run}"):
        assert passwords[user] in out.stdout  # printed once
    return {"run": run, **passwords}


def test_anonymous_and_wrong_passwords_are_refused(auth_stack: Stack, creds: dict[str, str]
                                                   ) -> None:
    run = creds["run"]
    for user, password in ((None, None), (f"dev-a{run}", "wrong")):
        c, reason = mqtt_client(auth_stack, user, password)
        close_mqtt(c)
        assert reason.is_failure, (user, reason)


def test_device_may_publish_to_its_own_topic_only(auth_stack: Stack, creds: dict[str, str]
                                                  ) -> None:
    run = creds["run"]
    a, b = f"a{run}", f"b{run}"
    acks: dict[int, Any] = {}
    dev_a, reason = mqtt_client(auth_stack, f"dev-{a}", creds[f"dev-{a}"])
    assert not reason.is_failure
    dev_a.on_publish = lambda _c, _u, mid, rc, _p: acks.__setitem__(mid, rc)
    ts = int(time.time() * 1000)
    forged = dev_a.publish(f"fieldflow/devices/{b}/telemetry",
                           json.dumps({"ts": ts, "metrics": {"forged": 1}}), qos=1)
    own = dev_a.publish(f"fieldflow/devices/{a}/telemetry",
                        json.dumps({"ts": ts, "metrics": {"own": 1}}), qos=1)
    phone, _ = mqtt_client(auth_stack, f"eng-e{run}", creds[f"eng-e{run}"])
    phone_forged = phone.publish(f"fieldflow/devices/{b}/telemetry",
                                 json.dumps({"ts": ts, "metrics": {"forged": 2}}), qos=1)
    for info in (forged, own, phone_forged):
        info.wait_for_publish(10)
    wait_until(lambda: forged.mid in acks and own.mid in acks)
    assert acks[forged.mid].is_failure  # PUBACK "Not authorized" (MQTT v5)
    assert not acks[own.mid].is_failure
    # b's own, later message: same key, same partition, after any forged one.
    dev_b, _ = mqtt_client(auth_stack, f"dev-{b}", creds[f"dev-{b}"])
    dev_b.publish(f"fieldflow/devices/{b}/telemetry",
                  json.dumps({"ts": ts, "metrics": {"legit": 1}}), qos=1).wait_for_publish(10)
    for c in (dev_a, dev_b, phone):
        close_mqtt(c)

    def readings(msgs: list[Any]) -> list[dict[str, Any]]:
        return [json.loads(m.value()) for m in msgs
                if m.topic() == "telemetry.readings" and m.key() in (a.encode(), b.encode())]

    got = readings(consume_all(auth_stack, ["telemetry.readings"], lambda m: len(
        {tuple(r["metrics"]) for r in readings(m)} & {("own",), ("legit",)}) == 2))
    metrics = [r["metrics"] for r in got]
    assert {"own": 1} in metrics and {"legit": 1} in metrics
    assert not [m for m in metrics if "forged" in m]


def test_bridge_killed_mid_burst_loses_nothing(auth_stack: Stack, creds: dict[str, str]) -> None:
    run = creds["run"]
    device, total = f"a{run}", 3000
    old_pid = json.loads(auth_stack.cli("status", "--json").stdout)["services"]["bridge"]["pid"]
    acked = 0
    lock = threading.Lock()

    def on_publish(*_a: Any) -> None:
        nonlocal acked
        with lock:
            acked += 1

    pub, _ = mqtt_client(auth_stack, f"dev-{device}", creds[f"dev-{device}"])
    pub.on_publish = on_publish
    t0 = int(time.time() * 1000)
    killed = False
    for n in range(total):
        pub.publish(f"fieldflow/devices/{device}/telemetry",
                    json.dumps({"ts": t0 + n, "metrics": {"n": n}}), qos=1)
        if not killed and n >= total // 3:
            wait_until(lambda: acked >= total // 4, timeout_s=30, interval=0.01)
            os.kill(old_pid, signal.SIGKILL)  # the supervisor restarts it
            killed = True
    wait_until(lambda: acked >= total, timeout_s=60)
    close_mqtt(pub)

    def bridge() -> dict[str, Any]:
        svc: dict[str, Any] = json.loads(auth_stack.cli("status", "--json").stdout)["services"][
            "bridge"]
        return svc

    wait_until(lambda: bridge()["pid"] != old_pid and bridge()["restarts"] >= 1, timeout_s=30)

    def seen(msgs: list[Any]) -> set[int]:
        return {int(json.loads(m.value())["metrics"]["n"]) for m in msgs
                if m.key() == device.encode() and "n" in json.loads(m.value())["metrics"]}

    got = consume_all(auth_stack, ["telemetry.readings"], lambda m: len(seen(m)) >= total,
                      timeout_s=120)
    missing = sorted(set(range(total)) - seen(got))
    assert not missing, f"{len(missing)} readings lost, e.g. {missing[:10]}"
    assert bridge()["state"] == "running"
    log = Path(auth_stack.home / "logs" / "bridge.log").read_text()
    assert log.count("MQTT connected") >= 2  # the restarted bridge logged in again

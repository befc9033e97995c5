"""Mosquitto password file ($7$ PBKDF2-SHA512) and ACL generation.

When ``mosquitto`` and ``mosquitto_passwd`` are on PATH the formats are cross-checked
against the real tools: a hash from ``mosquitto_passwd`` verifies here, and a broker
started with our files refuses a device publishing to another device's topic.
"""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from ingest.auth import (
    Credential,
    auth_config,
    hash_password,
    render_acl,
    render_password_file,
    verify_password,
)
from stack.procs import free_port

HAVE_MOSQUITTO = shutil.which("mosquitto") and shutil.which("mosquitto_passwd")


def test_hash_format_and_verify() -> None:
    encoded = hash_password("s3cret", salt=b"0123456789ab")
    _, seven, iterations, salt, digest = encoded.split("$")
    assert (seven, iterations, salt) == ("7", "101", "MDEyMzQ1Njc4OWFi")
    assert len(digest) == 88  # base64 of 64 bytes
    assert verify_password("s3cret", encoded)
    assert not verify_password("wrong", encoded)
    assert not verify_password("s3cret", "$6$abc$def")


def test_password_file_lines() -> None:
    text = render_password_file([Credential.device("pump-1", "a"), Credential.engineer("e7", "b")])
    lines = text.splitlines()
    assert [line.split(":")[0] for line in lines] == ["dev-pump-1", "eng-e7"]
    assert verify_password("a", lines[0].split(":", 1)[1])
    with pytest.raises(ValueError, match="duplicate"):
        render_password_file([Credential("x", "1"), Credential("x", "2")])
    with pytest.raises(ValueError, match="cannot be an MQTT user"):
        Credential.device("a:b")
    assert len(Credential.device("d").password) >= 20


def test_acl_text() -> None:
    acl = render_acl(["dev-pump-1", "eng-e7", "fieldflow-bridge", "nobody", "fleet-sim"],
                     "fieldflow-bridge", "plant-a")
    chunks = [b.splitlines() for b in acl.split("\n\n") if b.startswith("user")]
    blocks = {lines[0]: lines[1:] for lines in chunks}
    assert "topic write fieldflow/devices/pump-1/#" in blocks["user dev-pump-1"]
    # Sparkplug: the device's own node, in the deployment's one group only.
    assert "topic write spBv1.0/plant-a/DDATA/pump-1/+" in blocks["user dev-pump-1"]
    assert not [r for r in blocks["user dev-pump-1"] if "spBv1.0/+/" in r]
    assert "topic write fieldflow/devices/+/telemetry" in blocks["user fleet-sim"]
    assert "topic write spBv1.0/+/NBIRTH/+" in blocks["user fleet-sim"]
    assert blocks["user eng-e7"] == [
        "topic write fieldflow/engineers/e7/location",
        "topic write owntracks/e7/#",
        "topic read fieldflow/engineers/e7/inbox",
        "topic read owntracks/e7/+/cmd",
    ]
    assert "topic read #" in blocks["user fieldflow-bridge"]
    assert blocks["user nobody"] == []
    assert "allow_anonymous false" in auth_config("/p", "/a")


@pytest.mark.skipif(not HAVE_MOSQUITTO, reason="mosquitto_passwd not on PATH")
def test_mosquitto_passwd_hash_verifies(tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(pw), "alice", "pa55"], check=True)
    user, encoded = pw.read_text().strip().split(":", 1)
    assert user == "alice" and verify_password("pa55", encoded)


def _client(port: int, cred: Credential) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.username_pw_set(cred.username, cred.password)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


@pytest.mark.skipif(not HAVE_MOSQUITTO, reason="mosquitto not on PATH")
def test_broker_enforces_generated_files(tmp_path: Path) -> None:
    creds = [Credential.device("d1"), Credential.device("d2"), Credential("bridge", "bp")]
    (tmp_path / "pw").write_text(render_password_file(creds))
    (tmp_path / "acl").write_text(render_acl([c.username for c in creds], "bridge"))
    port = free_port()
    (tmp_path / "conf").write_text(
        # as root, mosquitto would drop to user "mosquitto", who cannot read tmp_path
        f"user {getpass.getuser()}\nlistener {port} 127.0.0.1\n"
        + auth_config(str(tmp_path / "pw"), str(tmp_path / "acl"))
    )
    broker = subprocess.Popen(["mosquitto", "-c", str(tmp_path / "conf")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(50):
            try:
                socket.create_connection(("127.0.0.1", port), 0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        got: list[str] = []
        done = threading.Event()
        bridge = _client(port, creds[2])
        bridge.on_message = lambda _c, _u, m: (got.append(m.topic), done.set())
        bridge.subscribe("#", qos=1)
        time.sleep(0.3)
        device = _client(port, creds[0])
        time.sleep(0.3)
        device.publish("fieldflow/devices/d2/telemetry", b"{}", qos=1).wait_for_publish(3)
        device.publish("fieldflow/devices/d1/telemetry", b"{}", qos=1).wait_for_publish(3)
        assert done.wait(3)
        time.sleep(0.3)
        assert got == ["fieldflow/devices/d1/telemetry"]  # d2's topic refused
        intruder = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        intruder.username_pw_set("dev-d1", "wrong")
        rc: list[object] = []
        intruder.on_connect = lambda _c, _u, _f, reason, _p: rc.append(reason)
        intruder.connect("127.0.0.1", port)
        intruder.loop_start()
        time.sleep(0.5)
        intruder.loop_stop()
        assert rc and getattr(rc[0], "is_failure", False)
        for c in (bridge, device):
            c.loop_stop()
            c.disconnect()
    finally:
        broker.terminate()
        broker.wait(5)

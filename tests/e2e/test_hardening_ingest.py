"""Issue #22 over the real stack: one oversized MQTT message costs one dead letter, not
the ingest (it was redelivered forever before)."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid

import pytest

from tests.e2e.conftest import Stack, wait_until
from tests.e2e.seed import query
from tests.e2e.test_ingest import DEADLETTER, consume_all, publish_many

pytestmark = pytest.mark.e2e


def test_a_2mb_message_is_dead_lettered_once_and_later_readings_are_stored(
    stack: Stack,
) -> None:
    device = f"big-{uuid.uuid4().hex[:8]}"
    topic = f"fieldflow/devices/{device}/telemetry"
    huge = b'{"ts": 1, "metrics": {"x": 1}, "pad": "' + b"A" * (2 * 1024 * 1024) + b'"}'
    now = int(time.time() * 1000)
    later = [(topic, json.dumps({"ts": now + i, "metrics": {"temperature": 20.0 + i}})
              .encode()) for i in range(5)]
    publish_many(stack, [(topic, huge), *later])
    wait_until(lambda: query(stack.database_url,
                             "SELECT count(*) FROM readings WHERE device_id = %s",
                             (device,))[0][0] == 5, timeout_s=60)

    def letters(msgs: list) -> list[dict]:  # type: ignore[type-arg]
        return [json.loads(m.value()) for m in msgs if m.key() == topic.encode()]

    msgs = consume_all(stack, [DEADLETTER], lambda got: len(letters(got)) >= 1, timeout_s=30)
    time.sleep(3)  # a redelivery would add a second letter meanwhile
    msgs = consume_all(stack, [DEADLETTER], lambda got: False, timeout_s=5)
    [letter] = letters(msgs)
    assert f"message of {len(huge)} bytes exceeds" in letter["reason"]
    assert hashlib.sha256(huge).hexdigest() in letter["reason"]
    head = base64.b64decode(letter["payload_b64"])
    assert head == huge[:4096]

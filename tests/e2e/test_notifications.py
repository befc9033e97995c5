"""Notifications to people over the real stack: an SLA risk, raised by the ETA agent from
an engineer's positions, emails the dispatcher on duty through a real SMTP server
(aiosmtpd, started here), and the notification is recorded ``delivered``."""

from __future__ import annotations

import email
import email.policy
import json
import time
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from models.geo import offset_m
from tests.e2e.conftest import DISPATCHER_EMAIL, Stack, wait_until
from tests.e2e.seed import query, seed_engineer, seed_site, uid

pytestmark = pytest.mark.e2e


class Inbox:
    """An aiosmtpd handler keeping every message it accepted."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, _server: SMTP, _session: Session,
                          envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), msg))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_inbox(stack: Stack) -> Iterator[Inbox]:
    inbox = Inbox()
    server = Controller(inbox, hostname="127.0.0.1", port=stack.smtp_port)
    server.start()
    try:
        yield inbox
    finally:
        server.stop()


def _notifications(stack: Stack, order: str) -> list[dict[str, Any]]:
    with stack.api() as api:
        r = api.get("/api/v1/notifications", params={"work_order_id": order})
        r.raise_for_status()
        items: list[dict[str, Any]] = r.json()["items"]
        return items


def test_sla_risk_emails_the_dispatcher_with_the_order_link(stack: Stack,
                                                            smtp_inbox: Inbox) -> None:
    lat, lon = 51.5, -0.12
    site = seed_site(stack.database_url, lat=lat, lon=lon)
    far = offset_m(lat, lon, -60_000, 0)  # 60 km away, the SLA due in 5 minutes
    eng = seed_engineer(stack.database_url, lat=far[0], lon=far[1])
    order = uid("WO")
    query(stack.database_url,
          "INSERT INTO work_orders (id, title, status, priority, customer_id, site_id, asset_id,"
          " engineer_id, sla_due) VALUES (%s, 'Boiler', 'accepted', 'P2', %s, %s, %s, %s,"
          " now() + interval '5 minutes')",
          (order, site["cust"], site["site"], site["asset"], eng))
    time.sleep(6)  # agents reload active orders every 5 s

    client = stack.mqtt_client()
    t0 = int(time.time() * 1000)
    for i in range(3):  # driving towards the site, far too far to make it
        la, lo = offset_m(lat, lon, -60_000 + i * 100, 0)
        client.publish(f"fieldflow/engineers/{eng}/location",
                       json.dumps({"ts": t0 + i * 5000, "lat": la, "lon": lo, "acc": 10,
                                   "spd": 15.0}), qos=1).wait_for_publish(10)
    client.loop_stop()
    client.disconnect()

    def mail_for_order() -> list[tuple[list[str], EmailMessage]]:
        return [(to, m) for to, m in smtp_inbox.messages
                if m.get("X-FieldFlow-Work-Order") == order]

    got = wait_until(mail_for_order, timeout_s=90, interval=0.5)
    assert len(got) == 1
    rcpt, msg = got[0]
    assert rcpt == [DISPATCHER_EMAIL]
    assert msg["To"] == DISPATCHER_EMAIL
    assert msg["X-FieldFlow-Kind"] == "sla_risk"
    assert order in msg["Subject"]
    body = msg.get_content()
    assert f"{stack.api_url}/?order={order}" in body
    assert f"{stack.api_url}/api/v1/work-orders/{order}" in body
    assert eng in body

    # Recorded with its delivery state, through the API.
    def delivered() -> list[dict[str, Any]]:
        return [n for n in _notifications(stack, order) if n["state"] == "delivered"]

    rows = wait_until(delivered, timeout_s=15)
    assert len(rows) == 1
    row = rows[0]
    assert row["kind"] == "sla_risk"
    assert row["recipient"] == DISPATCHER_EMAIL
    assert row["attempts"] == 1
    assert row["link"] == f"{stack.api_url}/?order={order}"
    assert row["delivered_at"] is not None
    # The alert it stands for was stored in the same transaction.
    alerts = query(stack.database_url, "SELECT kind FROM alerts WHERE device_id = %s", (order,))
    assert alerts == [("sla_risk",)]
    # Never sent twice once accepted.
    time.sleep(3)
    assert len(mail_for_order()) == 1

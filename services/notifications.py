"""Notifications to people: which events reach whom, and the message (pure).

Rules come from settings: an ``sla_risk`` alert opened, and an escalation (an order
re-dispatched because its engineer did not accept it in time), are emailed to each
dispatcher on duty (``notify_dispatcher_emails``) when their kind is listed in
``notify_email_on``. The messages are written by ``services.outbox`` in the event's own
transaction (one ``notifications`` row per recipient) and sent by the relay's email loop
(``api/mailer.py``). An assignment reaches the engineer through the MQTT inbox row of the
same outbox (``Outbox.to_engineer``), not here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stack.settings import Settings

KINDS = ("sla_risk", "escalation")
ESCALATED = "escalated"  # the reason of the escalation timer's re-assignments starts so


@dataclass(frozen=True)
class NotifyRules:
    recipients: tuple[str, ...]
    kinds: frozenset[str]
    base_url: str

    @classmethod
    def from_settings(cls, s: Settings) -> NotifyRules:
        base = s.public_url or f"http://{s.host}:{s.api_port}"
        return cls(tuple(s.notify_dispatcher_emails), frozenset(s.notify_email_on),
                   base.rstrip("/"))


@dataclass(frozen=True)
class Notification:
    kind: str
    recipient: str
    subject: str
    body: str
    link: str
    work_order_id: str | None


def order_link(base_url: str, work_order_id: str) -> str:
    """The order in the dispatcher's console."""
    return f"{base_url}/?order={work_order_id}"


def kind_of(topic: str, data: dict[str, Any]) -> str | None:
    """The notification kind an event on ``topic`` stands for, if any."""
    if topic == "events.alerts" and data.get("kind") == "sla_risk" \
            and data.get("state") == "opened":
        return "sla_risk"
    if topic == "events.workorders" and str(data.get("reason", "")).startswith(ESCALATED):
        return "escalation"
    return None


def _message(kind: str, data: dict[str, Any], link: str, api: str) -> tuple[str, str, str]:
    if kind == "sla_risk":
        oid = str(data.get("details", {}).get("work_order_id") or data["device_id"])
        engineer = data.get("details", {}).get("engineer_id") or "unknown"
        subject = f"[FieldFlow] SLA at risk: work order {oid}"
        lines = [f"Work order {oid} is at risk of missing its SLA.",
                 f"{data.get('message') or 'The ETA is past the SLA due time.'}",
                 f"Engineer: {engineer}"]
    else:
        oid = str(data["work_order_id"])
        subject = f"[FieldFlow] Escalation: work order {oid}"
        before = data.get("details", {}).get("previous_engineer") or "unknown"
        lines = [f"Work order {oid} was escalated: {data.get('reason')}.",
                 f"Was assigned to: {before}",
                 f"Now assigned to: {data.get('engineer_id') or 'nobody yet'}"]
    lines += ["", f"Open the order: {link}", f"API: {api}/api/v1/work-orders/{oid}"]
    return oid, subject, "\n".join(lines) + "\n"


def notifications_for(rules: NotifyRules, topic: str,
                      data: dict[str, Any]) -> list[Notification]:
    """One notification per recipient for an event the rules pick; none otherwise."""
    kind = kind_of(topic, data)
    if kind is None or kind not in rules.kinds or not rules.recipients:
        return []
    oid = str(data.get("work_order_id") or data.get("details", {}).get("work_order_id")
              or data.get("device_id"))
    link = order_link(rules.base_url, oid)
    oid, subject, body = _message(kind, data, link, rules.base_url)
    return [Notification(kind, r, subject, body, link, oid) for r in rules.recipients]

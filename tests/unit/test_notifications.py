"""The notification rules and message builder (services/notifications.py)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from services.notifications import NotifyRules, kind_of, notifications_for, order_link
from stack.settings import Settings

RULES = NotifyRules(("a@x.test", "b@x.test"), frozenset({"sla_risk", "escalation"}),
                    "https://ff.example")


def _sla(state: str = "opened") -> dict[str, Any]:
    return {"device_id": "WO-1", "kind": "sla_risk", "fault_type": "sla_risk",
            "state": state, "message": "ETA misses the SLA by 620s",
            "details": {"work_order_id": "WO-1", "engineer_id": "eng-7"}}


def _escalation() -> dict[str, Any]:
    return {"work_order_id": "WO-2", "from_status": "assigned", "to_status": "assigned",
            "reason": "escalated: not accepted within 900s", "engineer_id": "eng-9",
            "details": {"previous_engineer": "eng-3"}}


def test_an_sla_risk_opened_emails_every_dispatcher_with_the_order_link() -> None:
    out = notifications_for(RULES, "events.alerts", _sla())
    assert [n.recipient for n in out] == ["a@x.test", "b@x.test"]
    for n in out:
        assert n.kind == "sla_risk"
        assert n.work_order_id == "WO-1"
        assert n.link == "https://ff.example/?order=WO-1"
        assert "WO-1" in n.subject
        assert "https://ff.example/?order=WO-1" in n.body
        assert "https://ff.example/api/v1/work-orders/WO-1" in n.body
        assert "eng-7" in n.body
        assert "620s" in n.body


def test_an_escalation_emails_with_the_reason_and_the_new_engineer() -> None:
    (n, _) = notifications_for(RULES, "events.workorders", _escalation())
    assert n.kind == "escalation"
    assert n.link == "https://ff.example/?order=WO-2"
    assert "not accepted within 900s" in n.body
    assert "Now assigned to: eng-9" in n.body
    assert "Was assigned to: eng-3" in n.body


def test_updates_clears_and_other_events_notify_nobody() -> None:
    assert notifications_for(RULES, "events.alerts", _sla("updated")) == []
    assert notifications_for(RULES, "events.alerts", _sla("cleared")) == []
    other = {**_sla(), "kind": "threshold"}
    assert notifications_for(RULES, "events.alerts", other) == []
    moved = {**_escalation(), "reason": "re-dispatch after pre-emption"}
    assert notifications_for(RULES, "events.workorders", moved) == []
    assert notifications_for(RULES, "events.eta", _sla()) == []


def test_kinds_not_listed_or_no_recipient_notify_nobody() -> None:
    only_sla = NotifyRules(RULES.recipients, frozenset({"sla_risk"}), RULES.base_url)
    assert notifications_for(only_sla, "events.workorders", _escalation()) == []
    assert len(notifications_for(only_sla, "events.alerts", _sla())) == 2
    nobody = NotifyRules((), RULES.kinds, RULES.base_url)
    assert notifications_for(nobody, "events.alerts", _sla()) == []


def test_rules_from_settings_default_to_the_api_address() -> None:
    s = Settings(host="127.0.0.1", api_port=8123, notify_dispatcher_emails=["d@x.test"])
    rules = NotifyRules.from_settings(s)
    assert rules.base_url == "http://127.0.0.1:8123"
    assert rules.recipients == ("d@x.test",)
    assert rules.kinds == {"sla_risk", "escalation"}
    public = Settings(public_url="https://ff.example/", notify_email_on=["escalation"])
    assert NotifyRules.from_settings(public).base_url == "https://ff.example"
    assert NotifyRules.from_settings(public).kinds == {"escalation"}


@given(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,40}", fullmatch=True))
def test_the_link_names_the_order(oid: str) -> None:
    assert order_link("https://ff.example", oid).endswith(f"?order={oid}")
    assert kind_of("events.alerts", {**_sla(), "device_id": oid,
                                     "details": {"work_order_id": oid}}) == "sla_risk"
    (n, _) = notifications_for(RULES, "events.alerts",
                               {**_sla(), "device_id": oid, "details": {"work_order_id": oid}})
    assert n.work_order_id == oid

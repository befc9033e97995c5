"""The alert-rule grammar (pure): one threshold rule per line, per asset model.

Rules are data, one line each, per asset model::

    temperature > 90 for 60s clear at 85 after 120s severity critical as overheating
    vibration_rms > 7

``metric op value`` (op one of ``> >= < <=``), then optional clauses in this order:
``for N[s|m|h]`` (the condition must hold that long in event time before opening),
``clear at V`` (hysteresis: normal only once the value is back beyond V; default the
threshold itself), ``after N[s|m|h]`` (how long it must stay normal to clear, default
``AlertConfig.clear_after_s``), ``severity S``, ``as FAULT`` (default
``<metric>_high`` / ``<metric>_low``).

The stream workers evaluate these rules (``streams.alerts``); the API checks them at the
door (``api/routers/asset_models.py``) and the simulator builds faults that they catch
(``simulators/catalog.py``): all three parse with this one grammar.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from models.messages import Severity

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
_NUM = r"-?\d+(?:\.\d+)?"
_DUR = rf"({_NUM})\s*(s|m|h)?"
_RULE = re.compile(
    rf"^\s*(?P<metric>[A-Za-z0-9_./:-]{{1,64}})\s*(?P<op>>=|<=|>|<)\s*(?P<value>{_NUM})"
    rf"(?:\s+for\s+(?P<for>{_DUR}))?(?:\s+clear\s+at\s+(?P<clear_at>{_NUM}))?"
    rf"(?:\s+after\s+(?P<after>{_DUR}))?(?:\s+severity\s+(?P<severity>[a-z]+))?"
    rf"(?:\s+as\s+(?P<fault>[A-Za-z0-9_.:-]{{1,64}}))?\s*$")
_UNIT = {"s": 1.0, "m": 60.0, "h": 3600.0}
VIOLATING, HOLD, NORMAL = 1, 0, -1


class RuleSyntaxError(ValueError):
    """A rule line that does not follow the grammar in this module's docstring."""


def _seconds(text: str) -> float:
    m = re.fullmatch(_DUR, text.strip())
    assert m is not None
    return float(m.group(1)) * _UNIT[m.group(2) or "s"]


@dataclass(frozen=True)
class Rule:
    metric: str
    op: str
    threshold: float
    fault_type: str
    for_s: float = 0.0
    clear_at: float | None = None
    clear_after_s: float | None = None
    severity: Severity = Severity.WARNING
    kind: str = "rule"

    def classify(self, value: float) -> int:
        """VIOLATING, NORMAL, or HOLD (between threshold and clear level: neither)."""
        test = _OPS[self.op]
        if test(value, self.threshold):
            return VIOLATING
        if self.clear_at is not None and test(value, self.clear_at):
            return HOLD
        return NORMAL

    def describe(self) -> str:
        return f"{self.metric} {self.op} {self.threshold:g}" + (
            f" for {self.for_s:g}s" if self.for_s else "")


def parse_rule(text: str) -> Rule:
    m = _RULE.match(text)
    if m is None:
        raise RuleSyntaxError(f"cannot parse rule {text[:80]!r}")
    op, metric = m["op"], m["metric"]
    try:
        severity = Severity(m["severity"] or "warning")
    except ValueError:
        raise RuleSyntaxError(f"unknown severity {m['severity']!r} in {text[:80]!r}") from None
    return Rule(
        metric=metric, op=op, threshold=float(m["value"]),
        fault_type=m["fault"] or f"{metric}_{'high' if op.startswith('>') else 'low'}",
        for_s=_seconds(m["for"]) if m["for"] else 0.0,
        clear_at=float(m["clear_at"]) if m["clear_at"] else None,
        clear_after_s=_seconds(m["after"]) if m["after"] else None,
        severity=severity)


@dataclass(frozen=True)
class BadRule:
    """A stored rule line that does not parse (``RuleBook.parse_each`` skips it)."""

    model: str
    text: str
    error: str


@dataclass(frozen=True)
class RuleBook:
    """Rules per asset model; the ``"*"`` entry applies to every model."""

    rules: Mapping[str, tuple[Rule, ...]] = field(default_factory=dict)

    @classmethod
    def parse(cls, spec: Mapping[str, Iterable[str]]) -> RuleBook:
        """All rules or none: the first line that fails raises :class:`RuleSyntaxError`."""
        return cls({model: tuple(parse_rule(line) for line in lines)
                    for model, lines in spec.items()})

    @classmethod
    def parse_each(cls, spec: Mapping[str, Iterable[object]]) -> tuple[RuleBook, list[BadRule]]:
        """Rule by rule: a line that fails is left out (and returned); the others apply."""
        rules: dict[str, tuple[Rule, ...]] = {}
        bad: list[BadRule] = []
        for model, lines in spec.items():
            good = []
            for line in lines:
                if not isinstance(line, str):  # stored as JSON: anything may be there
                    bad.append(BadRule(model, repr(line)[:200],
                                       f"a rule must be a string, not {line!r:.80}"))
                    continue
                try:
                    good.append(parse_rule(line))
                except RuleSyntaxError as exc:
                    bad.append(BadRule(model, repr(line)[:200], str(exc)))
            rules[model] = tuple(good)
        return cls(rules), bad

    def rules_for(self, asset_model: str | None) -> tuple[Rule, ...]:
        own = self.rules.get(asset_model, ()) if asset_model else ()
        return own + self.rules.get("*", ())

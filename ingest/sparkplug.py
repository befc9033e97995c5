"""Stateful Sparkplug B decoder: births, data by alias, deaths, seq and bdSeq.

State is kept per edge node (``group/node``): the alias table from NBIRTH, one per
device from DBIRTH, the node's last ``seq`` and the ``bdSeq`` of its current session.

What comes out (all on ``telemetry.readings``, source ``sparkplug``):

- device id ``{node}`` for node metrics and ``{node}.{device}`` for device metrics (a node
  id is only unique within its group; keep node ids unique across groups);
- NBIRTH/DBIRTH: a Reading of the birth's numeric values plus ``online`` = 1;
  NDATA/DDATA: Readings of the numeric values, one per distinct metric timestamp;
  NDEATH/DDEATH: a Reading ``online`` = 0 (an NDEATH also for every device of the node
  that was online). So online/offline is one more metric, keyed and ordered with the
  device's data, and the alerts stream can raise "offline" from it.
- booleans become 0/1; strings, bytes, datasets, templates and DateTime metrics are not
  measurements and are skipped; ``bdSeq`` and ``Node Control/*`` are protocol metrics
  and skipped. Metric names are made to fit ``models`` (other characters -> ``_``).

Rebirth (NCMD ``Node Control/Rebirth`` = true) is requested on a ``seq`` gap (the data
is still published), on data from a node or device without a birth, and on an unknown
alias (that message is dead-lettered: its values cannot be named). At most one request
per node per ``rebirth_interval_ms`` of receive time. An NDEATH whose ``bdSeq`` differs
from the current session's NBIRTH is stale (a late will of an earlier connection) and is
dead-lettered with kind ``stale`` instead of marking the live node offline.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from ingest.routing import Outgoing, Rejected, RejectKind
from ingest.sparkplug_codec import (
    BD_SEQ,
    PbMetric,
    PbPayload,
    SparkplugTopic,
    decode,
    encode_rebirth_request,
    int_metric,
    metric_value,
    ncmd_topic,
    parse_topic,
    readings,
)
from ingest.validation import ID_RE, MAX_SPARKPLUG_BYTES, MAX_SPARKPLUG_METRICS, check_size

_NAME_BAD = re.compile(r"[^A-Za-z0-9_./:-]")
Command = tuple[str, bytes]


@dataclass(frozen=True, slots=True)
class SparkplugResult:
    """Records to publish, MQTT commands to send, and a rejection when no records."""

    records: list[Outgoing]
    commands: list[Command]
    rejected: Rejected | None = None
    message_type: str | None = None


@dataclass(slots=True)
class _Metrics:
    """Alias and data-type tables of one birth certificate."""

    aliases: dict[int, str] = field(default_factory=dict)
    types: dict[str, int] = field(default_factory=dict)
    online: bool = False


@dataclass(slots=True)
class _Node:
    metrics: _Metrics = field(default_factory=_Metrics)
    devices: dict[str, _Metrics] = field(default_factory=dict)
    bd_seq: int | None = None
    seq: int | None = None
    rebirth_at: int | None = None


class SparkplugDecoder:
    """Decodes spBv1.0 messages; thread-safe; never raises for bad input."""

    def __init__(
        self,
        *,
        rebirth_interval_ms: int = 5_000,
        max_nodes: int = 10_000,
        max_devices_per_node: int = 1_000,
    ) -> None:
        self.rebirth_interval_ms = rebirth_interval_ms
        self.max_nodes = max_nodes
        self.max_devices_per_node = max_devices_per_node
        # Least recently heard first: a full table forgets its quietest node (which gets
        # a rebirth request if it speaks again) instead of refusing new ones.
        self._nodes: OrderedDict[tuple[str, str], _Node] = OrderedDict()
        self.evicted = 0
        self._lock = threading.Lock()

    def is_online(self, group: str, node: str, device: str | None = None) -> bool:
        state = self._nodes.get((group, node))
        if state is None:
            return False
        if device is None:
            return state.metrics.online
        dev = state.devices.get(device)
        return dev is not None and dev.online

    def decode(self, topic: str, payload: bytes, received_at: int) -> SparkplugResult:
        """One MQTT message -> records and commands (or a rejection, maybe with commands)."""
        commands: list[Command] = []
        message_type: str | None = None
        try:
            parsed = parse_topic(topic)
            message_type = parsed.message_type
            message = _decode_checked(payload)
            with self._lock:
                records = self._dispatch(parsed, message, received_at, commands)
            if not records:
                raise Rejected("no numeric metrics in Sparkplug payload", RejectKind.UNSUPPORTED)  # noqa: TRY301
            return SparkplugResult(records, commands, None, message_type)
        except Rejected as exc:
            return SparkplugResult([], commands, exc, message_type)

    # -- state machine -------------------------------------------------------------
    def _node(self, t: SparkplugTopic) -> _Node:
        node = self._nodes.get(t.node_key)
        if node is None:
            while len(self._nodes) >= self.max_nodes:
                self._nodes.popitem(last=False)
                self.evicted += 1
            node = self._nodes[t.node_key] = _Node()
        else:
            self._nodes.move_to_end(t.node_key)
        return node

    def _rebirth(self, t: SparkplugTopic, node: _Node, now: int, out: list[Command]) -> None:
        if node.rebirth_at is None or now - node.rebirth_at >= self.rebirth_interval_ms:
            node.rebirth_at = now
            out.append((ncmd_topic(t.group, t.node), encode_rebirth_request(now)))

    def _dispatch(
        self, t: SparkplugTopic, msg: PbPayload, now: int, out: list[Command]
    ) -> list[Outgoing]:
        node = self._node(t)
        kind = t.message_type
        if kind == "NBIRTH":
            return self._nbirth(t, node, msg, now)
        if kind == "NDEATH":
            return self._ndeath(t, node, msg, now)
        gap = self._advance_seq(node, msg)
        if gap or not node.metrics.online:
            self._rebirth(t, node, now, out)
        if kind == "NDATA":
            return self._values(t, msg, now, table=node.metrics, device_id=t.node, node=node,
                                out=out)
        device_id = _device_id(t)
        assert t.device is not None
        if kind == "DBIRTH":
            if t.device not in node.devices and len(node.devices) >= self.max_devices_per_node:
                raise Rejected("too many devices on this Sparkplug node", RejectKind.TOO_LARGE)
            born = node.devices[t.device] = _birth_table(msg)
            return self._values(t, msg, now, table=born, device_id=device_id, node=node,
                                out=out, online=1.0)
        dev = node.devices.get(t.device)
        if kind == "DDEATH":
            if dev is not None:
                dev.online = False
            return readings(device_id, [], _ts(msg, None, now), now, online=0.0)
        if dev is None:  # DDATA without DBIRTH: decode what is named, ask for births
            self._rebirth(t, node, now, out)
            dev = _Metrics()
        return self._values(t, msg, now, table=dev, device_id=device_id, node=node, out=out)

    def _nbirth(self, t: SparkplugTopic, node: _Node, msg: PbPayload, now: int) -> list[Outgoing]:
        node.metrics = _birth_table(msg)
        node.devices.clear()  # devices re-send DBIRTH after every NBIRTH
        node.bd_seq = next((int_metric(m) for m in msg.metrics if m.name == BD_SEQ), None)
        node.seq = msg.seq if msg.HasField("seq") else 0
        node.rebirth_at = None
        return self._values(t, msg, now, table=node.metrics, device_id=t.node, node=node,
                            out=[], online=1.0)

    def _ndeath(self, t: SparkplugTopic, node: _Node, msg: PbPayload, now: int) -> list[Outgoing]:
        bd_seq = next((int_metric(m) for m in msg.metrics if m.name == BD_SEQ), None)
        if node.bd_seq is not None and bd_seq is not None and bd_seq != node.bd_seq:
            raise Rejected(
                f"stale NDEATH ignored: bdSeq {bd_seq} does not match the current "
                f"session's NBIRTH bdSeq {node.bd_seq}",
                RejectKind.STALE,
            )
        # The will's timestamp dates from the connect, so the receive time is used.
        records = readings(t.node, [], now, now, online=0.0)
        for name, dev in node.devices.items():
            if dev.online:
                dev.online = False
                device_topic = SparkplugTopic(t.group, "DDEATH", t.node, name)
                records += readings(_device_id(device_topic), [], now, now, online=0.0)
        node.metrics.online = False
        node.seq = None
        return records

    @staticmethod
    def _advance_seq(node: _Node, msg: PbPayload) -> bool:
        """Record the message's seq; True when it is not the expected next one."""
        if not msg.HasField("seq"):
            return False
        seq = msg.seq
        gap = seq > 255 or (node.seq is not None and seq != (node.seq + 1) % 256)
        node.seq = seq % 256
        return gap

    def _values(
        self,
        t: SparkplugTopic,
        msg: PbPayload,
        now: int,
        *,
        table: _Metrics,
        device_id: str,
        node: _Node,
        out: list[Command],
        online: float | None = None,
    ) -> list[Outgoing]:
        """Name, type and convert the metrics of a birth or data message."""
        items: list[tuple[str, int | None, float]] = []
        for metric in msg.metrics:
            if metric.HasField("name"):
                name = metric.name
            elif metric.HasField("alias") and metric.alias in table.aliases:
                name = table.aliases[metric.alias]
            else:
                self._rebirth(t, node, now, out)
                what = f"alias {metric.alias}" if metric.HasField("alias") else "metric"
                raise Rejected(
                    f"unknown Sparkplug {what} (no name, not in the birth certificate); "
                    "rebirth requested",
                    RejectKind.SPARKPLUG_STATE,
                )
            if name == BD_SEQ or name.startswith("Node Control/"):
                continue
            datatype = metric.datatype if metric.HasField("datatype") else table.types.get(name)
            value = metric_value(metric, datatype)
            clean = _NAME_BAD.sub("_", name)[:64]
            if value is not None and clean:
                items.append((clean, _ts(msg, metric, None), value))
        default_ts = _ts(msg, None, now if online is not None else None)
        return readings(device_id, items, default_ts, now, online=online)


def _decode_checked(payload: bytes) -> PbPayload:
    check_size(payload, MAX_SPARKPLUG_BYTES)
    message = decode(payload)
    if len(message.metrics) > MAX_SPARKPLUG_METRICS:
        raise Rejected(
            f"{len(message.metrics)} metrics exceed {MAX_SPARKPLUG_METRICS}", RejectKind.TOO_LARGE
        )
    return message


def _birth_table(msg: PbPayload) -> _Metrics:
    table = _Metrics(online=True)
    for metric in msg.metrics:
        if not metric.HasField("name"):
            raise Rejected("birth metric without a name", RejectKind.INVALID)
        if metric.HasField("alias"):
            table.aliases[metric.alias] = metric.name
        if metric.HasField("datatype"):
            table.types[metric.name] = metric.datatype
    return table


def _device_id(t: SparkplugTopic) -> str:
    ident = t.node if t.device is None else f"{t.node}.{t.device}"
    if not ID_RE.fullmatch(ident):
        raise Rejected(f"device id {ident[:80]!r} is too long or invalid", RejectKind.NO_ROUTE)
    return ident


def _ts(msg: PbPayload, metric: PbMetric | None, default: int | None) -> int | None:
    if metric is not None and metric.HasField("timestamp"):
        return int(metric.timestamp)
    if msg.HasField("timestamp"):
        return int(msg.timestamp)
    return default

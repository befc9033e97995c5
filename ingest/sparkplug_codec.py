"""Sparkplug B (spBv1.0) wire helpers: topics, metric values, and payload encoders.

The protobuf classes are generated from ``ingest/sparkplug_b.proto`` (the Eclipse Tahu
schema). The encoders build NBIRTH/DBIRTH/NDATA/DDATA/NDEATH payloads for tests and
simulators, the NCMD ``Node Control/Rebirth`` request the decoder asks for, and the
builder of Readings from decoded values.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from types import ModuleType
from typing import Any, TypeAlias

from pydantic import ValidationError

from ingest.routing import TOPIC_READINGS, Outgoing, Rejected, RejectKind
from ingest.validation import ID_RE
from models.codec import describe, encode
from models.messages import MAX_METRICS, Reading, Source

NAMESPACE = "spBv1.0"
NODE_TYPES = frozenset({"NBIRTH", "NDATA", "NDEATH"})
DEVICE_TYPES = frozenset({"DBIRTH", "DDATA", "DDEATH"})
BD_SEQ = "bdSeq"
REBIRTH = "Node Control/Rebirth"
ONLINE_METRIC = "online"  # 1 after a birth, 0 after a death (see ingest/sparkplug.py)

Value = float | int | bool | str | None

# The generated module builds its classes at runtime, invisible to mypy (and the
# protoc-generated .pyi does not type-check under strict with types-protobuf), so the
# messages are typed as Any behind these aliases and the rest stays strict.
pb: ModuleType = importlib.import_module("ingest.sparkplug_b_pb2")
PbPayload: TypeAlias = Any  # ingest.sparkplug_b_pb2.Payload
PbMetric: TypeAlias = Any  # ingest.sparkplug_b_pb2.Payload.Metric


class DataType(IntEnum):
    """Sparkplug B data type codes (``Metric.datatype``)."""

    UNKNOWN = 0
    INT8 = 1
    INT16 = 2
    INT32 = 3
    INT64 = 4
    UINT8 = 5
    UINT16 = 6
    UINT32 = 7
    UINT64 = 8
    FLOAT = 9
    DOUBLE = 10
    BOOLEAN = 11
    STRING = 12
    DATETIME = 13
    TEXT = 14


_SIGNED = frozenset({DataType.INT8, DataType.INT16, DataType.INT32, DataType.INT64})
_SMALL_INTS = frozenset(
    {DataType.INT8, DataType.INT16, DataType.INT32, DataType.UINT8, DataType.UINT16,
     DataType.UINT32}
)


@dataclass(frozen=True, slots=True)
class SparkplugTopic:
    group: str
    message_type: str
    node: str
    device: str | None

    @property
    def node_key(self) -> tuple[str, str]:
        return self.group, self.node


def parse_topic(topic: str) -> SparkplugTopic:
    """``spBv1.0/{group}/{type}/{node}[/{device}]`` -> parts; ``Rejected`` otherwise.

    Only the six telemetry message types are accepted: NCMD/DCMD are commands the
    bridge itself publishes and ``STATE`` is host-application state.
    """
    parts = topic.split("/")
    if len(parts) not in (4, 5) or parts[0] != NAMESPACE:
        raise Rejected(f"not a Sparkplug B telemetry topic {topic[:200]!r}", RejectKind.NO_ROUTE)
    _, group, message_type, node = parts[:4]
    device = parts[4] if len(parts) == 5 else None
    expected = NODE_TYPES if device is None else DEVICE_TYPES
    if message_type not in expected:
        raise Rejected(
            f"unsupported Sparkplug message type {message_type[:20]!r} in this topic shape",
            RejectKind.UNSUPPORTED,
        )
    for what, value in (("group", group), ("node", node), ("device", device)):
        if value is not None and not ID_RE.fullmatch(value):
            raise Rejected(f"bad Sparkplug {what} id {value[:80]!r}", RejectKind.NO_ROUTE)
    return SparkplugTopic(group, message_type, node, device)


def decode(payload: bytes) -> PbPayload:
    message = pb.Payload()
    try:
        message.ParseFromString(payload)
    except Exception as exc:  # protobuf raises DecodeError, or RuntimeError on deep nesting
        raise Rejected(f"not a Sparkplug B protobuf payload: {exc}"[:200],
                       RejectKind.MALFORMED) from None
    return message


def _to_signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value >= 1 << (bits - 1) else value


def metric_value(metric: PbMetric, datatype: int | None) -> float | None:
    """A metric's value as a float, or None when null or not numeric (strings, sets...).

    Int8/16/32 travel as two's complement in ``int_value`` and Int64 in ``long_value``;
    booleans become 0/1. DateTime is a timestamp, not a measurement, and is skipped.
    """
    if metric.is_null:
        return None
    field = metric.WhichOneof("value")
    if field is None or datatype in (DataType.DATETIME, DataType.STRING, DataType.TEXT):
        return None
    raw: float
    if field == "boolean_value":
        raw = 1.0 if metric.boolean_value else 0.0
    elif field in ("int_value", "long_value"):
        integer = metric.int_value if field == "int_value" else metric.long_value
        if datatype in _SIGNED:
            integer = _to_signed(integer, 64 if field == "long_value" else 32)
        raw = float(integer)
    elif field in ("float_value", "double_value"):
        raw = metric.float_value if field == "float_value" else metric.double_value
    else:
        return None
    return raw if math.isfinite(raw) else None


def int_metric(metric: PbMetric) -> int | None:
    """The raw integer of an int/long metric (``bdSeq``), None when it has none."""
    field = metric.WhichOneof("value")
    if field == "int_value":
        return int(metric.int_value)
    if field == "long_value":
        return int(metric.long_value)
    return None


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One metric to encode: by name (births), by alias (data), or both."""

    name: str | None = None
    alias: int | None = None
    value: Value = None
    datatype: DataType | None = None
    timestamp: int | None = None


def _infer(value: Value) -> DataType:
    if isinstance(value, bool):
        return DataType.BOOLEAN
    if isinstance(value, int):
        return DataType.INT64
    if isinstance(value, str):
        return DataType.STRING
    return DataType.DOUBLE


def _fill(metric: PbMetric, spec: MetricSpec) -> None:
    if spec.name is not None:
        metric.name = spec.name
    if spec.alias is not None:
        metric.alias = spec.alias
    if spec.timestamp is not None:
        metric.timestamp = spec.timestamp
    datatype = spec.datatype if spec.datatype is not None else _infer(spec.value)
    metric.datatype = int(datatype)
    value = spec.value
    if value is None:
        metric.is_null = True
    elif isinstance(value, bool):
        metric.boolean_value = value
    elif isinstance(value, str):
        metric.string_value = value
    elif datatype == DataType.FLOAT:
        metric.float_value = float(value)
    elif isinstance(value, int) and datatype in _SMALL_INTS:
        metric.int_value = value & 0xFFFFFFFF
    elif isinstance(value, int):
        metric.long_value = value & 0xFFFFFFFFFFFFFFFF
    else:
        metric.double_value = float(value)


def encode_payload(
    metrics: Iterable[MetricSpec], *, timestamp: int | None, seq: int | None
) -> bytes:
    """A Sparkplug B payload from metric specs (``seq`` None for NDEATH/NCMD)."""
    message = pb.Payload()
    if timestamp is not None:
        message.timestamp = timestamp
    if seq is not None:
        message.seq = seq % 256
    for spec in metrics:
        _fill(message.metrics.add(), spec)
    data: bytes = message.SerializeToString()
    return data


def encode_birth(
    values: Mapping[str, Value],
    *,
    timestamp: int,
    seq: int = 0,
    aliases: Mapping[str, int] | None = None,
    bd_seq: int | None = None,
) -> bytes:
    """An NBIRTH (give ``bd_seq``; adds ``Node Control/Rebirth``) or a DBIRTH payload."""
    specs = [MetricSpec(name, (aliases or {}).get(name), value) for name, value in values.items()]
    if bd_seq is not None:
        specs.insert(0, MetricSpec(BD_SEQ, None, bd_seq, DataType.INT64))
        specs.append(MetricSpec(REBIRTH, None, False, DataType.BOOLEAN))
    return encode_payload(specs, timestamp=timestamp, seq=seq)


def encode_data(values: Mapping[str | int, Value], *, timestamp: int, seq: int) -> bytes:
    """An NDATA/DDATA payload; an int key is an alias, a str key a metric name."""
    specs = [
        MetricSpec(alias=key, value=value) if isinstance(key, int) else MetricSpec(key, None, value)
        for key, value in values.items()
    ]
    return encode_payload(specs, timestamp=timestamp, seq=seq)


def encode_death(*, bd_seq: int, timestamp: int | None = None) -> bytes:
    """An NDEATH payload (the node's MQTT will): only ``bdSeq``, no ``seq``."""
    return encode_payload([MetricSpec(BD_SEQ, None, bd_seq, DataType.INT64)],
                          timestamp=timestamp, seq=None)


def encode_rebirth_request(timestamp: int) -> bytes:
    """The NCMD payload asking an edge node to re-send its NBIRTH and DBIRTHs."""
    return encode_payload([MetricSpec(REBIRTH, None, True, DataType.BOOLEAN)],
                          timestamp=timestamp, seq=None)


def ncmd_topic(group: str, node: str) -> str:
    return f"{NAMESPACE}/{group}/NCMD/{node}"


def readings(
    device_id: str,
    items: list[tuple[str, int | None, float]],
    default_ts: int | None,
    received_at: int,
    *,
    online: float | None = None,
) -> list[Outgoing]:
    """Group values by timestamp into Readings (at most MAX_METRICS each)."""
    groups: dict[int | None, dict[str, float]] = {}
    if online is not None:
        groups[default_ts] = {ONLINE_METRIC: online}
    for name, ts, value in items:
        groups.setdefault(ts if ts is not None else default_ts, {})[name] = value
    records = []
    for ts, metrics in groups.items():
        if ts is None:
            raise Rejected("Sparkplug payload without a timestamp", RejectKind.INVALID)
        names = list(metrics)
        for start in range(0, len(names), MAX_METRICS):
            chunk = {n: metrics[n] for n in names[start : start + MAX_METRICS]}
            try:
                reading = Reading(
                    device_id=device_id,
                    ts=ts,
                    metrics=chunk,
                    source=Source.SPARKPLUG,
                    received_at=received_at,
                )
            except ValidationError as exc:
                raise Rejected(describe(exc)) from None
            records.append(Outgoing(TOPIC_READINGS, device_id, encode(reading), reading.ts))
    return records

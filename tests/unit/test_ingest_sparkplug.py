"""Sparkplug B decoding: births, data by alias, deaths, seq gaps, unknown aliases, bdSeq."""

from __future__ import annotations

import pytest

from ingest.router import Router
from ingest.routing import TOPIC_READINGS, Outgoing, RejectKind
from ingest.sparkplug import SparkplugDecoder
from ingest.sparkplug_codec import (
    REBIRTH,
    DataType,
    MetricSpec,
    decode,
    encode_birth,
    encode_data,
    encode_death,
    encode_payload,
    metric_value,
)
from models.codec import decode as decode_model
from models.messages import Reading

T0 = 1_750_000_000_000
G, N = "plant1", "edge7"
NB, ND, NX = f"spBv1.0/{G}/NBIRTH/{N}", f"spBv1.0/{G}/NDATA/{N}", f"spBv1.0/{G}/NDEATH/{N}"
DB, DD, DX = (f"spBv1.0/{G}/{k}/{N}/pump3" for k in ("DBIRTH", "DDATA", "DDEATH"))


def readings(records: list[Outgoing]) -> list[Reading]:
    assert all(r.topic == TOPIC_READINGS for r in records)
    out = [decode_model(Reading, r.value) for r in records]
    assert all(r.key == m.device_id for r, m in zip(records, out, strict=True))
    return out


def born(router: Router, bd_seq: int = 1) -> None:
    nb = encode_birth({"cpu_temp": 41.0}, timestamp=T0, seq=0, aliases={"cpu_temp": 1},
                      bd_seq=bd_seq)
    assert router.route(NB, nb, T0).dead is None
    db = encode_birth({"flow_lpm": 12.5, "running": True, "model": "X1"}, timestamp=T0, seq=1,
                      aliases={"flow_lpm": 10, "running": 11, "model": 12})
    assert router.route(DB, db, T0).dead is None


def test_birth_and_data_by_alias() -> None:
    router = Router()
    nb = encode_birth({"cpu_temp": 41.0}, timestamp=T0, aliases={"cpu_temp": 1}, bd_seq=1)
    result = router.route(NB, nb, T0 + 5)
    [reading] = readings(result.records)
    assert reading.device_id == N
    assert reading.metrics == {"cpu_temp": 41.0, "online": 1.0}  # bdSeq/Node Control skipped
    assert result.commands == []
    db = encode_birth({"flow_lpm": 12.5, "running": True, "model": "X1"}, timestamp=T0, seq=1,
                      aliases={"flow_lpm": 10, "running": 11, "model": 12})
    [dev] = readings(router.route(DB, db, T0).records)
    assert dev.device_id == f"{N}.pump3"
    assert dev.metrics == {"flow_lpm": 12.5, "running": 1.0, "online": 1.0}  # string skipped
    data = encode_data({10: 13.0, 11: False}, timestamp=T0 + 1000, seq=2)
    result = router.route(DD, data, T0 + 1001)
    [dev] = readings(result.records)
    assert (dev.ts, dev.metrics, dev.received_at) == (T0 + 1000, {"flow_lpm": 13.0,
                                                                 "running": 0.0}, T0 + 1001)
    [node] = readings(router.route(ND, encode_data({1: 42.0}, timestamp=T0 + 2000, seq=3),
                                   T0).records)
    assert node.metrics == {"cpu_temp": 42.0}
    assert router.sparkplug.is_online(G, N, "pump3")


def test_seq_gap_publishes_data_and_requests_rebirth_once() -> None:
    router = Router()
    born(router)
    result = router.route(DD, encode_data({10: 1.0}, timestamp=T0, seq=7), T0)
    assert readings(result.records)[0].metrics == {"flow_lpm": 1.0}
    [(topic, payload)] = result.commands
    assert topic == f"spBv1.0/{G}/NCMD/{N}"
    [metric] = decode(payload).metrics
    assert metric.name == REBIRTH and metric.boolean_value is True
    # another gap within the interval: no second request (no rebirth storm)
    again = router.route(DD, encode_data({10: 1.0}, timestamp=T0, seq=9), T0 + 100)
    assert again.commands == []
    later = router.route(DD, encode_data({10: 1.0}, timestamp=T0, seq=20), T0 + 10_000)
    assert len(later.commands) == 1


def test_seq_wraps_without_gap() -> None:
    router = Router()
    born(router)
    seq = 2
    for _ in range(300):
        result = router.route(DD, encode_data({10: 1.0}, timestamp=T0, seq=seq), T0)
        assert result.commands == [] and result.dead is None
        seq = (seq + 1) % 256


def test_unknown_alias_dead_letters_and_requests_rebirth() -> None:
    router = Router()
    born(router)
    result = router.route(DD, encode_data({99: 1.0}, timestamp=T0, seq=2), T0)
    assert result.records == []
    assert result.dead is not None and "alias 99" in result.dead.reason
    assert result.dead_kind is RejectKind.SPARKPLUG_STATE
    assert len(result.commands) == 1


def test_data_before_any_birth_requests_rebirth() -> None:
    router = Router()
    by_alias = router.route(ND, encode_data({1: 1.0}, timestamp=T0, seq=5), T0)
    assert by_alias.dead is not None and len(by_alias.commands) == 1
    by_name = router.route(DD, encode_data({"temp": 3.0}, timestamp=T0, seq=6), T0 + 10_000)
    assert readings(by_name.records)[0].metrics == {"temp": 3.0}  # named values still flow
    assert len(by_name.commands) == 1


def test_deaths_and_bdseq() -> None:
    router = Router()
    born(router, bd_seq=4)
    ddeath = router.route(DX, encode_payload([], timestamp=T0 + 5, seq=2), T0 + 6)
    assert [r.metrics for r in readings(ddeath.records)] == [{"online": 0.0}]
    assert not router.sparkplug.is_online(G, N, "pump3")
    stale = router.route(NX, encode_death(bd_seq=3), T0 + 7)
    assert stale.dead is not None and stale.dead_kind is RejectKind.STALE
    assert "bdSeq 3" in stale.dead.reason
    assert router.sparkplug.is_online(G, N)
    death = router.route(NX, encode_death(bd_seq=4), T0 + 8)
    [node] = readings(death.records)
    assert (node.device_id, node.metrics, node.ts) == (N, {"online": 0.0}, T0 + 8)
    assert not router.sparkplug.is_online(G, N)


def test_ndeath_marks_online_devices_offline() -> None:
    router = Router()
    born(router, bd_seq=0)
    death = router.route(NX, encode_death(bd_seq=0), T0)
    assert {r.device_id for r in readings(death.records)} == {N, f"{N}.pump3"}


def test_new_birth_resets_aliases() -> None:
    router = Router()
    born(router)
    nb = encode_birth({"other": 1.0}, timestamp=T0, aliases={"other": 1}, bd_seq=2)
    router.route(NB, nb, T0)
    # pump3's aliases belonged to the old session: unknown until its DBIRTH
    result = router.route(DD, encode_data({10: 1.0}, timestamp=T0, seq=1), T0)
    assert result.dead is not None and result.dead_kind is RejectKind.SPARKPLUG_STATE


def test_per_metric_timestamps_split_readings() -> None:
    router = Router()
    born(router)
    payload = encode_payload(
        [MetricSpec(alias=10, value=1.0, timestamp=T0 + 1),
         MetricSpec(alias=10, value=2.0, timestamp=T0 + 2)],
        timestamp=T0 + 3, seq=2,
    )
    got = readings(router.route(DD, payload, T0).records)
    assert [(r.ts, r.metrics["flow_lpm"]) for r in got] == [(T0 + 1, 1.0), (T0 + 2, 2.0)]


@pytest.mark.parametrize(
    ("datatype", "value", "expected"),
    [(DataType.INT8, -5, -5.0), (DataType.INT32, -70000, -70000.0), (DataType.INT64, -1, -1.0),
     (DataType.UINT32, 4_000_000_000, 4e9), (DataType.FLOAT, 1.5, 1.5),
     (DataType.BOOLEAN, True, 1.0), (DataType.STRING, "x", None)],
)
def test_signed_and_typed_values(datatype: DataType, value: float, expected: float) -> None:
    [metric] = decode(encode_payload([MetricSpec("m", 1, value, datatype)], timestamp=T0,
                                     seq=0)).metrics
    assert metric_value(metric, int(datatype)) == expected


@pytest.mark.parametrize(
    ("topic", "payload", "kind"),
    [
        (NB, b"\xff\xff\xff", RejectKind.MALFORMED),
        (f"spBv1.0/{G}/NCMD/{N}", b"", RejectKind.UNSUPPORTED),
        ("spBv1.0/STATE/host", b"", RejectKind.NO_ROUTE),
        (f"spBv1.0/{G}/DDATA/{N}", b"", RejectKind.UNSUPPORTED),
        (f"spBv1.0/{G}/NDATA/bad node", b"", RejectKind.NO_ROUTE),
        (ND, encode_data({"s": "text"}, timestamp=T0, seq=1), RejectKind.UNSUPPORTED),
        (ND, encode_data({"t": 1.0}, timestamp=5, seq=1), RejectKind.INVALID),
        (ND, encode_payload([MetricSpec("t", None, 1.0)], timestamp=None, seq=1),
         RejectKind.INVALID),
        (f"spBv1.0/{G}/DBIRTH/{N}/{'d' * 60}", encode_birth({"a": 1.0}, timestamp=T0),
         RejectKind.NO_ROUTE),
    ],
)
def test_rejections(topic: str, payload: bytes, kind: RejectKind) -> None:
    result = Router().route(topic, payload, T0)
    assert result.records == []
    assert result.dead is not None and result.dead.reason
    assert result.dead_kind is kind


def test_node_table_is_bounded_and_evicts_the_quietest_node() -> None:
    decoder = SparkplugDecoder(max_nodes=2)
    router = Router(sparkplug_decoder=decoder)
    nb = encode_birth({"a": 1.0}, timestamp=T0, bd_seq=0)
    for i in range(3):
        result = router.route(f"spBv1.0/g/NBIRTH/n{i}", nb, T0)
        assert result.dead is None and result.records  # a new node is never refused
    assert len(decoder._nodes) == 2 and decoder.evicted == 1
    assert not decoder.is_online("g", "n0")  # the oldest was forgotten
    assert decoder.is_online("g", "n1") and decoder.is_online("g", "n2")

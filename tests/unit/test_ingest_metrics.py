"""Bridge metrics: thread-safe counting and the Prometheus text exposition format."""

from __future__ import annotations

import re
import threading

from ingest.metrics import BridgeMetrics

SAMPLE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? \S+$')


def test_prometheus_text_is_well_formed() -> None:
    m = BridgeMetrics()
    m.received.inc(3)
    m.published.inc(2)
    m.dead_lettered("rate limited: device/x is over its rate")
    m.dead_lettered("unknown Sparkplug alias 5 (no name); rebirth requested")
    m.latency.observe(3.0)
    text = m.render_prometheus()
    assert text.endswith("\n")
    typed = set()
    for line in text.splitlines():
        if line.startswith("# TYPE"):
            _, _, name, kind = line.split()
            assert kind in {"counter", "gauge", "histogram", "summary"}
            typed.add(name)
        elif not line.startswith("# HELP"):
            assert SAMPLE.match(line), line
            base = re.sub(r"(_bucket|_sum|_count)$", "", line.split("{")[0].split()[0])
            assert base in typed, line
    assert "fieldflow_bridge_received_total 3" in text
    assert 'fieldflow_bridge_deadlettered_total{reason="rate_limited"} 1' in text


def test_counters_are_thread_safe() -> None:
    m = BridgeMetrics()

    def work() -> None:
        for _ in range(10_000):
            m.received.inc()
            m.dead_lettered("rate limited")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert m.received.value == 40_000 and m.dead_total == 40_000

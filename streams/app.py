"""The faust app: topics carry bytes; ``models.codec`` turns them into models.

Options follow DESIGN.md §3: short session timeouts (tansu's first JoinGroup hangs
with the defaults), raw serializers (a bad record never crashes an agent), memory
table store (tables are caches; business state lives in PostgreSQL).
"""

from __future__ import annotations

import faust

from stack.settings import TOPICS, Settings, get_settings

# Long enough for a slow batch under overload: with 10 s a lagging worker left its group
# and aiokafka never rejoined (seen in bench streams). The readings consumer uses it too.
MAX_POLL_INTERVAL_S = 300


def create_app(settings: Settings | None = None) -> faust.App:
    s = settings or get_settings()
    return faust.App(
        "fieldflow",
        broker=f"kafka://{s.resolved_kafka_bootstrap}",
        value_serializer="raw",
        key_serializer="raw",
        store="memory://",
        web_enabled=False,
        topic_partitions=s.partitions,
        topic_replication_factor=1,
        broker_session_timeout=6,
        broker_heartbeat_interval=2,
        broker_max_poll_interval=MAX_POLL_INTERVAL_S,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        stream_wait_empty=False,
        datadir=str(s.home_dir / "faust"),
    )


app = create_app()


def topic(name: str) -> faust.TopicT:
    assert name in TOPICS, name
    return app.topic(
        name, value_type=bytes, key_type=bytes, value_serializer="raw", key_serializer="raw"
    )

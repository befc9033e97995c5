"""The working state of one partition of each telemetry topic (pickled into snapshots).

Everything here is per key (engineer or device) of the partition, plus the partition's
:class:`~streams.watermark.Watermark`. Shared, rebuilt-from-the-database caches (fences,
asset rules, the device registry, the fault model) live in the worker's context and are
put back into a state when it is restored, never snapshotted.
"""

from __future__ import annotations

import copy
import zlib
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from models.fault.features import AssetWindow
from models.messages import Reading
from stack.settings import Settings
from streams.alerts import AlertProcessor, RuleBook
from streams.eta import EtaEstimator
from streams.fences import FenceIndex
from streams.geofence import GeofenceConfig, GeofenceProcessor
from streams.presence import OfflineTracker
from streams.watermark import Watermark


def partition_of(key: str, partitions: int) -> int:
    """The partition librdkafka's default (``consistent_random``) partitioner gives a
    keyed record: CRC-32 of the key modulo the partition count."""
    return zlib.crc32(key.encode()) % partitions


def watermark(s: Settings) -> Watermark:
    return Watermark(max_ahead_ms=int(s.watermark_max_ahead_s * 1000),
                     idle_ms=int(s.watermark_idle_s * 1000))


@dataclass
class PositionsState:
    """Geofence dwell and inside/outside, presence and last seen, ETA trips."""

    partition: int
    watermark: Watermark
    geofence: GeofenceProcessor
    presence: OfflineTracker
    eta: EtaEstimator = field(default_factory=EtaEstimator)
    late: set[str] = field(default_factory=set)  # orders whose sla_risk alert was raised
    presence_restored: bool = False  # engineers the database shows online taken over
    orders_seen_at: float = 0.0  # the active-orders reload the ETAs were last aligned with

    @classmethod
    def new(cls, s: Settings, partition: int) -> PositionsState:
        return cls(
            partition=partition,
            watermark=watermark(s),
            geofence=GeofenceProcessor(
                FenceIndex([], margin_m=s.geofence_exit_margin_m),
                GeofenceConfig(exit_margin_m=s.geofence_exit_margin_m,
                               dwell_enter_s=s.geofence_dwell_s,
                               lateness_s=s.geofence_lateness_s,
                               max_accuracy_m=s.geofence_max_accuracy_m)),
            presence=OfflineTracker(default_timeout_s=s.engineer_offline_after_s),
        )

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        index = self.geofence.index  # shared by every partition: not part of the snapshot
        self.geofence.index = FenceIndex([], margin_m=0)
        try:
            state["geofence"] = copy.copy(self.geofence)
        finally:
            self.geofence.index = index
        return state


@dataclass
class ReadingsState:
    """Alert windows and open alerts, offline devices, fault feature windows."""

    partition: int
    watermark: Watermark
    alerts: AlertProcessor = field(default_factory=lambda: AlertProcessor(RuleBook()))
    windows: dict[str, AssetWindow] = field(default_factory=dict)
    # Readings of watched assets that came before the fault model was loaded.
    pending: dict[str, deque[Reading]] = field(default_factory=dict)
    adopted: bool = False  # open alerts from the database taken over (fresh partitions)
    registry_seen_at: float = 0.0  # the registry reload the devices were last registered from

    @classmethod
    def new(cls, s: Settings, partition: int) -> ReadingsState:
        return cls(partition=partition, watermark=watermark(s))

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        rulebook = self.alerts.rulebook  # shared: refreshed from the database
        self.alerts.rulebook = RuleBook()
        try:
            state["alerts"] = copy.copy(self.alerts)
        finally:
            self.alerts.rulebook = rulebook
        return state

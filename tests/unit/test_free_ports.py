"""Ports for test and bench stacks: distinct, free, and out of the kernel's ephemeral range."""

from __future__ import annotations

import socket
from pathlib import Path

from stack.procs import ephemeral_floor, free_ports


def test_ephemeral_floor_reads_the_kernel_range(tmp_path: Path) -> None:
    f = tmp_path / "range"
    f.write_text("40000\t60999\n")
    assert ephemeral_floor(str(f)) == 40000


def test_ephemeral_floor_falls_back_when_unreadable(tmp_path: Path) -> None:
    assert ephemeral_floor(str(tmp_path / "missing")) == 32768
    (tmp_path / "bad").write_text("")
    assert ephemeral_floor(str(tmp_path / "bad")) == 32768


def test_ports_are_distinct_below_the_ephemeral_range_and_bindable() -> None:
    ports = free_ports(20)
    assert len(set(ports)) == 20
    assert all(1024 <= p < ephemeral_floor() for p in ports)
    with socket.socket() as s:
        s.bind(("127.0.0.1", ports[0]))


def test_a_port_in_use_is_never_handed_out() -> None:
    floor = ephemeral_floor()
    held = []
    try:
        # hold every port of a narrow window but one; that one must be what comes back
        for port in range(floor - 40, floor - 1):
            s = socket.socket()
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                s.close()
                continue
            held.append(s)
        taken = {s.getsockname()[1] for s in held}
        assert free_ports(1, low=floor - 40)[0] not in taken
    finally:
        for s in held:
            s.close()

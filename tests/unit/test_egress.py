"""Webhook destinations (api/egress.py): public addresses only, unless allowed."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from api.egress import Refused, address_refusal, check_addresses, check_destination, networks


@pytest.mark.parametrize(("addr", "why"), [
    ("127.0.0.1", "loopback"), ("::1", "loopback"), ("10.1.2.3", "private"),
    ("192.168.0.7", "private"), ("172.16.5.5", "private"), ("169.254.169.254", "link-local"),
    ("fe80::1", "link-local"), ("0.0.0.0", "unicast"), ("224.0.0.1", "unicast"),
    ("::ffff:127.0.0.1", "loopback"), ("100.64.0.1", "private"), ("fc00::1", "private"),
])
def test_internal_addresses_are_refused(addr: str, why: str) -> None:
    reason = address_refusal(ipaddress.ip_address(addr), [])
    assert reason is not None and why in reason


def test_public_addresses_and_allowed_networks_pass() -> None:
    assert address_refusal(ipaddress.ip_address("93.184.216.34"), []) is None
    assert address_refusal(ipaddress.ip_address("2606:4700::1111"), []) is None
    allowed = networks(["10.20.0.0/16"])
    assert address_refusal(ipaddress.ip_address("10.20.3.4"), allowed) is None
    assert address_refusal(ipaddress.ip_address("10.21.3.4"), allowed) is not None


def test_one_bad_address_among_many_refuses_the_url() -> None:
    addrs = [ipaddress.ip_address(a) for a in ("93.184.216.34", "127.0.0.1")]
    with pytest.raises(Refused, match=r"'http://example\.test/h' is refused.*loopback"):
        check_addresses("http://example.test/h", addrs, [])
    with pytest.raises(Refused, match="does not resolve"):
        check_addresses("http://nowhere.test/h", [], [])


def test_literal_addresses_and_names_are_checked() -> None:
    with pytest.raises(Refused, match="loopback"):
        asyncio.run(check_destination("http://127.0.0.1:9/x", []))
    with pytest.raises(Refused, match="loopback"):
        asyncio.run(check_destination("http://localhost:9/x", []))  # resolved
    with pytest.raises(Refused, match="only http"):
        asyncio.run(check_destination("ftp://93.184.216.34/x", []))
    asyncio.run(check_destination("http://93.184.216.34/x", []))

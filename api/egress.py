"""Where FieldFlow may send webhooks: public addresses, or networks the operator allowed.

A webhook URL is a request the server makes on a user's behalf; pointed at loopback, a
private network or a link-local address (cloud metadata at 169.254.169.254) it would
probe the inside of the deployment and report back through the delivery log. So a
destination is refused unless every address its host resolves to is global, or falls
in ``webhook_allowed_networks`` (for on-premises receivers). The check runs at
registration and again before every delivery (the name may resolve differently later).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class Refused(ValueError):
    """The destination is not allowed; the message says why, naming the URL's host."""


def networks(allowed: Iterable[str]) -> list[Network]:
    return [ipaddress.ip_network(n, strict=False) for n in allowed]


def address_refusal(addr: Address, allowed: Iterable[Network]) -> str | None:
    """Why ``addr`` may not be a webhook target (None when it may)."""
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    if any(addr in net for net in allowed):
        return None
    if addr.is_loopback:
        return "a loopback address"
    if addr.is_link_local:
        return "a link-local address"
    if addr.is_unspecified or addr.is_multicast or addr.is_reserved:
        return "not a unicast address"
    if addr.is_private or not addr.is_global:
        return "a private network address"
    return None


def check_addresses(url: str, addrs: Iterable[Address], allowed: Iterable[Network]) -> None:
    nets = list(allowed)
    host = urlsplit(url).hostname or ""
    found = False
    for addr in addrs:
        found = True
        why = address_refusal(addr, nets)
        if why is not None:
            raise Refused(
                f"webhook URL {url!r} is refused: its host {host!r} is {why} ({addr}); "
                "webhooks go to public addresses unless the operator allows the network "
                "(FIELDFLOW_WEBHOOK_ALLOWED_NETWORKS)"
            )
    if not found:
        raise Refused(f"webhook URL {url!r} is refused: its host {host!r} does not resolve")


async def resolve(host: str, port: int) -> list[Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return []
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


async def check_destination(url: str, allowed: Iterable[Network]) -> None:
    """Raise :class:`Refused` unless ``url`` may receive webhooks now."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused(f"webhook URL {url!r} is refused: only http(s) URLs with a host")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    check_addresses(url, await resolve(parts.hostname, port), allowed)

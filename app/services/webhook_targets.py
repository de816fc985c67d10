"""Where a webhook may be sent: ``https://`` only, to addresses that are globally routable,
judged on the addresses the host name resolves to now — at subscription and again at each
attempt, and the attempt then connects to the very address judged (no second lookup that a
rebinding DNS server could answer differently). ``PTA_WEBHOOK_ALLOW_PRIVATE=true`` lifts both
rules (tests, closed networks)."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: the longest a lookup may take (at subscription it holds a request)
LOOKUP_SECONDS = 5.0


class RefusedTarget(Exception):
    """A URL the service will not send to; the text says why (it never quotes the URL)."""


@dataclass(frozen=True)
class Target:
    """A URL judged safe, and where to connect: ``url`` has the judged address in place of
    the host name, which goes in the Host header and names the TLS server (SNI and the
    certificate check)."""

    url: str
    host: str
    host_header: str


def is_public(address: IpAddress) -> bool:
    """Python's ``is_global``; an IPv4-mapped IPv6 address is judged as the IPv4 address it
    maps (``::ffff:127.0.0.1`` is loopback)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_global
    return address.is_global


async def lookup(host: str, port: int) -> list[IpAddress]:
    """Every address the host name resolves to now (an address literal: itself, without a
    trip to the resolver's thread)."""
    with contextlib.suppress(ValueError):
        return [ipaddress.ip_address(host)]
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


def check_url(url: str, *, allow_private: bool) -> None:
    """The shape of the URL (no lookup): scheme, host, no credentials, no fragment."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises on a port out of range)
    except ValueError:
        raise RefusedTarget("the URL is not valid") from None
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        raise RefusedTarget("the URL must start with https://")
    if not parts.hostname:
        raise RefusedTarget("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise RefusedTarget("the URL may not carry a user name or password")
    if parts.fragment:
        raise RefusedTarget("the URL may not carry a fragment")


async def resolve(url: str, *, allow_private: bool) -> Target:
    """Judge the URL and every address its host resolves to; where to connect."""
    check_url(url, allow_private=allow_private)
    parts = urlsplit(url)
    host = parts.hostname or ""
    default_port = 443 if parts.scheme == "https" else 80
    port = parts.port or default_port
    try:
        async with asyncio.timeout(LOOKUP_SECONDS):
            addresses = await lookup(host, port)
    except (OSError, UnicodeError, ValueError):
        raise RefusedTarget("the host name does not resolve") from None
    except TimeoutError:
        raise RefusedTarget("the host name did not resolve in time") from None
    if not addresses:
        raise RefusedTarget("the host name does not resolve")
    if not allow_private and not all(is_public(address) for address in addresses):
        raise RefusedTarget("the URL's host is not a globally routable address")
    address = addresses[0]
    shown = f"[{address}]" if address.version == 6 else str(address)
    named = f"[{host}]" if ":" in host else host
    return Target(
        url=parts._replace(netloc=f"{shown}:{port}").geturl(),
        host=host,
        host_header=named if port == default_port else f"{named}:{port}",
    )

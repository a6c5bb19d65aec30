"""Where a webhook may point: checked at registration and again before every delivery, on the
addresses the host resolves to at that moment (a name that resolved to a public address when it
was registered may resolve to 127.0.0.1 later: DNS rebinding). The delivery then connects to the
address that was checked, never resolving the name a second time.

Private targets (loopback, RFC 1918, unique-local, link-local) are refused unless
WEBHOOK_ALLOW_PRIVATE_TARGETS; cloud metadata endpoints, multicast and unspecified addresses
are refused always (none of them is a webhook receiver, and metadata hands out credentials).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Instance metadata services: AWS/GCP/Azure/OpenStack, AWS ECS task credentials, AWS IPv6,
# Alibaba Cloud.
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)
NAT64 = ipaddress.ip_network("64:ff9b::/96")
RESOLVE_TIMEOUT_SECONDS = 5.0


class UnsafeTarget(ValueError):
    """The URL or an address it resolves to may not receive webhooks; the message says why."""


class Unresolvable(UnsafeTarget):
    """The host does not resolve (now): nothing to connect to."""


@dataclass(frozen=True)
class Target:
    """A checked URL: connect to `address`, present `host` (Host header and TLS SNI)."""

    url: SplitResult
    host: str
    port: int
    address: IPAddress


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries, which is where a connection to it ends up:
    IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d), NAT64, 6to4 and Teredo."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in NAT64 or (int(address) >> 32 == 0 and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def refusal(address: IPAddress, allow_private: bool) -> str | None:
    """Why a webhook may not be sent to `address`, or None when it may."""
    inner = embedded_ipv4(address)
    if inner is not None:
        why = refusal(inner, allow_private)
        return None if why is None else f"{address} embeds {inner}: {why}"
    if address in METADATA_ADDRESSES:
        return f"{address} is a cloud metadata address"
    if address.is_unspecified:
        return f"{address} is unspecified"
    if address.is_multicast:
        return f"{address} is multicast"
    if allow_private or address.is_global:
        return None
    kind = (
        "loopback"
        if address.is_loopback
        else "link-local"
        if address.is_link_local
        else "private or reserved"
    )
    return f"{address} is {kind} (WEBHOOK_ALLOW_PRIVATE_TARGETS is off)"


def parse_url(url: str, allow_private: bool) -> tuple[SplitResult, str, int]:
    """(parts, host, port) of an acceptable URL, or UnsafeTarget."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeTarget(f"not a valid URL: {exc}") from None
    if parts.scheme not in ("https", "http"):
        raise UnsafeTarget("must be an https:// URL")
    if parts.scheme == "http" and not allow_private:
        raise UnsafeTarget("must be an https:// URL (http only with WEBHOOK_ALLOW_PRIVATE_TARGETS)")
    if parts.username is not None or parts.password is not None:
        raise UnsafeTarget("must not contain credentials (user:password@)")
    if not parts.hostname:
        raise UnsafeTarget("has no host")
    if parts.fragment:
        raise UnsafeTarget("must not have a fragment (#...)")
    return parts, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to now (an IP literal is itself)."""
    literal = _literal(host)
    if literal is not None:
        return [literal]
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT_SECONDS):
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Unresolvable(f"host {host!r} does not resolve: {exc}") from None
    except TimeoutError:
        raise Unresolvable(f"host {host!r} does not resolve (timed out)") from None
    found: list[IPAddress] = []
    for info in infos:
        # An IPv6 address may come with a zone ("fe80::1%eth0"): the zone is not the address.
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if address not in found:
            found.append(address)
    if not found:
        raise Unresolvable(f"host {host!r} does not resolve")
    return found


async def check_registration(url: str, allow_private: bool) -> None:
    """At registration: the URL, and the addresses its host resolves to if it resolves now (a
    name not in DNS yet is accepted: every delivery checks again)."""
    try:
        await check_url(url, allow_private)
    except Unresolvable:
        return


async def check_url(url: str, allow_private: bool) -> Target:
    """The target to connect to, after checking the URL and EVERY address its host resolves to
    (a name with one private address among public ones is refused: which one a client would
    pick is not ours to guess)."""
    parts, host, port = parse_url(url, allow_private)
    addresses = await resolve(host, port)
    literal = addresses == [_literal(host)]
    for address in addresses:
        why = refusal(address, allow_private)
        if why is not None:
            raise UnsafeTarget(why if literal else f"host {host!r} resolves to {why}")
    return Target(parts, host, port, addresses[0])

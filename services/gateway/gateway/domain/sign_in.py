"""Sign-in throttling, decided without I/O: whose bucket a client is in, and how long an account
stays locked after failed passwords.

Per client address alone is not enough (issue 11): one IPv6 customer holds a /64, so every
address of it counts as one client; and a guesser spreading over many addresses is stopped by
the per-account backoff, which counts failures per email whoever sends them.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

IPV6_CLIENT_PREFIX = 64  # what one customer gets from a provider: one subscriber, one bucket


def client_bucket(host: str) -> str:
    """The rate-limit subject of a client address: an IPv4 address, or the /64 of an IPv6 one
    (an IPv4-mapped IPv6 address counts as its IPv4 address)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host  # not an address (a test client's name, a Unix socket): itself
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        network = ipaddress.IPv6Network((address, IPV6_CLIENT_PREFIX), strict=False)
        return str(network)
    return str(address)


@dataclass(frozen=True)
class BackoffPolicy:
    """`free_failures` wrong passwords in a row cost nothing; each one after them locks the
    account for twice as long as the one before (base, 2·base, 4·base ...), at most
    `max_lock_seconds`. A correct password clears the count."""

    free_failures: int = 5
    base_lock_seconds: float = 1.0
    max_lock_seconds: float = 900.0

    def lock_seconds(self, failures: int) -> float:
        """How long the account is locked after its `failures`-th wrong password in a row."""
        over = failures - self.free_failures
        if over <= 0:
            return 0.0
        # min() on the exponent first: 2**10_000 would be a float overflow.
        return min(self.max_lock_seconds, self.base_lock_seconds * 2.0 ** min(over - 1, 60))

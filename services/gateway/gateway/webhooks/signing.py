"""Signatures of webhook deliveries, as Stripe signs its webhooks.

Header `ArbitrageVault-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`, the HMAC keyed with
the webhook's secret over `f"{t}.{body}"`. A receiver recomputes it over the raw body, compares
in constant time and refuses a timestamp older than a few minutes (a replayed request).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

SIGNATURE_HEADER = "ArbitrageVault-Signature"
DELIVERY_HEADER = "ArbitrageVault-Delivery"  # the same for every attempt of a delivery: dedupe
EVENT_HEADER = "ArbitrageVault-Event"
SECRET_PREFIX = "whsec_"
DEFAULT_TOLERANCE_SECONDS = 300


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    moment = int(time.time()) if timestamp is None else timestamp
    return f"t={moment},v1={signature(secret, moment, body)}"


def verify(
    secret: str,
    header: str,
    body: bytes,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """What a receiver does: True when one `v1` of the header signs `body` with `secret` and the
    timestamp is within the tolerance."""
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance_seconds:
        return False
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)

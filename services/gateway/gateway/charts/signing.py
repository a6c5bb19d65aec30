"""Signed chart URLs: what an analysis links to, loadable by a browser's `<img>` (which cannot send
an Authorization header; an access token in a URL would land in logs and histories).

`?owner=<user id>&exp=<unix seconds>&sig=<hex>`: the signature is an HMAC-SHA256, under a key
derived from the gateway's JWT secret (so every instance verifies it), of the path, the expiry and
the seller. A URL is good for CHART_URL_SECONDS, for that one chart (the path, with its format)
and that seller; changing any part of it, or using it later, is refused. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from urllib.parse import urlencode

CHART_URL_SECONDS = 15 * 60
SIGNED_PARAMS = ("owner", "exp", "sig")
_KEY_LABEL = b"arbitragevault chart url v1"
BOOKS_PREFIX = "/api/v1/books/"
CHART_SUFFIXES = ("/chart.png", "/chart.svg")


class BadSignature(Exception):
    """Why a signed chart URL is refused (the problem's detail)."""


@dataclass(frozen=True)
class ChartSigner:
    """Signs and verifies chart URLs with the gateway's secret."""

    secret: str

    def _key(self) -> bytes:
        return hmac.new(self.secret.encode(), _KEY_LABEL, hashlib.sha256).digest()

    def signature(self, path: str, owner: uuid.UUID, expires: int) -> str:
        message = f"{path}\n{expires}\n{owner}".encode()
        return hmac.new(self._key(), message, hashlib.sha256).hexdigest()

    def sign(self, path: str, owner: uuid.UUID, now: float) -> str:
        """`path` with the query that lets `owner` load it until CHART_URL_SECONDS from now."""
        expires = int(now) + CHART_URL_SECONDS
        query = {"owner": str(owner), "exp": expires, "sig": self.signature(path, owner, expires)}
        return f"{path}?{urlencode(query)}"

    def verify(self, path: str, owner: str, expires: str, sig: str, now: float) -> uuid.UUID:
        """The seller a signed URL was made for; `BadSignature` when altered or expired."""
        try:
            seller = uuid.UUID(owner)
            until = int(expires)
        except ValueError:
            raise BadSignature("invalid chart link: owner or exp altered") from None
        if not hmac.compare_digest(self.signature(path, seller, until), sig):
            raise BadSignature("invalid chart link: signature does not match")
        if until <= now:
            raise BadSignature("expired chart link: read the analysis again for a new one")
        return seller


def is_chart_path(path: str) -> bool:
    return path.startswith(BOOKS_PREFIX) and path.endswith(CHART_SUFFIXES)


def carries_signature(path: str, query_string: bytes) -> bool:
    """A chart request that authenticates with `?sig=` (the request guard leaves it to the
    route, which verifies the signature)."""
    return is_chart_path(path) and any(
        p.split(b"=", 1)[0] == b"sig" for p in query_string.split(b"&")
    )

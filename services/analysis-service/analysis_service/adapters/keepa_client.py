"""Async client for Keepa's `GET /product` (by ASIN or by EAN/ISBN-13 code).

One call is one HTTP request for at most 100 products (20 with offers). The client reads the
token envelope of every answer, waits on HTTP 429 for the refill Keepa announces (it never
re-asks sooner), and retries 5xx, timeouts and connection failures with capped exponential
backoff and full jitter before giving up with `KeepaUnavailable`.

Token costs per product, from Keepa's /product documentation ("Request Products" token table):
1 per product; with `offers`, 6 per page of up to 10 offers *instead of* that token (5 if the
product has none); `buybox` +2; `rating` up to +1; `update=0` +1 (forced live refresh);
`stats`, `history`, `days` and `only-live-offers` are free.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from av_shared.retry import TransientError

log = logging.getLogger(__name__)

_ASIN_RE = re.compile(r"^[A-Z0-9]{10}$")
_CODE_RE = re.compile(r"^[0-9]{8,14}$")
_KEY_RE = re.compile(r"(key=)[^&\s\"']+")

OFFER_PAGE_SIZE = 10
OFFER_PAGE_COST = 6
BUYBOX_COST = 2
RATING_COST = 1
LIVE_UPDATE_COST = 1
_TOKEN_WAIT_FLOOR_MS = 100  # like Keepa's own Java client: refillIn + 100 ms


def redact(text: str) -> str:
    """Remove the API key from anything that might quote a request URL."""
    return _KEY_RE.sub(r"\1***", text)


class _RedactKeyFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "key=" in message:
            record.msg, record.args = redact(message), None
        return True


def _protect_httpx_logs() -> None:
    # httpx logs every request URL at INFO, and Keepa takes the key as a query parameter.
    httpx_log = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactKeyFilter) for f in httpx_log.filters):
        httpx_log.addFilter(_RedactKeyFilter())


@dataclass(frozen=True)
class TokenStatus:
    tokens_left: int
    refill_in_ms: int
    refill_rate: int
    tokens_consumed: int
    timestamp_ms: int


@dataclass(frozen=True)
class KeepaProductsResponse:
    products: list[dict[str, Any]]
    tokens: TokenStatus


class KeepaError(Exception):
    pass


class KeepaUnavailable(KeepaError):
    """Keepa could not be reached or kept failing; the request may be retried later."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class KeepaRequestRejected(KeepaError):
    """Keepa refused the request (bad parameters): retrying the same request will not help."""

    def __init__(self, status_code: int, reason: str) -> None:
        super().__init__(f"HTTP {status_code}: {reason}")
        self.status_code = status_code
        self.reason = reason


class KeepaAccountError(KeepaRequestRejected, TransientError):
    """Keepa refused the account (401 invalid key, 402 subscription lapsed, 403 forbidden).
    Not the books' fault: work waits (and the operator is told) instead of failing every item
    of every queued batch within minutes."""


ACCOUNT_STATUSES = frozenset({401, 402, 403})
# A product with its full history and 1,210 offers is 2.5 MB of JSON (the recorded sample): a
# request's answer may be this much per product asked for, and no more.
MAX_RESPONSE_BYTES_PER_PRODUCT = 8 * 1024 * 1024


class ResponseTooLarge(Exception):
    """Keepa's (decompressed) answer exceeded what the request can legitimately return."""


OnTokens = Callable[[TokenStatus], Awaitable[None]]
Sleep = Callable[[float], Awaitable[None]]


def _as_int(value: object) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def token_status(envelope: dict[str, Any]) -> TokenStatus:
    return TokenStatus(
        tokens_left=_as_int(envelope.get("tokensLeft")),
        refill_in_ms=_as_int(envelope.get("refillIn")),
        refill_rate=_as_int(envelope.get("refillRate")),
        tokens_consumed=_as_int(envelope.get("tokensConsumed")),
        timestamp_ms=_as_int(envelope.get("timestamp")),
    )


def _dedupe(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(item.strip().upper() for item in items))


def _error_reason(envelope: dict[str, Any] | None, fallback: str) -> str:
    error = envelope.get("error") if envelope else None
    if isinstance(error, dict):
        parts = [str(error[k]) for k in ("type", "message") if error.get(k)]
        if parts:
            return redact(": ".join(parts))
    return fallback


class KeepaClient:
    MAX_ASINS_PER_REQUEST = 100
    MAX_ASINS_WITH_OFFERS = 20

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = "https://api.keepa.com",
        domain: int = 1,
        stats_days: int | None = 180,
        history: bool = True,
        offers: int = 0,
        only_live_offers: bool = False,
        buybox: bool = False,
        rating: bool = False,
        update: int | None = None,
        days: int | None = None,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 60.0,  # offers requests take Keepa up to ~20 s
        max_connections: int = 10,
        max_retries: int = 3,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 30.0,
        max_token_wait_s: float = 3600.0,
        max_response_bytes_per_product: int = MAX_RESPONSE_BYTES_PER_PRODUCT,
        on_tokens: OnTokens | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("api_key is required")
        if offers and not 20 <= offers <= 100:
            raise ValueError("offers must be 0 (none) or 20..100, as Keepa requires")
        self._key = api_key
        self._params: dict[str, str] = {"domain": str(domain), "history": "1" if history else "0"}
        optional = {
            "stats": stats_days,
            "offers": offers or None,
            "only-live-offers": 1 if only_live_offers and offers else None,
            "buybox": 1 if buybox else None,
            "rating": 1 if rating else None,
            "update": update,
            "days": days,
        }
        self._params |= {k: str(v) for k, v in optional.items() if v is not None}
        self._offers, self._buybox, self._rating, self._update = offers, buybox, rating, update
        self._max_retries = max_retries
        self._backoff_base_s, self._backoff_cap_s = backoff_base_s, backoff_cap_s
        self._max_token_wait_s = max_token_wait_s
        self._max_bytes_per_product = max_response_bytes_per_product
        self._on_tokens = on_tokens
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.last_tokens: TokenStatus | None = None
        _protect_httpx_logs()
        self._http = httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(read_timeout_s, connect=connect_timeout_s),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            headers={"Accept-Encoding": "gzip"},
            transport=transport,
        )

    def __repr__(self) -> str:  # never show the key
        return f"KeepaClient(base_url={str(self._http.base_url)!r}, params={self._params!r})"

    async def __aenter__(self) -> KeepaClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    def tokens_per_product(self) -> int:
        """Upper bound of what one product costs with the configured parameters."""
        pages = math.ceil(self._offers / OFFER_PAGE_SIZE)
        cost = OFFER_PAGE_COST * pages if self._offers else 1
        cost += BUYBOX_COST if self._buybox else 0
        cost += RATING_COST if self._rating else 0
        cost += LIVE_UPDATE_COST if self._update == 0 else 0
        return cost

    def max_batch_size(self) -> int:
        return self.MAX_ASINS_WITH_OFFERS if self._offers else self.MAX_ASINS_PER_REQUEST

    async def fetch_products(self, asins: Sequence[str]) -> KeepaProductsResponse:
        """One request for these ASINs (deduplicated, order kept); products in request order."""
        return await self._lookup("asin", _dedupe(asins), _ASIN_RE)

    async def lookup_codes(self, codes: Sequence[str]) -> KeepaProductsResponse:
        """One request by EAN/UPC/ISBN-13; a code may match several products, or none."""
        return await self._lookup("code", _dedupe(codes), _CODE_RE)

    async def _lookup(
        self, field: str, items: list[str], pattern: re.Pattern[str]
    ) -> KeepaProductsResponse:
        if not items:
            raise ValueError(f"no {field} given")
        limit = self.max_batch_size()
        if len(items) > limit:
            raise ValueError(f"{len(items)} items exceed the batch limit of {limit}")
        invalid = [item for item in items if not pattern.match(item)]
        if invalid:  # never spend tokens on identifiers Keepa cannot resolve
            raise ValueError(f"invalid {field}: {invalid[0]!r}")
        params = {**self._params, field: ",".join(items)}
        return await self._request(
            params,
            needed=self.tokens_per_product() * len(items),
            max_bytes=self._max_bytes_per_product * len(items),
        )

    async def _request(
        self, params: dict[str, str], *, needed: int, max_bytes: int
    ) -> KeepaProductsResponse:
        query = {"key": self._key, **params}
        failures = 0
        waited_for_tokens_s = 0.0
        while True:
            try:
                response, body = await self._get_capped(query, max_bytes)
            except (httpx.TransportError, httpx.DecodingError, ResponseTooLarge) as exc:
                # timeouts, refused/reset connections, a gzip body cut off on the way, a body
                # (decompressed) larger than any answer for these products can be
                reason = f"{type(exc).__name__}: {redact(str(exc)) or 'no detail'}"
                failures = await self._back_off(failures, reason)
                continue
            envelope = _decode(body)
            tokens = token_status(envelope) if envelope and "tokensLeft" in envelope else None
            if tokens is not None:
                await self._record(tokens)
            status = response.status_code
            if status == 200 and envelope and isinstance(envelope.get("products"), list):
                return KeepaProductsResponse(envelope["products"], tokens or token_status(envelope))
            if status == 429:
                wait_s = self._token_wait_s(tokens, needed)
                if waited_for_tokens_s + wait_s > self._max_token_wait_s:
                    raise KeepaUnavailable("token wait exceeded")
                waited_for_tokens_s += wait_s
                log.info("keepa: not enough tokens, waiting %.2f s for the refill", wait_s)
                await self._sleep(wait_s)
                continue
            if status >= 500 or (status == 200 and not (envelope and "error" in envelope)):
                # 5xx, or a 200 whose body is not an envelope (cut off): both are transient.
                failures = await self._back_off(failures, _error_reason(envelope, f"HTTP {status}"))
                continue
            reason = _error_reason(envelope, response.reason_phrase)
            if status in ACCOUNT_STATUSES:
                log.error(
                    "keepa: the account was refused (HTTP %d: %s); work waits", status, reason
                )
                raise KeepaAccountError(status, reason)
            raise KeepaRequestRejected(status, reason)

    async def _get_capped(
        self, query: dict[str, str], max_bytes: int
    ) -> tuple[httpx.Response, bytes]:
        """GET /product, reading the decompressed body up to `max_bytes`: a server (or a
        gzip bomb on the way) cannot make this process hold more than that."""
        async with self._http.stream("GET", "/product", params=query) as response:
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise ResponseTooLarge(f"answer larger than {max_bytes} bytes")
                chunks.append(chunk)
        return response, b"".join(chunks)

    async def _record(self, tokens: TokenStatus) -> None:
        self.last_tokens = tokens
        if self._on_tokens is None:
            return
        try:
            await self._on_tokens(tokens)
        except Exception:  # the products are paid for; a failing observer must not lose them
            log.exception("keepa: on_tokens callback failed")

    async def _back_off(self, failures: int, reason: str) -> int:
        failures += 1
        if failures > self._max_retries:
            raise KeepaUnavailable(f"{reason} (gave up after {failures} attempts)")
        ceiling = min(self._backoff_cap_s, self._backoff_base_s * 2 ** (failures - 1))
        delay = self._rng.uniform(0, ceiling)  # full jitter spreads out instances failing together
        log.warning("keepa: %s; retry %d/%d in %.2f s", reason, failures, self._max_retries, delay)
        await self._sleep(delay)
        return failures

    def _token_wait_s(self, tokens: TokenStatus | None, needed: int) -> float:
        """Sleep until the bucket should hold `needed` tokens: the first arrives in refillIn,
        the rest at refillRate per minute. Waiting once for the whole deficit avoids re-asking
        (and being refused) once per token."""
        if tokens is None:
            wait_ms = 60_000.0  # no envelope to go by: Keepa refills once a minute
        else:
            per_token_ms = 60_000 / tokens.refill_rate if tokens.refill_rate > 0 else 60_000.0
            first_ms = tokens.refill_in_ms if tokens.refill_in_ms > 0 else per_token_ms
            deficit = max(1, needed - tokens.tokens_left)
            wait_ms = first_ms + (deficit - 1) * per_token_ms
        wait_ms += _TOKEN_WAIT_FLOOR_MS + self._rng.uniform(0, min(1000.0, wait_ms / 10))
        return wait_ms / 1000


def _decode(content: bytes) -> dict[str, Any] | None:
    try:
        body = json.loads(content)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None

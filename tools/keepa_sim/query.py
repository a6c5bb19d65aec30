"""Parsing and validating the parameters of `GET /product`, with Keepa's limits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from keepa_sim.codes import is_asin, is_code, normalize_asin

MAX_ITEMS = 100  # ASINs or codes per request
MAX_ITEMS_WITH_OFFERS = 20
OFFERS_MIN, OFFERS_MAX = 20, 100  # Keepa accepts offers=20..100
VALID_DOMAINS = frozenset({1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12})


class QueryError(Exception):
    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message


@dataclass(frozen=True)
class ProductQuery:
    domain: int
    asins: tuple[str, ...]  # as requested (normalised), duplicates included
    codes: tuple[str, ...]
    stats_days: int | None
    history: bool
    offers: int
    only_live_offers: bool
    update: int | None
    buybox: bool
    rating: bool
    days: int | None
    code_limit: int | None

    @property
    def items(self) -> tuple[str, ...]:
        return self.asins or self.codes


def _int(params: Mapping[str, str], name: str, default: int | None = None) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise QueryError(400, "invalidParameter", f"{name} must be an integer") from None


def _flag(params: Mapping[str, str], name: str, default: bool = False) -> bool:
    value = _int(params, name)
    return default if value is None else value == 1


def _stats_days(raw: str | None) -> int | None:
    """`stats` is a day count, or a `start,end` range (dates or epoch ms); ranges count as days."""
    if raw is None or raw in ("", "0"):
        return None
    if raw.isdigit():
        return int(raw)
    parts = raw.split(",")
    if len(parts) == 2 and all(p.strip().isdigit() for p in parts):
        span_ms = abs(int(parts[1]) - int(parts[0]))
        return max(1, span_ms // 86_400_000)
    if len(parts) == 2:
        return 180  # ISO dates: the interval only affects avg/atIntervalStart, keep it simple
    raise QueryError(400, "invalidParameter", "stats must be a number of days or a range")


def _split(raw: str | None) -> tuple[str, ...]:
    if not raw:
        return ()
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def parse_product_query(params: Mapping[str, str]) -> ProductQuery:
    domain = _int(params, "domain")
    if domain is None or domain not in VALID_DOMAINS:
        raise QueryError(400, "invalidDomain", "domain must be a valid Amazon locale id")
    asins = tuple(normalize_asin(a) for a in _split(params.get("asin")))
    codes = _split(params.get("code"))
    if bool(asins) == bool(codes):
        raise QueryError(400, "invalidParameter", "exactly one of asin or code is required")
    offers = _int(params, "offers", 0) or 0
    if offers and not OFFERS_MIN <= offers <= OFFERS_MAX:
        raise QueryError(400, "invalidParameter", f"offers must be {OFFERS_MIN} to {OFFERS_MAX}")
    limit = MAX_ITEMS_WITH_OFFERS if offers else MAX_ITEMS
    items = asins or codes
    if len(items) > limit:
        suffix = " with offers" if offers else ""
        raise QueryError(400, "tooManyItems", f"at most {limit} items per request{suffix}")
    bad = [a for a in asins if not is_asin(a)] + [c for c in codes if not is_code(c)]
    if bad:
        raise QueryError(400, "invalidParameter", f"invalid product identifier: {bad[0]}")
    days = _int(params, "days")
    return ProductQuery(
        domain=domain,
        asins=asins,
        codes=codes,
        stats_days=_stats_days(params.get("stats")),
        history=_flag(params, "history", default=True),
        offers=offers,
        only_live_offers=_flag(params, "only-live-offers"),
        update=_int(params, "update"),
        buybox=_flag(params, "buybox"),
        rating=_flag(params, "rating"),
        days=days if days and days > 0 else None,
        code_limit=_int(params, "code-limit"),
    )

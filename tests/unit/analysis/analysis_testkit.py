"""Helpers shared by the analysis engine tests (a plain module, no conftest)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from analysis_service.domain import ItemToAnalyse, PackageSize, SellerCosts
from keepa_sim import default_samples_dir


def samples_dir() -> Path:
    """The recorded Keepa responses, found where the simulator finds them (one setting)."""
    return default_samples_dir()


def sample_files() -> list[str]:
    return sorted(p.name for p in samples_dir().glob("*.json"))


@cache
def load_product(name: str) -> dict[str, Any]:
    """The product object of a sample: ``products[0]`` of an envelope, else the file itself."""
    path = samples_dir() / name
    data: dict[str, Any] = json.loads(path.read_text())
    if "products" in data:
        products: list[dict[str, Any]] = data["products"]
        return products[0]
    return data


def product_copy(name: str) -> dict[str, Any]:
    """A deep copy, for tests that remove or alter parts of a sample."""
    copied: dict[str, Any] = json.loads(json.dumps(load_product(name)))
    return copied


NO_COSTS = SellerCosts(Decimal(0), Decimal(0), Decimal(0))
TYPICAL_COSTS = SellerCosts(Decimal("0.50"), Decimal("0.25"), Decimal(0))
AS_OF_2026_05 = datetime(2026, 5, 1, tzinfo=UTC)


def item(asin: str, buy_cost: str, condition: str = "used") -> ItemToAnalyse:
    return ItemToAnalyse(
        identifier=asin, asin=asin, buy_cost=Decimal(buy_cost), condition=condition
    )


def small(oz: str) -> PackageSize:
    """Small-standard dimensions (8 x 5 x 0.5 in) at a given unit weight in ounces."""
    return PackageSize(Decimal(8), Decimal(5), Decimal("0.5"), Decimal(oz) / 16)


def large(lb: str) -> PackageSize:
    """Large standard by thickness (6 x 4 x 1 in, dimensional weight 0.17 lb)."""
    return PackageSize(Decimal(6), Decimal(4), Decimal(1), Decimal(lb))

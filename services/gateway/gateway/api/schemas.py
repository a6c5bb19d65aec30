"""Request bodies of the public API. Unknown fields are rejected; every error names its field."""

from __future__ import annotations

import math
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    field_validator,
)

from av_shared.events import StrategyName
from av_shared.identifiers import InvalidIdentifier, parse_identifier

MAX_BUY_COST = 10_000.0
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ItemIn(Strict):
    identifier: str = Field(
        max_length=40, description="ISBN-10, ISBN-13 (978/979) or ASIN; spaces and hyphens ok",
        examples=["0593655036"])
    buy_cost: float = Field(ge=0, le=MAX_BUY_COST, description="What one copy costs you, in USD",
                            examples=[2.5])
    condition: Literal["new", "used"] | None = Field(
        None, description="Default: your config's batch_defaults.condition ('used' at first)")

    @field_validator("identifier")
    @classmethod
    def _valid_identifier(cls, value: str) -> str:
        try:
            return parse_identifier(value).normalized
        except InvalidIdentifier as exc:
            raise ValueError(exc.reason) from None

    @field_validator("buy_cost")
    @classmethod
    def _cents(cls, value: float) -> float:
        if not math.isfinite(value) or abs(round(value, 2) - value) > 1e-9:
            raise ValueError("must be an amount in dollars with at most 2 decimal places")
        return round(value, 2)

    def cost(self) -> Decimal:
        return Decimal(f"{self.buy_cost:.2f}")


class StrategyOverride(Strict):
    """A batch's own thresholds; unset fields come from the named strategy (or your config)."""

    name: StrategyName | None = None
    min_roi_percent: float | None = Field(None, ge=0, le=10_000)
    min_profit: float | None = Field(None, ge=0, le=100_000)
    min_velocity_score: int | None = Field(None, ge=0, le=100)
    max_sales_rank: int | None = Field(None, ge=1, le=100_000_000)
    max_competing_fba_offers: int | None = Field(None, ge=0, le=10_000)


class BatchIn(Strict):
    name: Name
    items: list[ItemIn] = Field(min_length=1, description="1 to 100,000 lines (a setting)")
    strategy: StrategyName | StrategyOverride | None = None


class StatusChangeIn(Strict):
    status: Literal["CANCELLED"] = Field(description="The only change a seller can ask for")


class InstantAnalysisIn(ItemIn):
    strategy: StrategyName | StrategyOverride | None = None


# -- business config ------------------------------------------------------------------------------
def _as_float(value: Decimal) -> float:
    return float(value)


AsFloat = PlainSerializer(_as_float, return_type=float, when_used="json")
Money = Annotated[Decimal, Field(ge=0, le=100_000, max_digits=9, decimal_places=2), AsFloat]
Percent = Annotated[Decimal, Field(ge=0, le=10_000, max_digits=9, decimal_places=2), AsFloat]


class StrategyIn(Strict):
    """Thresholds that decide BUY/WATCH/PASS. Fields left out come from the named preset;
    `null` for a maximum means no limit."""

    name: StrategyName = "balanced"
    min_roi_percent: Percent | None = None
    min_profit: Money | None = None
    min_velocity_score: int | None = Field(None, ge=0, le=100)
    max_sales_rank: int | None = Field(None, ge=1, le=100_000_000)
    max_competing_fba_offers: int | None = Field(None, ge=0, le=10_000)


class SellerCostsIn(Strict):
    """What selling one copy costs you besides Amazon's fees."""

    inbound_shipping_per_lb: Annotated[Money, Field(le=1_000)] = Decimal("0.50")
    prep_per_unit: Annotated[Money, Field(le=1_000)] = Decimal("0.35")
    sales_tax_percent: Annotated[
        Decimal, Field(ge=0, le=100, max_digits=6, decimal_places=3), AsFloat] = Decimal("0")


class BatchDefaults(Strict):
    """Applied to the lines of a new batch (and instant analyses) that do not say otherwise."""

    condition: Literal["new", "used"] = "used"


class BusinessConfigIn(Strict):
    strategy: StrategyIn = Field(default_factory=StrategyIn)
    seller_costs: SellerCostsIn = Field(default_factory=SellerCostsIn)
    batch_defaults: BatchDefaults = Field(default_factory=BatchDefaults)


class StrategyOut(BaseModel):
    name: StrategyName
    min_roi_percent: Annotated[Decimal, AsFloat]
    min_profit: Annotated[Decimal, AsFloat]
    min_velocity_score: int
    max_sales_rank: int | None
    max_competing_fba_offers: int | None


class SellerCostsOut(BaseModel):
    inbound_shipping_per_lb: Annotated[Decimal, AsFloat]
    prep_per_unit: Annotated[Decimal, AsFloat]
    sales_tax_percent: Annotated[Decimal, AsFloat]


class BusinessConfigOut(BaseModel):
    version: int = Field(description="0: the defaults, never changed; each change adds one")
    created_at: datetime | None = Field(description="When this version was saved")
    strategy: StrategyOut
    seller_costs: SellerCostsOut
    batch_defaults: BatchDefaults

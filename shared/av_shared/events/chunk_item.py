from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Condition = Literal["new", "used"]


class ChunkItem(BaseModel):
    """One line of a seller's list: validated and normalised by the gateway."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    item_no: int = Field(ge=0)  # position in the submitted list, 0-based
    identifier: str  # normalised ISBN-10, ISBN-13 or ASIN
    asin: str | None  # None for a 979 ISBN-13: resolved through Keepa's code lookup
    buy_cost: Decimal = Field(ge=0, max_digits=9, decimal_places=2)
    condition: Condition = "used"
    quantity: int = Field(1, ge=1, le=10_000)  # copies the seller has of this line
    note: str | None = Field(None, max_length=500)  # the seller's own note, kept with the line

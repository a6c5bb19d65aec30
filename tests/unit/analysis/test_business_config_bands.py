"""The config API's rank bands, horizon and placement option (gateway.business_config,
api/schemas): set, read back, validated naming the field, and old documents kept as they were."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from av_shared.events import STRATEGY_PRESETS, BusinessConfigSnapshot
from av_shared.events.business_config import BALANCED_BANDS
from gateway.api.config import _out
from gateway.api.problems import ProblemError
from gateway.api.schemas import BusinessConfigIn, StrategyOverride
from gateway.business_config import (
    DEFAULT,
    ConfigDocument,
    ConfigVersion,
    apply_override,
    document_of,
)

BANDS: list[dict[str, Any]] = [
    {"up_to_rank": 200_000, "min_profit": 1.5, "min_roi_percent": 20},
    {"up_to_rank": None, "min_profit": 6, "min_roi_percent": 60, "sell_against": "lowest_fba"},
]


def test_the_defaults_are_the_presets_bands() -> None:
    assert DEFAULT.document.strategy.rank_bands == BALANCED_BANDS
    out = _out(DEFAULT).model_dump(mode="json")
    assert out["strategy"]["rank_bands"][0] == {
        "up_to_rank": 100_000, "min_profit": 2.0, "min_roi_percent": 25.0,
        "sell_against": "buy_box", "fba_offer_slot": 1,
    }  # fmt: skip
    assert out["strategy"]["sell_within_days"] == 180
    assert out["seller_costs"]["inbound_placement"] == "amazon_optimized"
    textbook = document_of(BusinessConfigIn.model_validate({"strategy": {"name": "textbook"}}))
    assert textbook.strategy.rank_bands == STRATEGY_PRESETS["textbook"].rank_bands


def test_bands_placement_and_horizon_are_set_and_read_back() -> None:
    doc = document_of(
        BusinessConfigIn.model_validate(
            {
                "strategy": {"rank_bands": BANDS, "sell_within_days": 90},
                "seller_costs": {"inbound_placement": "minimal_split"},
            }
        )
    )
    assert doc.strategy.rank_bands is not None
    assert [b.up_to_rank for b in doc.strategy.rank_bands] == [200_000, None]
    assert doc.strategy.rank_bands[1].sell_against == "lowest_fba"
    assert doc.strategy.sell_within_days == 90
    assert doc.seller_costs.inbound_placement == "minimal_split"
    out = _out(ConfigVersion(3, None, doc)).model_dump(mode="json")
    assert out["seller_costs"]["inbound_placement"] == "minimal_split"
    assert out["strategy"]["rank_bands"][1]["min_profit"] == 6.0
    # The snapshot a batch carries has them too.
    snapshot = ConfigVersion(3, None, doc).snapshot()
    assert snapshot.seller_costs.inbound_placement == "minimal_split"
    assert snapshot.strategy.rank_bands == doc.strategy.rank_bands


def test_one_threshold_without_bands_applies_at_every_rank() -> None:
    """min_profit or min_roi_percent without rank_bands: the preset's bands would override it,
    so they are dropped; `rank_bands: null` asks for none; bands given are kept."""
    single = document_of(BusinessConfigIn.model_validate({"strategy": {"min_profit": 4}}))
    assert single.strategy.rank_bands is None and single.strategy.min_profit == Decimal(4)
    none = document_of(BusinessConfigIn.model_validate({"strategy": {"rank_bands": None}}))
    assert none.strategy.rank_bands is None
    both = document_of(
        BusinessConfigIn.model_validate({"strategy": {"min_profit": 4, "rank_bands": BANDS}})
    )
    assert both.strategy.rank_bands is not None and len(both.strategy.rank_bands) == 2
    kept = document_of(BusinessConfigIn.model_validate({"strategy": {"max_sales_rank": None}}))
    assert kept.strategy.rank_bands == BALANCED_BANDS
    batch = apply_override(
        ConfigVersion(1, None, kept).snapshot(),
        StrategyOverride.model_validate({"min_roi_percent": 50}),
    )
    assert batch.strategy.rank_bands is None and batch.strategy.min_roi_percent == Decimal(50)


@pytest.mark.parametrize(
    ("bands", "field"),
    [
        ([{**BANDS[0], "min_profit": "2"}], ("strategy", "rank_bands", 0, "min_profit")),
        ([{**BANDS[0], "sell_against": "median"}], ("strategy", "rank_bands", 0, "sell_against")),
        ([{**BANDS[0], "up_to_rank": 0}], ("strategy", "rank_bands", 0, "up_to_rank")),
        ([], ("strategy", "rank_bands")),
    ],
)
def test_bad_bands_are_refused_naming_the_field(
    bands: list[dict[str, object]], field: tuple[object, ...]
) -> None:
    with pytest.raises(ValidationError) as error:
        BusinessConfigIn.model_validate({"strategy": {"rank_bands": bands}})
    assert error.value.errors()[0]["loc"] == field


def test_bands_out_of_order_are_a_422_naming_the_bands() -> None:
    body = BusinessConfigIn.model_validate({"strategy": {"rank_bands": [BANDS[1], BANDS[0]]}})
    with pytest.raises(ProblemError) as error:
        document_of(body)
    assert error.value.status == 422 and "rank_bands[0]" in str(error.value.detail)


def test_a_document_stored_before_bands_reads_and_decides_as_before() -> None:
    stored = ConfigDocument().model_dump(mode="json")
    for name in ("rank_bands", "sell_within_days"):
        del stored["strategy"][name]
    del stored["seller_costs"]["inbound_placement"]
    doc = ConfigDocument.model_validate(stored)
    assert doc.strategy.rank_bands is None and doc.strategy.sell_within_days == 180
    assert doc.seller_costs.inbound_placement == "amazon_optimized"
    assert BusinessConfigSnapshot().strategy.rank_bands is None  # events without them, too

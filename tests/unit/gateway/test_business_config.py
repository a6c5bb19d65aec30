"""The gateway's pure rules: config documents, strategy overrides, tokens and API keys."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from pydantic import ValidationError

from av_shared.events import STRATEGY_PRESETS, BusinessConfigSnapshot
from gateway.api.config import _out
from gateway.api.schemas import BusinessConfigIn, StrategyOverride
from gateway.business_config import ConfigDocument, ConfigVersion, apply_override, document_of
from gateway.security import (
    create_access_token,
    decode_access_token,
    is_api_key,
    new_api_key,
    new_refresh_token,
    token_digest,
    verify_password,
)


def test_unset_thresholds_come_from_the_named_preset() -> None:
    doc = document_of(
        BusinessConfigIn.model_validate(
            {"strategy": {"name": "textbook", "min_profit": 4.5, "max_sales_rank": None}}
        )
    )
    textbook = STRATEGY_PRESETS["textbook"]
    assert doc.strategy.name == "textbook" and doc.strategy.min_profit == Decimal("4.5")
    assert doc.strategy.min_roi_percent == textbook.min_roi_percent
    assert doc.strategy.max_sales_rank is None  # null maximum: no limit
    assert doc.strategy.max_competing_fba_offers == textbook.max_competing_fba_offers


def test_a_null_minimum_keeps_the_preset() -> None:
    doc = document_of(BusinessConfigIn.model_validate({"strategy": {"min_roi_percent": None}}))
    assert doc.strategy.min_roi_percent == STRATEGY_PRESETS["balanced"].min_roi_percent
    base = BusinessConfigSnapshot()
    kept = apply_override(
        base, StrategyOverride.model_validate({"min_profit": None, "max_sales_rank": None})
    )
    assert kept.strategy.min_profit == base.strategy.min_profit
    assert kept.strategy.max_sales_rank is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"strategy": {"min_roi_percent": -1}}, ("strategy", "min_roi_percent")),
        ({"strategy": {"min_velocity_score": 101}}, ("strategy", "min_velocity_score")),
        ({"seller_costs": {"prep_per_unit": 0.001}}, ("seller_costs", "prep_per_unit")),
        (
            {"seller_costs": {"inbound_shipping_per_lb": 1001}},
            ("seller_costs", "inbound_shipping_per_lb"),
        ),
        ({"seller_costs": {"sales_tax_percent": -0.5}}, ("seller_costs", "sales_tax_percent")),
        ({"colour": "red"}, ("colour",)),
    ],
)
def test_nonsense_is_rejected_naming_the_field(
    body: dict[str, object], field: tuple[str, ...]
) -> None:
    with pytest.raises(ValidationError) as error:
        BusinessConfigIn.model_validate(body)
    assert error.value.errors()[0]["loc"] == field


def test_the_amazon_buy_box_limit_is_set_read_back_and_validated() -> None:
    """PUT /config takes max_amazon_buy_box_percent (0-100, null: no limit), GET returns it."""
    assert document_of(BusinessConfigIn()).strategy.max_amazon_buy_box_percent == 50
    doc = document_of(
        BusinessConfigIn.model_validate(
            {"strategy": {"name": "textbook", "max_amazon_buy_box_percent": 80}}
        )
    )
    assert doc.strategy.max_amazon_buy_box_percent == 80
    assert doc.strategy.min_profit == STRATEGY_PRESETS["textbook"].min_profit
    out = _out(ConfigVersion(2, None, doc)).model_dump(mode="json")
    assert out["strategy"]["max_amazon_buy_box_percent"] == 80
    off = document_of(
        BusinessConfigIn.model_validate({"strategy": {"max_amazon_buy_box_percent": None}})
    )
    assert off.strategy.max_amazon_buy_box_percent is None  # a maximum: null means no limit
    batch = apply_override(
        BusinessConfigSnapshot(),
        StrategyOverride.model_validate({"max_amazon_buy_box_percent": 30}),
    )
    assert batch.strategy.max_amazon_buy_box_percent == 30
    for bad in (-1, 101, 50.5, "50", True):
        with pytest.raises(ValidationError) as error:
            BusinessConfigIn.model_validate({"strategy": {"max_amazon_buy_box_percent": bad}})
        assert error.value.errors()[0]["loc"][:2] == ("strategy", "max_amazon_buy_box_percent")


def test_a_document_stored_before_the_amazon_buy_box_limit_reads_with_the_default() -> None:
    stored = ConfigDocument().model_dump(mode="json")
    del stored["strategy"]["max_amazon_buy_box_percent"]
    doc = ConfigDocument.model_validate(stored)
    assert doc.strategy.max_amazon_buy_box_percent == 50
    assert _out(ConfigVersion(1, None, doc)).strategy.max_amazon_buy_box_percent == 50


def test_the_snapshot_carries_the_version_and_the_override_changes_only_the_batch() -> None:
    doc = document_of(
        BusinessConfigIn.model_validate(
            {"strategy": {"min_roi_percent": 12.5}, "seller_costs": {"prep_per_unit": 1.25}}
        )
    )
    version = ConfigVersion(7, None, doc)
    snapshot = version.snapshot()
    assert snapshot.config_version == 7 and snapshot.seller_costs.prep_per_unit == Decimal("1.25")
    batch = apply_override(snapshot, "velocity")
    assert batch.strategy == STRATEGY_PRESETS["velocity"] and batch.config_version == 7
    assert batch.seller_costs == snapshot.seller_costs
    assert version.snapshot().strategy.min_roi_percent == Decimal("12.5")


def test_tokens_and_keys() -> None:
    secret = "x" * 40
    user, login = uuid.uuid4(), uuid.uuid4()
    claims = decode_access_token(create_access_token(user, "user", secret, 5, login), secret)
    assert claims is not None and claims["sub"] == str(user) and claims["sid"] == str(login)
    other_secret = "y" * 40
    assert (
        decode_access_token(create_access_token(user, "user", secret, 5, login), other_secret)
        is None
    )
    key, refresh = new_api_key(), new_refresh_token()
    assert is_api_key(key) and not is_api_key(refresh) and len(key) > 40
    assert token_digest(key) == token_digest(key) != token_digest(new_api_key())
    assert verify_password(None, "anything") is False

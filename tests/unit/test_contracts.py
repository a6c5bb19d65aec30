"""Event contracts: round trips, strictness, versions, keys; the batch state machine; chunking."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, get_args

import pytest
from pydantic import ValidationError

from analysis_service.application import seller_costs_of, strategy_of
from analysis_service.domain import STRATEGY_PRESETS as DOMAIN_PRESETS
from analysis_service.domain import InboundPlacement
from av_shared.events import (
    STRATEGY_PRESETS,
    BatchCancelRequested,
    BatchChunkSubmitted,
    BusinessConfigSnapshot,
    ChunkItem,
    parse_event,
    serialize_event,
)
from av_shared.events.business_config import InboundPlacementName
from batch_service.domain.progress import BatchProgress, can_cancel, status_after_progress
from gateway.domain.submission import build_submission, chunk_count


def _items(n: int) -> list[ChunkItem]:
    return [
        ChunkItem(item_no=i, identifier="0593655036", asin="0593655036", buy_cost=Decimal("1.00"))
        for i in range(n)
    ]


def test_every_event_round_trips_through_its_wire_form() -> None:
    events = build_submission(
        batch_id=uuid.uuid4(),
        owner_id=uuid.uuid4(),
        name="n",
        items=_items(250),
        config=BusinessConfigSnapshot(),
        chunk_size=100,
        submitted_at=datetime.now(UTC),
        correlation_id="c",
    )
    for event in (events.header, *events.chunks):
        assert parse_event(serialize_event(event)) == event


def test_unknown_schema_version_and_unknown_fields_are_rejected() -> None:
    event = BatchCancelRequested(batch_id=uuid.uuid4(), owner_id=uuid.uuid4(), correlation_id="c")
    wire = event.model_dump(mode="json")
    with pytest.raises(ValidationError):
        parse_event(serialize_event(event).replace(b'"schema_version":1', b'"schema_version":2'))
    with pytest.raises(ValidationError):
        parse_event(str({**wire, "surprise": 1}).replace("'", '"'))
    with pytest.raises(ValidationError):
        parse_event(b"\x00not json")


@pytest.mark.parametrize(("items", "chunks"), [(1, 1), (100, 1), (101, 2), (250, 3), (10_000, 100)])
def test_batches_split_into_chunks_of_at_most_100(items: int, chunks: int) -> None:
    assert chunk_count(items, 100) == chunks
    built = build_submission(
        batch_id=uuid.uuid4(),
        owner_id=uuid.uuid4(),
        name="n",
        items=_items(items),
        config=BusinessConfigSnapshot(),
        chunk_size=100,
        submitted_at=datetime.now(UTC),
        correlation_id="c",
    )
    assert [len(c.items) for c in built.chunks][-1] == items - 100 * (chunks - 1)
    assert sum(len(c.items) for c in built.chunks) == built.header.items_total == items
    assert len({c.partition_key() for c in built.chunks}) == chunks  # spread over partitions


def test_chunk_holds_at_most_100_items() -> None:
    with pytest.raises(ValidationError):
        BatchChunkSubmitted(
            batch_id=uuid.uuid4(),
            owner_id=uuid.uuid4(),
            chunk_no=0,
            chunk_count=1,
            items=tuple(_items(101)),
            config=BusinessConfigSnapshot(),
            correlation_id="c",
        )


def _progress(**kw: object) -> BatchProgress:
    base: dict[str, object] = dict(
        status="PROCESSING",
        header_received=True,
        chunk_count=3,
        chunks_done=1,
        items_total=300,
        items_processed=100,
        items_failed=0,
    )
    return BatchProgress(**(base | kw))  # type: ignore[arg-type]


def test_batch_completes_when_every_chunk_reported() -> None:
    assert status_after_progress(_progress()) == "PROCESSING"
    assert status_after_progress(_progress(chunks_done=3)) == "COMPLETED"
    assert (
        status_after_progress(_progress(chunks_done=3, items_processed=0, items_failed=300))
        == "FAILED"
    )


def test_completion_before_header_waits_and_terminal_never_changes() -> None:
    assert (
        status_after_progress(
            _progress(status="PENDING", header_received=False, chunk_count=0, chunks_done=1)
        )
        == "PENDING"
    )
    assert status_after_progress(_progress(status="CANCELLED", chunks_done=3)) == "CANCELLED"
    assert not can_cancel("COMPLETED") and not can_cancel("CANCELLED") and can_cancel("PENDING")


def test_shared_strategy_presets_match_the_engine() -> None:
    for name, preset in DOMAIN_PRESETS.items():
        shared = STRATEGY_PRESETS[name]
        # Every field of the engine's strategy, so a threshold added to one side is checked too.
        names = [f.name for f in dataclasses.fields(preset)]
        # rank_bands: pydantic models on one side, dataclasses on the other; compared as dicts.
        values = shared.model_dump()
        assert {n: values[n] for n in names} == dataclasses.asdict(preset)
        assert strategy_of(BusinessConfigSnapshot(strategy=shared)) == preset


def test_configs_serialized_before_the_amazon_buy_box_limit_still_parse() -> None:
    """A snapshot stored or in flight before engine 2026.12.4 has no max_amazon_buy_box_percent:
    it parses with the 50% default, which reaches the engine; null (no limit) and 0-100 parse,
    other values are refused."""
    old: dict[str, Any] = {
        "config_version": 3,
        "strategy": {
            "name": "velocity",
            "min_roi_percent": "20",
            "min_profit": "2.00",
            "min_velocity_score": 60,
            "max_sales_rank": 200000,
            "max_competing_fba_offers": 25,
        },
    }
    config = BusinessConfigSnapshot.model_validate(old)
    assert config.strategy.max_amazon_buy_box_percent == 50
    assert strategy_of(config).max_amazon_buy_box_percent == 50
    for limit in (None, 0, 100):
        changed = BusinessConfigSnapshot.model_validate(
            {**old, "strategy": {**old["strategy"], "max_amazon_buy_box_percent": limit}}
        )
        assert BusinessConfigSnapshot.model_validate_json(changed.model_dump_json()) == changed
        assert strategy_of(changed).max_amazon_buy_box_percent == limit
    for bad in (-1, 101):
        with pytest.raises(ValidationError):
            BusinessConfigSnapshot.model_validate(
                {**old, "strategy": {**old["strategy"], "max_amazon_buy_box_percent": bad}}
            )


def test_configs_serialized_before_the_placement_option_still_parse() -> None:
    """A snapshot stored or in flight before engine 2026.12.3 has no inbound_placement: it parses,
    with the free Amazon-optimized default; the new options parse; others are refused."""
    old: dict[str, Any] = {
        "config_version": 4,
        "strategy": {"name": "textbook"},
        "seller_costs": {
            "inbound_shipping_per_lb": "0.50",
            "prep_per_unit": "0.35",
            "sales_tax_percent": "0",
        },
    }
    assert BusinessConfigSnapshot.model_validate(old).seller_costs.inbound_placement == (
        "amazon_optimized"
    )
    for option in ("amazon_optimized", "minimal_split", "partial_split"):
        config = BusinessConfigSnapshot.model_validate(
            {**old, "seller_costs": {**old["seller_costs"], "inbound_placement": option}}
        )
        assert BusinessConfigSnapshot.model_validate_json(config.model_dump_json()) == config
        assert seller_costs_of(config).inbound_placement == InboundPlacement(option)
    with pytest.raises(ValidationError):
        BusinessConfigSnapshot.model_validate(
            {**old, "seller_costs": {**old["seller_costs"], "inbound_placement": "one_location"}}
        )


def test_shared_placement_options_match_the_engine() -> None:
    assert set(get_args(InboundPlacementName)) == {o.value for o in InboundPlacement}

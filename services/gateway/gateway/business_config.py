"""A seller's business config: every version kept, the latest snapshotted into each new batch.

A batch (or instant analysis) carries the snapshot in its events, so later config changes never
alter its results.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import func, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from av_shared.events import (
    STRATEGY_PRESETS,
    BusinessConfigSnapshot,
    SellerCosts,
    StrategyName,
    StrategyThresholds,
)

from .api.problems import ProblemError, field_path
from .api.schemas import BatchDefaults, BusinessConfigIn, StrategyOverride
from .db.tables import business_configs, users

T = TypeVar("T")


class ConfigDocument(BaseModel):
    """One stored version (the JSONB `document`): thresholds resolved, nothing left to a preset."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Never changed: the balanced preset, rank bands included. A stored document always has its
    # strategy; one saved before rank bands parses without them and decides as it did.
    strategy: StrategyThresholds = Field(default_factory=lambda: STRATEGY_PRESETS["balanced"])
    seller_costs: SellerCosts = Field(default_factory=SellerCosts)
    batch_defaults: BatchDefaults = Field(default_factory=BatchDefaults)


@dataclass(frozen=True)
class ConfigVersion:
    version: int  # 0: never changed, the defaults
    created_at: datetime | None
    document: ConfigDocument

    def snapshot(self) -> BusinessConfigSnapshot:
        return BusinessConfigSnapshot(
            config_version=self.version,
            strategy=self.document.strategy,
            seller_costs=self.document.seller_costs,
        )


DEFAULT = ConfigVersion(0, None, ConfigDocument())


def document_of(body: BusinessConfigIn) -> ConfigDocument:
    preset = STRATEGY_PRESETS[body.strategy.name]
    changes = _changes(body.strategy.model_dump(exclude_unset=True, exclude={"name"}))
    return _validated(
        lambda: ConfigDocument.model_validate(
            {
                "strategy": {**preset.model_dump(), "name": body.strategy.name, **changes},
                "seller_costs": body.seller_costs.model_dump(),
                "batch_defaults": body.batch_defaults.model_dump(),
            }
        )
    )


def _version_of(row: Any) -> ConfigVersion:
    return ConfigVersion(row.version, row.created_at, ConfigDocument.model_validate(row.document))


async def latest(session: AsyncSession, user_id: UUID) -> ConfigVersion:
    row = (
        await session.execute(
            select(business_configs)
            .where(business_configs.c.user_id == user_id)
            .order_by(business_configs.c.version.desc())
            .limit(1)
        )
    ).first()
    return DEFAULT if row is None else _version_of(row)


async def save(
    session: AsyncSession,
    user_id: UUID,
    document: ConfigDocument,
    expected_version: int | None = None,
) -> ConfigVersion | None:
    """Store `document` as the next version (the caller commits). None when `expected_version`
    is given and is not the latest any more (someone changed the config meanwhile)."""
    # The account row lock orders concurrent changes of one seller, on any gateway instance.
    await session.execute(select(users.c.id).where(users.c.id == user_id).with_for_update())
    current = await session.scalar(
        select(func.coalesce(func.max(business_configs.c.version), 0)).where(
            business_configs.c.user_id == user_id
        )
    )
    if expected_version is not None and expected_version != current:
        return None
    row = (
        await session.execute(
            business_configs.insert()
            .values(
                user_id=user_id,
                version=(current or 0) + 1,
                document=document.model_dump(mode="json"),
            )
            .returning(business_configs)
        )
    ).one()
    return _version_of(row)


async def history(
    session: AsyncSession, user_id: UUID, offset: int, limit: int, before: int | None = None
) -> tuple[list[ConfigVersion], int]:
    """Newest first from the primary key (user_id, version); `before`: older versions only.
    The total is the seller's versions (one seller's rows of the primary key)."""
    older = true() if before is None else business_configs.c.version < before
    total = await session.scalar(
        select(func.count())
        .select_from(business_configs)
        .where(business_configs.c.user_id == user_id)
    )
    rows = (
        await session.execute(
            select(business_configs)
            .where(business_configs.c.user_id == user_id, older)
            .order_by(business_configs.c.version.desc())
            .offset(offset)
            .limit(limit)
        )
    ).all()
    return [_version_of(r) for r in rows], total or 0


def apply_override(
    base: BusinessConfigSnapshot, override: StrategyName | StrategyOverride | None
) -> BusinessConfigSnapshot:
    """A named strategy replaces the thresholds; explicit fields then replace single values.

    Built with model_validate, never model_copy(update=...): the snapshot travels in events,
    and a value its contract refuses would be refused by every consumer (dead-lettered)."""
    if override is None:
        return base
    if isinstance(override, str):
        strategy = STRATEGY_PRESETS[override].model_dump()
    else:
        start = STRATEGY_PRESETS[override.name] if override.name else base.strategy
        changes = _changes(override.model_dump(exclude_unset=True, exclude={"name"}))
        strategy = {**start.model_dump(), **changes}
    return _validated(
        lambda: BusinessConfigSnapshot.model_validate({**base.model_dump(), "strategy": strategy})
    )


def _validated(build: Callable[[], T]) -> T:
    """A value the contracts refuse is the seller's input error (422 naming the field), not a
    500, and never an event that its consumers cannot read."""
    try:
        return build()
    except ValidationError as exc:
        errors = [{"field": field_path(e["loc"]), "message": e["msg"]} for e in exc.errors()]
        raise ProblemError(
            422,
            "validation",
            "Request validation failed",
            f"{errors[0]['field']}: {errors[0]['message']}",
            errors=errors,
        ) from None


def _changes(given: dict[str, Any]) -> dict[str, Any]:
    """The thresholds a request sets. Rank bands replace min_profit/min_roi_percent, so a
    request that sets either without bands means that threshold at every rank: the bands it
    would inherit are dropped. `rank_bands: null` asks for no bands."""
    changes = _without_null_minimums(given)
    asked_none = "rank_bands" in given and given["rank_bands"] is None
    single = "rank_bands" not in given and bool({"min_profit", "min_roi_percent"} & changes.keys())
    if asked_none or single:
        changes["rank_bands"] = None
    return changes


def _without_null_minimums(changes: dict[str, Any]) -> dict[str, Any]:
    """`null` for a minimum keeps the base value; `null` for a maximum means no limit."""
    return {k: v for k, v in changes.items() if v is not None or k.startswith("max_")}

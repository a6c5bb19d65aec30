"""A seller's business config: every version kept, the latest snapshotted into each new batch.

A batch (or instant analysis) carries the snapshot in its events, so later config changes never
alter its results.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from av_shared.events import (
    STRATEGY_PRESETS,
    BusinessConfigSnapshot,
    SellerCosts,
    StrategyName,
    StrategyThresholds,
)

from .api.schemas import BatchDefaults, BusinessConfigIn, StrategyOverride
from .db.tables import business_configs, users


class ConfigDocument(BaseModel):
    """One stored version (the JSONB `document`): thresholds resolved, nothing left to a preset."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    strategy: StrategyThresholds = Field(default_factory=StrategyThresholds)
    seller_costs: SellerCosts = Field(default_factory=SellerCosts)
    batch_defaults: BatchDefaults = Field(default_factory=BatchDefaults)


@dataclass(frozen=True)
class ConfigVersion:
    version: int  # 0: never changed, the defaults
    created_at: datetime | None
    document: ConfigDocument

    def snapshot(self) -> BusinessConfigSnapshot:
        return BusinessConfigSnapshot(config_version=self.version,
                                      strategy=self.document.strategy,
                                      seller_costs=self.document.seller_costs)


DEFAULT = ConfigVersion(0, None, ConfigDocument())


def document_of(body: BusinessConfigIn) -> ConfigDocument:
    preset = STRATEGY_PRESETS[body.strategy.name]
    changes = _without_null_minimums(
        body.strategy.model_dump(exclude_unset=True, exclude={"name"}))
    strategy = StrategyThresholds.model_validate(
        {**preset.model_dump(), "name": body.strategy.name, **changes})
    return ConfigDocument(strategy=strategy,
                          seller_costs=SellerCosts(**body.seller_costs.model_dump()),
                          batch_defaults=body.batch_defaults)


def _version_of(row: Any) -> ConfigVersion:
    return ConfigVersion(row.version, row.created_at, ConfigDocument.model_validate(row.document))


async def latest(session: AsyncSession, user_id: UUID) -> ConfigVersion:
    row = (await session.execute(
        select(business_configs).where(business_configs.c.user_id == user_id)
        .order_by(business_configs.c.version.desc()).limit(1))).first()
    return DEFAULT if row is None else _version_of(row)


async def save(session: AsyncSession, user_id: UUID, document: ConfigDocument,
               expected_version: int | None = None) -> ConfigVersion | None:
    """Store `document` as the next version (the caller commits). None when `expected_version`
    is given and is not the latest any more (someone changed the config meanwhile)."""
    # The account row lock orders concurrent changes of one seller, on any gateway instance.
    await session.execute(select(users.c.id).where(users.c.id == user_id).with_for_update())
    current = await session.scalar(select(func.coalesce(func.max(business_configs.c.version), 0))
                                   .where(business_configs.c.user_id == user_id))
    if expected_version is not None and expected_version != current:
        return None
    row = (await session.execute(business_configs.insert().values(
        user_id=user_id, version=(current or 0) + 1, document=document.model_dump(mode="json"),
    ).returning(business_configs))).one()
    return _version_of(row)


async def history(session: AsyncSession, user_id: UUID, offset: int,
                  limit: int) -> tuple[list[ConfigVersion], int]:
    total = await session.scalar(select(func.count()).select_from(business_configs)
                                 .where(business_configs.c.user_id == user_id))
    rows = (await session.execute(
        select(business_configs).where(business_configs.c.user_id == user_id)
        .order_by(business_configs.c.version.desc()).offset(offset).limit(limit))).all()
    return [_version_of(r) for r in rows], total or 0


def apply_override(
    base: BusinessConfigSnapshot, override: StrategyName | StrategyOverride | None
) -> BusinessConfigSnapshot:
    """A named strategy replaces the thresholds; explicit fields then replace single values."""
    if override is None:
        return base
    if isinstance(override, str):
        return base.model_copy(update={"strategy": STRATEGY_PRESETS[override]})
    strategy = STRATEGY_PRESETS[override.name] if override.name else base.strategy
    changes = _without_null_minimums(override.model_dump(exclude_unset=True, exclude={"name"}))
    for money in ("min_roi_percent", "min_profit"):
        if money in changes:
            changes[money] = Decimal(str(changes[money]))
    return base.model_copy(update={"strategy": strategy.model_copy(update=changes)})


def _without_null_minimums(changes: dict[str, Any]) -> dict[str, Any]:
    """`null` for a minimum keeps the base value; `null` for a maximum means no limit."""
    return {k: v for k, v in changes.items() if v is not None or k.startswith("max_")}

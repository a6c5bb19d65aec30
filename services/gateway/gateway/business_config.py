"""The config snapshot a batch or an instant analysis is analysed with."""

from __future__ import annotations

from decimal import Decimal

from av_shared.events import STRATEGY_PRESETS, BusinessConfigSnapshot, StrategyName

from .api.schemas import StrategyOverride


def apply_override(
    base: BusinessConfigSnapshot, override: StrategyName | StrategyOverride | None
) -> BusinessConfigSnapshot:
    """A named strategy replaces the thresholds; explicit fields then replace single values."""
    if override is None:
        return base
    if isinstance(override, str):
        return base.model_copy(update={"strategy": STRATEGY_PRESETS[override]})
    strategy = STRATEGY_PRESETS[override.name] if override.name else base.strategy
    changes = override.model_dump(exclude_unset=True, exclude={"name"})
    for money in ("min_roi_percent", "min_profit"):
        if changes.get(money) is not None:
            changes[money] = Decimal(str(changes[money]))
    return base.model_copy(update={"strategy": strategy.model_copy(update=changes)})

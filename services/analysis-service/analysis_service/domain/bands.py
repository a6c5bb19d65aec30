"""Which rank band's thresholds apply to a book, as ScoutIQ's triggers: sellers want less margin
from a book that sells daily than from one that sells twice a year.

The band is the first whose ``up_to_rank`` is at least the book's current sales rank. A rank
beyond every band (the last one bounded) fails ``rank_band`` (at most WATCH) and is judged by the
last band. An unknown rank is judged by the last band too, the slowest sellers' and strictest
thresholds, and ``rank_band`` is not checked (``max_sales_rank`` already says the rank is
unknown). A strategy without bands has one, its own min_profit/min_roi_percent at every rank
against the buy box: the thresholds of engines before 2026.12.5.
"""

from __future__ import annotations

from dataclasses import dataclass

from .analysis import RuleCheck
from .strategy import RankBand, Strategy

_PRICE_NAMES = {
    "buy_box": "the buy box",
    "lowest_fba": "the lowest FBA offer",
    "used_buy_box": "the used buy box",
}


@dataclass(frozen=True)
class AppliedBand:
    band: RankBand
    label: str  # "rank 100,001-500,000", named in every reason
    check: RuleCheck  # rule "rank_band"


def band_label(bands: tuple[RankBand, ...], index: int) -> str:
    band = bands[index]
    lower = bands[index - 1].up_to_rank if index else None
    if band.up_to_rank is None:
        return "all ranks" if lower is None else f"rank > {lower:,}"
    if lower is None:
        return f"rank <= {band.up_to_rank:,}"
    return f"rank {lower + 1:,}-{band.up_to_rank:,}"


def price_name(band: RankBand) -> str:
    if band.sell_against == "nth_lowest_fba":
        return f"FBA offer #{band.fba_offer_slot} from the lowest"
    return _PRICE_NAMES.get(band.sell_against, band.sell_against)


def bands_of(strategy: Strategy) -> tuple[RankBand, ...]:
    if strategy.rank_bands:
        return strategy.rank_bands
    return (RankBand(None, strategy.min_profit, strategy.min_roi_percent),)


def apply_band(strategy: Strategy, sales_rank: int | None) -> AppliedBand:
    bands = bands_of(strategy)
    last = len(bands) - 1
    index = next(
        (i for i, b in enumerate(bands) if sales_rank is not None and _holds(b, sales_rank)), None
    )
    found = last if index is None else index
    band, label = bands[found], band_label(bands, found)
    terms = (
        f"min profit ${band.min_profit:,.2f}, min ROI {band.min_roi_percent}%, "
        f"sold against {price_name(band)}"
    )
    threshold = f"a band: {', '.join(band_label(bands, i) for i in range(len(bands)))}"
    if sales_rank is None:
        message = f"Sales rank unknown: judged by the slowest band ({label}: {terms})."
        check = RuleCheck("rank_band", threshold, "unknown", None, message, label)
    elif index is None:
        message = (
            f"Sales rank {sales_rank:,} is beyond every band; judged by the last ({label}: "
            f"{terms})."
        )
        check = RuleCheck("rank_band", threshold, f"{sales_rank:,}", False, message, label)
    else:
        message = f"Sales rank {sales_rank:,}: band {label} ({terms})."
        check = RuleCheck("rank_band", threshold, f"{sales_rank:,}", True, message, label)
    return AppliedBand(band, label, check)


def _holds(band: RankBand, rank: int) -> bool:
    return band.up_to_rank is None or rank <= band.up_to_rank

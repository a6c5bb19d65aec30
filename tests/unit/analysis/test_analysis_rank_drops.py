"""Sales counted from the rank history csv[3] when a product has no stats (rank_drops.py).

Checked two ways: on the recorded products that have both, the counts made from csv[3] are
Keepa's own stats.salesRankDrops30/90/180; on synthetic slow and mid-list books with long noisy
histories, only the sales count, never the re-ranking noise around them.
"""

from __future__ import annotations

import itertools
import json
import random
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from analysis_testkit import AS_OF_2026_05, TYPICAL_COSTS, item, product_copy, samples_dir

from analysis_service.domain import analyse, parse_keepa_product, strategy_preset
from analysis_service.domain.rank_drops import MINUTES_PER_DAY, count_sales, is_sale

D = Decimal
ENVELOPE = "envelope-0593655036.json"
OFFERS = "product-0593655036-offers.json"
T = 7_500_000  # a Keepa minute (2025-04-05)
HOUR = 60


def keepa_minutes(moment: datetime) -> float:
    """README: unix_seconds = (keepa_minute + 21564000) * 60."""
    return moment.timestamp() / 60 - 21_564_000


def envelope_time(name: str) -> datetime | None:
    data: dict[str, Any] = json.loads((samples_dir() / name).read_text())
    stamp = data.get("timestamp")
    return None if stamp is None else datetime.fromtimestamp(stamp / 1000, UTC)


def stats_counts(product: dict[str, Any]) -> tuple[int, int, int]:
    stats = product["stats"]
    return stats["salesRankDrops30"], stats["salesRankDrops90"], stats["salesRankDrops180"]


def history_counts(product: dict[str, Any], as_of: datetime | None = None) -> tuple[Any, ...]:
    without_stats = {k: v for k, v in product.items() if k != "stats"}
    s = parse_keepa_product(without_stats, as_of=as_of)
    assert {s.sources[f"sales_rank_drops{d}"] for d in (30, 90, 180)} == {"csv"}
    return s.sales_rank_drops30, s.sales_rank_drops90, s.sales_rank_drops180


# --- agreement with Keepa on the recorded products ------------------------------------------


@pytest.mark.parametrize(
    ("name", "keepa"),
    [
        # stats.salesRankDrops30/90/180 of each recorded product with both stats and csv[3]
        (ENVELOPE, (46, 181, 417)),  # 4,011 rank points, ranks 8-138 over the last 180 days
        (OFFERS, (45, 169, 395)),  # 4,043 rank points, the same book 12 days later
    ],
)
def test_counts_from_the_history_are_keepas_on_the_recorded_products(
    name: str, keepa: tuple[int, int, int]
) -> None:
    product = product_copy(name)
    assert stats_counts(product) == keepa
    # Ending at the product's lastUpdate (7776156 / 7793516): the default.
    assert history_counts(product) == keepa
    # Ending when Keepa answered: the envelope's timestamp 1760409339280 ms = Keepa minute
    # 1760409339.28 / 60 - 21564000 = 7776155.65; the offers product came without an envelope.
    answered = envelope_time(name)
    if answered is not None:
        assert keepa_minutes(answered) == pytest.approx(7_776_155.65, abs=0.01)
        assert history_counts(product, as_of=answered) == keepa


@pytest.mark.parametrize(
    ("name", "keepa_365", "ours_365"),
    [
        # stats.salesRankDrops365; csv[3] starts at minute 6538698, before both windows' start
        # (7776156 - 365 x 1440 = 7250556; 7793516 - 525600 = 7267916), so the count is known.
        (ENVELOPE, 988, 985),
        (OFFERS, 955, 952),
    ],
)
def test_the_365_day_count_is_within_3_of_keepas(name: str, keepa_365: int, ours_365: int) -> None:
    """Not used by the engine (it reads 30/90/180 days), but the docstring states it: the
    same rule over 365 days stays within 3 of Keepa's count (0.3%)."""
    product = product_copy(name)
    assert product["stats"]["salesRankDrops365"] == keepa_365
    ranks = product["csv"][3]
    points = list(zip(ranks[::2], ranks[1::2], strict=True))
    ours = count_sales(points, end_minute=product["lastUpdate"], days=365)
    assert ours == ours_365
    assert ours is not None and abs(ours - keepa_365) <= 3


def test_the_recorded_counts_are_every_fall_of_at_least_one_percent() -> None:
    """What the agreement rests on: in the 180 days before lastUpdate 7793516 every fall of
    the bestseller's rank is at least 1.16% (86 -> 85), so all count, as Keepa counts them."""
    product = product_copy(OFFERS)
    ranks = product["csv"][3]
    end = product["lastUpdate"]
    start = end - 180 * MINUTES_PER_DAY
    window = [(t, r) for t, r in zip(ranks[::2], ranks[1::2], strict=True) if start < t < end]
    falls = [(a, b) for (_, a), (_, b) in itertools.pairwise(window) if b < a]
    smallest = min((a - b) / a for a, b in falls)
    assert smallest == pytest.approx(1 / 86)  # the 86 -> 85 fall
    assert len(falls) == 395 == product["stats"]["salesRankDrops180"]


def test_the_windows_end_before_the_update_minute() -> None:
    """The envelope's last rank point [7776156, 74] is stamped after the response (7776155.65)
    and Keepa's counts leave it out; a window ending later takes it in (75 -> 74 is a fall)."""
    product = product_copy(ENVELOPE)
    assert product["csv"][3][-4:] == [7775794, 75, 7776156, 74]
    later = datetime.fromtimestamp((7776157 + 21_564_000) * 60, UTC)
    assert history_counts(product, as_of=later) == (47, 182, 418)


# --- the threshold ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("previous", "rank", "sale"),
    [
        (75, 74, True),  # one place at rank 75 is 1.3%: a bestseller's rank moves by its sales
        (150, 149, False),  # 0.67%
        (150, 148, True),  # 1.33%
        (9_999, 9_899, True),  # 1.0%, the last rank of the 1% band
        (20_000, 19_500, False),  # 2.5% in the 5% band
        (20_000, 19_000, True),  # 5%
        (99_999, 94_999, True),  # 5.0%
        (100_000, 95_000, False),  # 5% in the 10% band
        (1_500_000, 1_480_000, False),  # re-ranking: 20,000 places, 1.3%
        (1_500_000, 1_350_000, True),  # 10%
        (1_500_000, 400_000, True),  # a slow book's sale
        (400_000, 400_000, False),
        (400_000, 500_000, False),
    ],
)
def test_which_falls_are_sales(previous: int, rank: int, sale: bool) -> None:
    assert is_sale(previous, rank) is sale


def points(*pairs: tuple[int, int]) -> list[tuple[int, int | None]]:
    return [(minute, rank) for minute, rank in pairs]


def test_no_rank_points_are_skipped_and_the_window_needs_its_start() -> None:
    day = MINUTES_PER_DAY
    history = points(
        (T, 900_000), (T + 10 * day, -1), (T + 20 * day, 300_000),  # a sale across "no rank"
        (T + 40 * day, 950_000), (T + 50 * day, 250_000),
    )  # fmt: skip
    end = T + 60 * day
    assert count_sales(history, end_minute=end, days=30) == 1  # day 50 (30..60)
    assert count_sales(history, end_minute=end, days=45) == 2  # days 20 and 50 (15..60)
    assert count_sales(history, end_minute=end, days=61) is None  # tracked for only 60 days
    # The fall into the window from the rank in force at its start (day 40's) counts.
    assert count_sales(history, end_minute=T + 50 * day + 1, days=1) == 1
    assert count_sales(history, end_minute=T + 50 * day, days=1) == 0  # the end is left out
    assert count_sales([], end_minute=end, days=30) is None


# --- synthetic books with long noisy histories ------------------------------------------------


def noisy_history(
    *, low: int, high: int, sale_every_hours: int, noise: float, days: int, seed: int
) -> tuple[list[tuple[int, int | None]], list[int]]:
    """Hourly ranks over ``days``: a steady climb from about ``low`` to ``high`` between sales,
    each point off that climb by up to ``noise`` either way (re-ranking: many tiny falls, never
    more than 2 x noise), and a sale every ``sale_every_hours`` (+-25%) that takes the rank
    back to about ``low``. Returns the history and the minutes of the sales."""
    rng = random.Random(seed)
    history: list[tuple[int, int | None]] = []
    sales: list[int] = []
    climb = (high / low) ** (1 / sale_every_hours)
    base = float(high)
    next_sale = rng.randint(1, sale_every_hours)
    for hour in range(days * 24):
        minute = T + hour * HOUR
        if hour == next_sale:
            # a sale: back to about low, at least 2% below the rank before it even after the
            # shortest climb ((high / low) ** 0.75 x 0.95 >= 1.09 x 1.05) and the noise
            base = low * rng.uniform(0.95, 1.05)
            sales.append(minute)
            next_sale = hour + round(sale_every_hours * rng.uniform(0.75, 1.25))
        else:
            base *= climb
        history.append((minute, round(base * (1 + rng.uniform(-noise, noise)))))
    return history, sales


def falls(history: list[tuple[int, int | None]], start: int, end: int) -> int:
    inside = [r for t, r in history if start < t < end and r is not None]
    return sum(1 for a, b in itertools.pairwise(inside) if b < a)


@pytest.mark.parametrize(
    ("kind", "low", "high", "sale_every_hours", "noise"),
    [
        # a slow book: about one sale a month, 400,000 -> 1,600,000 between them (0.19% an
        # hour), each hour's rank off by up to 2% (tens of thousands of places): falls of up
        # to 3.8%, under the 10% of its band
        ("slow", 400_000, 1_600_000, 24 * 30, 0.02),
        # a mid-list book: a sale every 2-3 days, 30,000 -> 45,000 (0.68% an hour), off by up
        # to 2%: falls of up to 3.3%, under the 5% of its band
        ("mid-list", 30_000, 45_000, 60, 0.02),
        # a steady seller: a sale a day, 4,000 -> 4,800 (0.76% an hour), off by up to 0.85%:
        # falls of up to 0.94%, under the 1% of its band
        ("steady", 4_000, 4_800, 24, 0.0085),
    ],
)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_only_the_sales_count_not_the_noise(
    kind: str, low: int, high: int, sale_every_hours: int, noise: float, seed: int
) -> None:
    history, sales = noisy_history(
        low=low, high=high, sale_every_hours=sale_every_hours, noise=noise, days=200, seed=seed
    )
    end = history[-1][0] + HOUR
    for days in (30, 90, 180):
        start = end - days * MINUTES_PER_DAY
        true_sales = sum(1 for minute in sales if start < minute < end)
        assert count_sales(history, end_minute=end, days=days) == true_sales, (kind, days)
        # The noise is there to be miscounted: counting every fall would count it too.
        assert falls(history, start, end) > true_sales + days, (kind, days, true_sales)


def test_a_slow_book_without_stats_gets_its_sales_from_its_history() -> None:
    """Engine 2026.12.1 read this book's sales off the rank curve; now its own drops count."""
    history, sales = noisy_history(
        low=400_000, high=1_600_000, sale_every_hours=24 * 30, noise=0.02, days=200, seed=7
    )
    end = history[-1][0] + HOUR
    product: dict[str, Any] = {
        "asin": "0593655036", "productType": 0, "productGroup": "Book", "rootCategory": 283155,
        "lastUpdate": end, "csv": [None] * 34,
    }  # fmt: skip
    product["csv"][2] = [end - HOUR, 2500]  # a used copy at $25.00
    product["csv"][3] = [v for point in history for v in point]
    market = parse_keepa_product(product)
    in_window = [sum(1 for m in sales if end - d * MINUTES_PER_DAY < m < end) for d in (30, 90)]
    assert (market.sales_rank_drops30, market.sales_rank_drops90) == tuple(in_window)
    a = analyse(item("0593655036", "2.00"), market, strategy_preset("balanced"), TYPICAL_COSTS,
                as_of=AS_OF_2026_05)  # fmt: skip
    # Fewer than 4 drops in 30 days: the 90-day count / 3.
    assert in_window[0] < 4
    assert a.estimated_monthly_sales == (D(in_window[1]) / 3).quantize(D("0.01"))
    assert a.sales_estimate_basis == "rank_history_drops90"


def test_the_offers_sample_without_stats_sells_as_keepa_counts() -> None:
    product = product_copy(OFFERS)
    del product["stats"]
    market = parse_keepa_product(product)
    a = analyse(item("0593655036", "5.00", "new"), market, strategy_preset("balanced"),
                TYPICAL_COSTS, as_of=AS_OF_2026_05)  # fmt: skip
    # 45 drops in the 30 days before lastUpdate 7793516, as stats.salesRankDrops30 says
    assert (a.estimated_monthly_sales, a.sales_estimate_basis) == (D(45), "rank_history_drops30")

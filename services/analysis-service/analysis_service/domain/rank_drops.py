"""Sales counted from a book's sales-rank history: each sharp fall in rank is taken as a sale.

Keepa makes these counts itself (``stats.salesRankDrops30/90/180``) when a product comes with
``stats``; without them the same counts are made here from the rank series ``csv[3]``
(``[keepa_minute, rank, ...]``, oldest first, -1 = no rank), by one rule for every window.

What counts as a sale: a rank at least ``sale_drop_percent(previous)`` per cent below the rank
recorded before it (the last known one: a -1 "no rank" point in between is skipped). A sale lifts
a book above everything that sold less recently, so its rank falls sharply; between sales the
rank drifts up, and Amazon's re-ranking of the books around it moves it by a few places, a
fraction of a per cent, either way. The share of its rank one sale takes off grows with the rank:
- below rank 10,000 a book sells several times a day and every fall in its rank is sales: a fall
  of 1% counts (at rank 75, one place). On the recorded bestseller (ranks 8-138) Keepa counts
  every fall, all at least 1.16%: this reproduces Keepa's 30/90/180-day counts exactly, and
  its 365-day count within 3 (985 against Keepa's 988, 952 against 955; the engine uses only
  the 30/90/180-day counts);
- from 10,000 to 100,000 a sale takes off tens of per cent: 5%;
- from 100,000 on, a sale takes a book from hundreds of thousands or millions to a fraction of
  that, while re-ranking moves it by thousands of places (still under a few per cent): 10%.
A fall from one band's rank into the next is judged by the band of the rank it fell from.

Comparing each point with the one before (not with the highest rank since the last sale) keeps
re-ranking noise from adding up: many tiny falls in a row never make a sale.

The window: the ``days`` before ``end`` (the time of Keepa's answer; the product's lastUpdate when
that is unknown), ``end`` itself left out: the recorded envelope's last rank point is stamped
7776156, the minute after its response time (7776155.65), and Keepa's counts leave it out. A
fall into the window from the rank in force at its start counts. A window the history does not
reach back to the start of is unknown (None): a listing tracked for a week is not a slow seller.
"""

from __future__ import annotations

from collections.abc import Sequence

MINUTES_PER_DAY = 24 * 60

# (ranks below this, per cent a rank must fall by to count as a sale); None: every rank above
SALE_DROP_PERCENT: tuple[tuple[int | None, int], ...] = (
    (10_000, 1),
    (100_000, 5),
    (None, 10),
)


def sale_drop_percent(previous_rank: int) -> int:
    for below, percent in SALE_DROP_PERCENT:
        if below is None or previous_rank < below:
            return percent
    raise AssertionError("SALE_DROP_PERCENT ends with an open band")  # pragma: no cover


def is_sale(previous_rank: int, rank: int) -> bool:
    """``rank`` at least the band's per cent below ``previous_rank`` (integers: no rounding)."""
    return 100 * rank <= previous_rank * (100 - sale_drop_percent(previous_rank))


def count_sales(
    points: Sequence[tuple[int, int | None]], *, end_minute: int, days: int
) -> int | None:
    """Sales in the ``days`` before ``end_minute`` (Keepa minutes); None when the history starts
    inside the window. ``points`` are (keepa_minute, rank) pairs, oldest first."""
    start = end_minute - days * MINUTES_PER_DAY
    if not points or points[0][0] > start:
        return None
    previous: int | None = None
    sales = 0
    for minute, rank in points:
        if minute >= end_minute:
            break
        if rank is None or rank <= 0:  # no rank at that time: compare with the last known one
            continue
        if minute > start and previous is not None and is_sale(previous, rank):
            sales += 1
        previous = rank
    return sales

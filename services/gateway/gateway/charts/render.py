"""A book's price and sales-rank chart, as sellers read Keepa's: price lines (left axis, USD),
the sales rank on a second axis (right), each sale (a rank drop) marked on the rank line, and the
time Amazon itself sold the book shaded.

Input: the history the analysis service answers (`/internal/books/{id}/history`). Every series
is a step line (a value holds until the next point, and the last one until `as_of`); no value
(no offer) is a gap. The SVG's elements carry ids (`series-new`, `series-sales_rank`,
`rank-drops`, `amazon-on-listing`...), so clients and tests can find each series.

Rendering is CPU work (~0.1-0.3 s): it runs in one dedicated thread, never on the event loop.
One thread, because matplotlib's font caches and rcParams are not made for concurrent use.
The Agg canvas is used directly (no pyplot, no global figure registry, no display).
"""

from __future__ import annotations

import asyncio
import io
import math
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from matplotlib import dates as mdates
from matplotlib import rc_context
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

ChartFormat = Literal["png", "svg"]
CHART_MEDIA_TYPES: Mapping[str, str] = {"png": "image/png", "svg": "image/svg+xml"}
PRICE_SERIES: Mapping[str, tuple[str, str]] = {  # name -> (label, colour), drawn in this order
    "amazon": ("Amazon", "#ff9900"),
    "new": ("New", "#1f4fd8"),
    "used": ("Used", "#444444"),
    "buy_box": ("Buy box", "#d6249f"),
}
RANK_LABEL, RANK_COLOR = "Sales rank", "#2e8b3a"
SALE_COLOR = "#c0392b"
AMAZON_SHADE = "#ff9900"
SIZE_INCHES, DPI = (10.0, 5.0), 100
DATE_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_RC: dict[Any, Any] = {
    "svg.fonttype": "none",  # text as text: smaller, searchable
    "svg.hashsalt": "arbitragevault",  # the same chart gives the same ids
    "font.size": 9,
    "date.epoch": "1970-01-01T00:00:00",  # DATE_EPOCH
}
_EXECUTOR = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chart")


async def render_chart(history: Mapping[str, Any], fmt: ChartFormat) -> bytes:
    """The chart as PNG or SVG bytes, rendered in the chart thread."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_EXECUTOR, _render, history, fmt)


def _render(history: Mapping[str, Any], fmt: ChartFormat) -> bytes:
    with rc_context(_RC):
        return figure_bytes(build_figure(history), fmt)


def figure_bytes(fig: Figure, fmt: ChartFormat) -> bytes:
    out = io.BytesIO()
    # No creation date in the file: the same history gives the same bytes (and ETag).
    metadata: dict[str, Any] = {"Date": None} if fmt == "svg" else {"Software": None}
    fig.savefig(out, format=fmt, dpi=DPI, metadata=metadata)
    return out.getvalue()


def build_figure(history: Mapping[str, Any]) -> Figure:
    # Fixed margins: a constrained layout measures every label in extra drawing passes.
    fig = Figure(figsize=SIZE_INCHES, dpi=DPI)
    fig.subplots_adjust(left=0.08, right=0.92, top=0.92, bottom=0.09)
    FigureCanvasAgg(fig)
    prices = fig.add_subplot()
    ranks = prices.twinx()
    end = _parse(history["as_of"])
    series: Mapping[str, Sequence[Mapping[str, Any]]] = history.get("series") or {}
    handles: list[Artist] = _shade_amazon(prices, history.get("amazon_on_listing") or [])
    for name, (label, colour) in PRICE_SERIES.items():
        if series.get(name):
            xs, ys = _steps(series[name], end)
            (line,) = prices.plot(
                xs, ys, drawstyle="steps-post", color=colour, lw=_width(name), label=label
            )
            line.set_gid(f"series-{name}")
            handles.append(line)
    if series.get("sales_rank"):
        xs, ys = _steps(series["sales_rank"], end)
        (line,) = ranks.plot(
            xs, ys, drawstyle="steps-post", color=RANK_COLOR, lw=1.0, alpha=0.8, label=RANK_LABEL
        )
        line.set_gid("series-sales_rank")
        handles.append(line)
    drops = history.get("rank_drops") or []
    if drops:
        # Markers of one line, not a scatter: one path drawn many times, far faster.
        (marks,) = ranks.plot(
            [_parse(d["time"]) for d in drops],
            [d["rank_after"] for d in drops],
            linestyle="none",
            marker="v",
            markersize=3.5,
            color=SALE_COLOR,
            zorder=5,
            label=f"Sales ({len(drops)})",
        )
        marks.set_gid("rank-drops")
        handles.append(marks)
    _decorate(fig, prices, ranks, history, handles)
    return fig


def _shade_amazon(ax: Axes, intervals: Sequence[Mapping[str, Any]]) -> list[Artist]:
    """The spans, behind the lines; the first one stands for all in the legend."""
    shaded: list[Artist] = []
    for n, span in enumerate(intervals):
        patch = ax.axvspan(
            _parse(span["start"]),
            _parse(span["end"]),
            color=AMAZON_SHADE,
            alpha=0.15,
            lw=0,
            label="Amazon on the listing" if n == 0 else None,
        )
        patch.set_gid(f"amazon-on-listing-{n}")
        shaded.append(patch)
    return shaded[:1]


def _decorate(
    fig: Figure, prices: Axes, ranks: Axes, history: Mapping[str, Any], handles: list[Artist]
) -> None:
    title = history.get("title") or history["asin"]
    days = history.get("days")
    fig.suptitle(f"{_short(title)} ({history['asin']})" + (f", last {days} days" if days else ""))
    prices.set_ylabel("Price (USD)")
    ranks.set_ylabel(RANK_LABEL, color=RANK_COLOR)
    ranks.tick_params(axis="y", colors=RANK_COLOR)
    prices.yaxis.set_major_formatter("${x:,.2f}")
    ranks.yaxis.set_major_formatter("{x:,.0f}")
    prices.xaxis_date(UTC)
    locator = mdates.AutoDateLocator(tz=UTC)  # type: ignore[no-untyped-call]
    prices.xaxis.set_major_locator(locator)
    prices.xaxis.set_major_formatter(
        mdates.ConciseDateFormatter(locator, tz=UTC)  # type: ignore[no-untyped-call]
    )
    prices.grid(True, alpha=0.25)
    if handles:
        prices.legend(handles=handles, loc="upper left", fontsize=8, framealpha=0.85)
    else:
        prices.text(0.5, 0.5, "no price or rank history", ha="center", transform=prices.transAxes)


def _width(name: str) -> float:
    """Amazon's line is drawn first and wide: where Amazon holds the buy box at its own price,
    it shows on both sides of the buy box line instead of vanishing under it."""
    return 3.2 if name == "amazon" else 1.6


def _steps(points: Sequence[Mapping[str, Any]], end: float) -> tuple[list[float], list[float]]:
    """The points, and the last value held until `end`; no value: NaN (a gap in the line)."""
    xs = [_parse(p["time"]) for p in points]
    ys = [math.nan if p["value"] is None else float(p["value"]) for p in points]
    if xs and xs[-1] < end:
        xs.append(end)
        ys.append(ys[-1])
    return xs, ys


def _parse(moment: str) -> float:
    """matplotlib's date number: days since its epoch (set in _RC)."""
    return (datetime.fromisoformat(moment) - DATE_EPOCH) / timedelta(days=1)


def _short(title: str, limit: int = 70) -> str:
    return title if len(title) <= limit else title[: limit - 1].rstrip() + "…"

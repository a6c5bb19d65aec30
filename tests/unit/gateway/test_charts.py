"""The book chart (gateway/charts): each series is drawn where its data says, in its colour.

The SVG is read as XML: every series is an element with its id and its own stroke colour, the
sales are one marker each, Amazon's time on the listing is a shaded span. The PNG is decoded
(Pillow) and the new-price line's colour is found at the pixel where its known value lies.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

from PIL import Image

from gateway.charts import build_figure, figure_bytes, render_chart
from gateway.charts.render import DATE_EPOCH, PRICE_SERIES, RANK_COLOR

SVG = "{http://www.w3.org/2000/svg}"
AS_OF = datetime(2026, 11, 30, tzinfo=UTC)
START = AS_OF - timedelta(days=60)


def at(days: float) -> str:
    return (START + timedelta(days=days)).isoformat()


def history() -> dict[str, Any]:
    return {
        "asin": "0593655036",
        "title": "The Anxious Generation",
        "as_of": AS_OF.isoformat(),
        "days": 60,
        "series": {
            "new": [{"time": at(0), "value": 15.0}],  # $15 the whole time
            "used": [{"time": at(d), "value": 8.0 + d / 10} for d in range(0, 60, 3)],
            "buy_box": [{"time": at(0), "value": 17.5}, {"time": at(30), "value": None}],
            "sales_rank": [{"time": at(d), "value": 20_000 + 500 * (d % 7)} for d in range(60)],
        },
        "rank_drops": [
            {"time": at(d), "rank_before": 23_000, "rank_after": 20_000} for d in (7, 14, 21)
        ],
        "amazon_on_listing": [{"start": at(10), "end": at(25)}],
    }


def by_id(svg: bytes) -> dict[str, ET.Element]:
    root = ET.fromstring(svg)
    return {e.attrib["id"]: e for e in root.iter() if "id" in e.attrib}


def stroke(group: ET.Element) -> str | None:
    for element in group.iter(f"{SVG}path"):
        found = re.search(r"stroke:\s*(#[0-9a-f]{6})", element.attrib.get("style", ""))
        if found:
            return found.group(1)
    return None


def test_svg_has_every_series_with_its_colour() -> None:
    elements = by_id(figure_bytes(build_figure(history()), "svg"))
    for name in ("new", "used", "buy_box"):
        assert stroke(elements[f"series-{name}"]) == PRICE_SERIES[name][1], name
    assert stroke(elements["series-sales_rank"]) == RANK_COLOR
    assert "series-amazon" not in elements  # no Amazon price in this history: no line
    # One marker per sale, one shaded span for Amazon's time on the listing.
    assert len(list(elements["rank-drops"].iter(f"{SVG}use"))) == 3
    assert "amazon-on-listing-0" in elements and "amazon-on-listing-1" not in elements


def test_used_line_has_a_vertex_per_step() -> None:
    elements = by_id(figure_bytes(build_figure(history()), "svg"))
    path = next(elements["series-used"].iter(f"{SVG}path"))
    vertices = re.findall(r"[ML]\s*[-\d.]+\s+[-\d.]+", path.attrib["d"])
    # 20 points drawn as steps (two vertices each) and the last value held until as_of.
    assert len(vertices) >= 2 * 20


def rgb_at(image: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    """The pixel's channels (an RGB image's pixel is a tuple)."""
    pixel = image.getpixel(xy)
    assert isinstance(pixel, tuple), pixel
    return pixel


def test_png_shows_the_new_price_line_where_its_value_is() -> None:
    fig = build_figure(history())
    prices = fig.axes[0]
    png = figure_bytes(fig, "png")  # draws the figure: the transforms are final now
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.size == (1000, 500)
    when = ((START + timedelta(days=45)) - DATE_EPOCH) / timedelta(days=1)
    x, y = prices.transData.transform((when, 15.0))
    px, py = round(x), round(image.height - y)
    colour = tuple(int(PRICE_SERIES["new"][1][i : i + 2], 16) for i in (1, 3, 5))
    near = [rgb_at(image, (px, py + dy)) for dy in range(-2, 3)]
    assert any(sum(abs(a - b) for a, b in zip(p, colour, strict=True)) < 60 for p in near), near
    # ...and not a few pixels above it, where nothing is drawn but the background.
    assert image.getpixel((px, py - 25)) != colour


async def test_rendered_off_the_loop_and_the_same_bytes_each_time() -> None:
    first = await render_chart(history(), "svg")
    again = await render_chart(history(), "svg")
    assert first == again  # a stable ETag means the same image
    png = await render_chart(history(), "png")
    assert Image.open(io.BytesIO(png)).format == "PNG"


def test_a_book_without_series_still_gets_a_chart() -> None:
    empty: dict[str, Any] = {
        "asin": "0593655036",
        "title": None,
        "as_of": AS_OF.isoformat(),
        "series": {},
    }
    svg = figure_bytes(build_figure(empty), "svg")
    assert b"no price or rank history" in svg

"""Charts of a book's history (matplotlib, Agg): see render.py."""

from .render import CHART_MEDIA_TYPES, ChartFormat, build_figure, figure_bytes, render_chart

__all__ = ["CHART_MEDIA_TYPES", "ChartFormat", "build_figure", "figure_bytes", "render_chart"]

"""What the commands print for people (scripts use `--json`)."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

VERDICT_STYLE = {"BUY": "bold green", "WATCH": "bold yellow", "PASS": "bold red"}
PASSED = {True: ("✓", "green"), False: ("✗", "red"), None: ("?", "yellow")}


def money(value: Any) -> str:
    return "—" if value is None else f"${value:,.2f}"


def percent(value: Any) -> str:
    return "—" if value is None else f"{value:,.1f}%"


def plain(value: Any) -> str:
    return "—" if value is None else f"{value:,}" if isinstance(value, int | float) else str(value)


def analysis(a: dict[str, Any]) -> Group:
    """A verdict a seller reads at a glance, then every rule that decided it."""
    verdict = str(a.get("recommendation") or "?")
    heading = Text.assemble(
        (f" {verdict} ", VERDICT_STYLE.get(verdict, "bold") + " reverse"),
        "  ",
        (a.get("title") or "(no title)", "bold"),
        f"  {a.get('identifier')}" + (f" / ASIN {a['asin']}" if a.get("asin") else ""),
    )
    figures = Table.grid(padding=(0, 2))
    figures.add_column(style="dim")
    figures.add_column(justify="right")
    figures.add_column(style="dim")
    figures.add_column(justify="right")
    fees = a.get("fees") or {}
    basis = f" ({a['price_basis']})" if a.get("price_basis") else ""
    rows = [
        ("buy cost", money(a.get("buy_cost")), "sells for", money(a.get("sell_price")) + basis),
        ("Amazon + your fees", money(fees.get("total")), "profit", money(a.get("profit"))),
        ("ROI", percent(a.get("roi_percent")), "margin", percent(a.get("margin_percent"))),
        ("sales rank", plain(a.get("sales_rank")), "velocity", plain(a.get("velocity_score"))),
        (
            "sales a month",
            plain(a.get("estimated_monthly_sales")),
            "days to sell",
            plain(a.get("expected_days_to_sell")),
        ),
        (
            "break-even cost",
            money(a.get("break_even_buy_cost")),
            "max cost for target ROI",
            money(a.get("max_buy_cost_for_target_roi")),
        ),
    ]
    for row in rows:
        figures.add_row(*row)
    parts: list[Any] = [heading, figures, reasons(a.get("reasons") or [])]
    if flags := a.get("risk_flags"):
        parts.append(Text("risks: " + ", ".join(map(str, flags)), style="yellow"))
    if summary := a.get("summary"):
        parts.append(Text(str(summary), style="italic"))
    return Group(*parts)


def reasons(checks: list[dict[str, Any]]) -> Table:
    table = Table(title="why", title_justify="left", show_edge=False, pad_edge=False)
    for column in ("", "rule", "needs", "actual", ""):
        table.add_column(column)
    for check in checks:
        mark, style = PASSED.get(check.get("passed"), PASSED[None])
        table.add_row(
            Text(mark, style=style),
            str(check.get("rule")),
            str(check.get("threshold")),
            str(check.get("actual")),
            str(check.get("message") or ""),
        )
    return table


def batch(b: dict[str, Any]) -> Panel:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim")
    grid.add_column()
    done = f"{b.get('items_processed', 0):,} of {b.get('items_total', 0):,} lines done"
    rows = [
        ("status", str(b.get("status"))),
        ("progress", f"{done}, {b.get('items_failed', 0):,} failed"),
        ("ETA", eta(b.get("eta_seconds"))),
        ("created", plain(b.get("created_at"))),
        ("started", plain(b.get("started_at"))),
        ("finished", plain(b.get("finished_at"))),
    ]
    if columns := b.get("columns"):
        rows.append(("columns", ", ".join(f"{k} = {v!r}" for k, v in columns.items())))
    for row in rows:
        grid.add_row(*row)
    return Panel(grid, title=f"{b.get('name')}  [dim]{b.get('id')}[/dim]", title_align="left")


def eta(seconds: Any) -> str:
    if seconds is None:
        return "—"
    minutes, secs = divmod(round(float(seconds)), 60)
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def flatten(document: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """`{"strategy": {"min_roi_percent": 30}}` → `{"strategy.min_roi_percent": 30}`."""
    flat: dict[str, Any] = {}
    for key, value in document.items():
        if isinstance(value, dict):
            flat |= flatten(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def config(document: dict[str, Any], console: Console) -> None:
    table = Table(
        title=f"config version {document.get('version')}", title_justify="left", show_edge=False
    )
    table.add_column("key")
    table.add_column("value")
    for key, value in flatten(document).items():
        if key not in ("version", "created_at"):
            table.add_row(key, "null" if value is None else str(value))
    console.print(table)

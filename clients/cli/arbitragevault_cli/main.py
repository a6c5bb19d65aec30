"""The `arbitragevault` commands. Each talks to one gateway (`--url` or ARBITRAGEVAULT_URL) with
the credentials stored for it by `login` (or ARBITRAGEVAULT_API_KEY)."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console

from . import render
from .api import DEFAULT_URL, CliError, Exit, Gateway
from .credentials import Credential, CredentialFileError, CredentialStore
from .uploads import content_type_of, save_stream
from .watch import watch

EXIT_CODES = (
    "Exit codes: 0 ok, 1 the API refused or failed, 2 usage, 3 not logged in / not allowed, "
    "4 not found, 5 conflict (changed meanwhile), 6 retry later (rate limit, quota, service "
    "down), 7 gateway unreachable, 8 the watched batch FAILED or was CANCELLED."
)

app = typer.Typer(
    name="arbitragevault",
    help=f"ArbitrageVault from a terminal: submit lists, watch them, read verdicts. {EXIT_CODES}",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
api_key_app = typer.Typer(help="API keys for scripts", no_args_is_help=True)
config_app = typer.Typer(help="Your strategy thresholds, seller costs and defaults")
app.add_typer(api_key_app, name="api-key")
app.add_typer(config_app, name="config")

out = Console(soft_wrap=True)
err = Console(stderr=True)
P = ParamSpec("P")
R = TypeVar("R")


class ExportFormat(StrEnum):
    csv = "csv"
    xlsx = "xlsx"
    inventorylab = "inventorylab"


def reported(command: Callable[P, R]) -> Callable[P, R]:
    """A CliError becomes its message on stderr and its exit code."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except CliError as failed:
            err.print(f"[red]error:[/red] {failed.message}", highlight=False)
            raise typer.Exit(int(failed.code)) from None
        except CredentialFileError as failed:
            err.print(f"[red]error:[/red] {failed}", highlight=False)
            raise typer.Exit(int(Exit.USAGE)) from None

    return run


@app.callback()
def main(
    ctx: typer.Context,
    url: Annotated[
        str, typer.Option(envvar="ARBITRAGEVAULT_URL", help="The gateway's base URL")
    ] = DEFAULT_URL,
) -> None:
    gateway = Gateway(url, CredentialStore())
    ctx.obj = gateway
    ctx.call_on_close(gateway.close)


def _json(value: Any) -> None:
    out.print_json(json.dumps(value))


AsJson = Annotated[bool, typer.Option("--json", help="Print the API's JSON answer")]


@app.command()
@reported
def login(
    ctx: typer.Context,
    email: Annotated[str, typer.Option(prompt=True, help="Your account's email")],
    password: Annotated[
        str | None, typer.Option(help="Asked for (hidden) when not given", show_default=False)
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input")
    ] = False,
) -> None:
    """Log in; the tokens are stored for this gateway (0600, in your config directory)."""
    gateway: Gateway = ctx.obj
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif password is None:
        password = typer.prompt("Password", hide_input=True)
    tokens = gateway.json(
        "POST", "/api/v1/auth/token", auth=False, data={"username": email, "password": password}
    )
    credential = Credential("token", tokens["access_token"], tokens["refresh_token"], email)
    gateway.store.put(gateway.url, credential)
    out.print(f"logged in to {gateway.url} as {email}", highlight=False)


@app.command()
@reported
def logout(ctx: typer.Context) -> None:
    """End this login on the gateway and forget its tokens here."""
    gateway: Gateway = ctx.obj
    stored = gateway.store.get(gateway.url)
    if stored is not None and stored.kind == "token":
        try:
            gateway.call("POST", "/api/v1/auth/logout")
        except CliError as failed:
            if failed.code != Exit.AUTH:  # an expired login is as good as ended
                raise
    gateway.store.remove(gateway.url)
    out.print(f"logged out of {gateway.url}", highlight=False)


@api_key_app.command("create")
@reported
def api_key_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="What the key is for, e.g. 'scanner sync'")],
    save: Annotated[
        bool, typer.Option("--save", help="Use this key from now on instead of the login")
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Create an API key; it is shown once (only its hash is kept)."""
    gateway: Gateway = ctx.obj
    created = gateway.json("POST", "/api/v1/api-keys", json={"name": name})
    if save:
        gateway.store.put(gateway.url, Credential("api_key", created["key"]))
    if as_json:
        _json(created)
        return
    out.print(created["key"], highlight=False, soft_wrap=True)
    err.print(
        f"API key {created['name']!r} ({created['id']}): shown only now; send it as X-API-Key"
        + (" (saved for this gateway)" if save else ""),
        highlight=False,
    )


@api_key_app.command("list")
@reported
def api_key_list(ctx: typer.Context, as_json: AsJson = False) -> None:
    """Your live API keys (their prefixes, never the keys)."""
    keys = ctx.obj.json("GET", "/api/v1/api-keys")
    if as_json:
        _json(keys)
        return
    for key in keys.get("items", keys) if isinstance(keys, dict) else keys:
        out.print(f"{key['id']}  {key['prefix']}…  {key['name']}", highlight=False)


@app.command()
@reported
def submit(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help=".csv, .tsv/.txt or .xlsx with a header row")],
    name: Annotated[str | None, typer.Option(help="The batch's name (default: file name)")] = None,
    sheet: Annotated[str | None, typer.Option(help="XLSX: the sheet (default: first)")] = None,
    watch_it: Annotated[
        bool, typer.Option("--watch", help="Show live progress until the batch ends")
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Submit a seller's file as it is; the gateway finds its columns by their headers."""
    gateway: Gateway = ctx.obj
    content_type = content_type_of(file)
    try:
        body = file.read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {file}: {exc.strerror}", Exit.USAGE) from None
    params = {"name": name or file.stem, **({"sheet": sheet} if sheet else {})}
    accepted = gateway.json(
        "POST",
        "/api/v1/batches",
        content=body,
        params=params,
        headers={"Content-Type": content_type},
    )
    if as_json and not watch_it:
        _json(accepted)
        return
    (err if as_json else out).print(render.batch(accepted))
    if watch_it:
        final = watch(gateway, accepted["id"], err if as_json else out)
        if as_json:
            _json(gateway.json("GET", f"/api/v1/batches/{accepted['id']}"))
        _end_of_watch(accepted["id"], final)


def _end_of_watch(batch_id: str, final: dict[str, Any]) -> None:
    status = final.get("status")
    line = (
        f"batch {batch_id} {status}: {final.get('items_processed', 0):,} lines done, "
        f"{final.get('items_failed', 0):,} failed"
    )
    if status != "COMPLETED":
        raise CliError(line, Exit.BATCH_FAILED)
    err.print(line, highlight=False)


@app.command()
@reported
def status(
    ctx: typer.Context,
    batch_id: Annotated[str, typer.Argument(metavar="ID", help="The batch's id")],
    as_json: AsJson = False,
) -> None:
    """A batch's status, progress and ETA."""
    found = ctx.obj.json("GET", f"/api/v1/batches/{batch_id}")
    if as_json:
        _json(found)
    else:
        out.print(render.batch(found))


@app.command()
@reported
def export(
    ctx: typer.Context,
    batch_id: Annotated[str, typer.Argument(metavar="ID", help="The batch's id")],
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="File to write ('-': standard output)"),
    ] = None,
    format: Annotated[ExportFormat, typer.Option("--format", "-f")] = ExportFormat.csv,
    recommendation: Annotated[
        str | None, typer.Option(help="Only BUY, WATCH or PASS lines")
    ] = None,
    min_roi: Annotated[
        float | None, typer.Option(help="Only lines with this ROI % or more")
    ] = None,
) -> None:
    """Download a batch's results: csv, xlsx, or an InventoryLab buy list."""
    params: dict[str, str] = {}
    if format is not ExportFormat.csv:  # csv is the default; older gateways know no `format`
        params["format"] = format.value
    if recommendation:
        params["recommendation"] = recommendation.upper()
    if min_roi is not None:
        params["min_roi"] = str(min_roi)
    target = output or Path(f"batch-{batch_id}.{'xlsx' if format is ExportFormat.xlsx else 'csv'}")
    with ctx.obj.stream("GET", f"/api/v1/batches/{batch_id}/export", params=params) as response:
        written = save_stream(response, None if str(target) == "-" else target)
    if str(target) != "-":
        err.print(f"wrote {target} ({written:,} bytes)", highlight=False)


@app.command()
@reported
def lookup(
    ctx: typer.Context,
    identifier: Annotated[str, typer.Argument(metavar="ISBN", help="ISBN-10/13 or ASIN")],
    cost: Annotated[str, typer.Option(help="What one copy costs you, USD (e.g. 3.50)")],
    condition: Annotated[str | None, typer.Option(help="new or used (default: config)")] = None,
    strategy: Annotated[
        str | None, typer.Option(help="balanced, textbook or velocity (default: config)")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Analyse one book now: BUY/WATCH/PASS with every rule that decided it."""
    try:
        buy_cost = Decimal(cost.strip().removeprefix("$"))
    except InvalidOperation:
        raise CliError(f"--cost {cost!r} is not an amount (e.g. 3.50)", Exit.USAGE) from None
    body: dict[str, Any] = {"identifier": identifier, "buy_cost": float(buy_cost)}
    if condition:
        body["condition"] = condition
    if strategy:
        body["strategy"] = strategy
    found = ctx.obj.json("POST", "/api/v1/analyses", json=body, timeout=180)
    if as_json:
        _json(found)
    else:
        out.print(render.analysis(found))


@config_app.command("show")
@reported
def config_show(ctx: typer.Context, as_json: AsJson = False) -> None:
    """Your current config (keys as `config set` takes them)."""
    found = ctx.obj.json("GET", "/api/v1/config")
    if as_json:
        _json(found)
    else:
        render.config(found, out)


# Unknown options are values here: `config set strategy.min_roi_percent -5` is not a flag.
@config_app.command("set", context_settings={"ignore_unknown_options": True})
@reported
def config_set(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="e.g. strategy.min_roi_percent (see config show)")],
    value: Annotated[str, typer.Argument(help="A number, text, or null (no limit)")],
) -> None:
    """Change one setting; saved as a new version (only if nobody changed it meanwhile)."""
    gateway: Gateway = ctx.obj
    current = gateway.call("GET", "/api/v1/config")
    document = current.json()
    updated = _with_setting(document, key, _parse_value(value))
    saved = gateway.json(
        "PUT", "/api/v1/config", json=updated, headers={"If-Match": current.headers["ETag"]}
    )
    shown = render.flatten(saved).get(key, value)
    out.print(f"{key} = {shown} (config version {saved['version']})", highlight=False)


def _with_setting(document: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    body = {k: v for k, v in document.items() if k not in ("version", "created_at")}
    keys = render.flatten(body)
    if key not in keys:
        known = ", ".join(keys)
        raise CliError(f"unknown setting {key!r}; the settings are: {known}", Exit.USAGE)
    if key == "strategy.name":  # a new preset brings its own thresholds
        body["strategy"] = {"name": value}
        return body
    section, _, field = key.partition(".")
    body[section] = {**body[section], field: value}
    return body


def _parse_value(text: str) -> Any:
    """Numbers as numbers, `null` as no limit, anything else as text."""
    try:
        return json.loads(text)
    except ValueError:
        return text

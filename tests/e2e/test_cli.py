"""`arbitragevault`, the command-line client, as a user runs it: the installed console script in
its own process, against a running stack, with its own config directory. What a script relies
on is asserted: exit codes, `--json` answers equal to the API's, files written, credentials
stored 0600 and used by the next command."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.stack import Stack
from tests.e2e.conftest import Seller
from tests.helpers import isbn10s, items_for

SAMPLE_BOOK = "0593655036"  # recorded Keepa product
EXECUTABLE = Path(sys.executable).parent / "arbitragevault"
EXIT_API, EXIT_USAGE, EXIT_AUTH, EXIT_NOT_FOUND, EXIT_UNREACHABLE, EXIT_BATCH_FAILED = (
    1,
    2,
    3,
    4,
    7,
    8,
)


@dataclass
class Ran:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        assert self.code == 0, self
        return json.loads(self.stdout)


@dataclass
class Cli:
    """One user's shell: a config directory of their own and the gateway's URL in the env."""

    home: Path
    url: str

    async def __call__(
        self, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
    ) -> Ran:
        # Not subprocess.run: the event loop keeps serving the stack's log pipes meanwhile.
        proc = await asyncio.create_subprocess_exec(
            str(EXECUTABLE),
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**self.environment(), **(env or {})},
        )
        out, err = await asyncio.wait_for(
            proc.communicate(stdin.encode() if stdin is not None else b""), timeout=240
        )
        assert proc.returncode is not None
        return Ran(proc.returncode, out.decode(), err.decode())

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ARBITRAGEVAULT_")}
        return env | {
            "XDG_CONFIG_HOME": str(self.home),
            "HOME": str(self.home),
            "ARBITRAGEVAULT_URL": self.url,
            "COLUMNS": "160",
        }

    @property
    def credentials(self) -> Path:
        return self.home / "arbitragevault" / "credentials.json"

    async def login(self, seller: Seller) -> None:
        assert seller.password is not None
        ran = await self(
            "login", "--email", seller.email, "--password-stdin", stdin=seller.password
        )
        assert ran.code == 0, ran
        assert seller.email in ran.stdout


@pytest.fixture
def cli(stack: Stack, tmp_path: Path) -> Cli:
    return Cli(tmp_path / "home", stack.gateway_url)


async def test_login_stores_private_credentials_the_next_commands_use(
    cli: Cli, seller: Seller
) -> None:
    not_yet = await cli("config", "show")
    assert not_yet.code == EXIT_AUTH and "not logged in" in not_yet.stderr

    wrong = await cli("login", "--email", seller.email, "--password-stdin", stdin="not it")
    assert wrong.code == EXIT_AUTH, wrong
    assert not cli.credentials.exists()

    await cli.login(seller)
    assert stat.S_IMODE(cli.credentials.stat().st_mode) == 0o600
    assert stat.S_IMODE(cli.credentials.parent.stat().st_mode) == 0o700
    stored = json.loads(cli.credentials.read_text())
    assert stored[cli.url]["email"] == seller.email

    shown = (await cli("config", "show", "--json")).json()
    assert shown == (await seller.get("/api/v1/config")).json()

    # A second gateway URL has its own (absent) login.
    elsewhere = await cli("--url", cli.url + "/", "config", "show")
    assert elsewhere.code == 0, elsewhere  # the same gateway, spelled with a slash
    assert (await cli("logout")).code == 0
    assert (await cli("config", "show")).code == EXIT_AUTH


async def test_an_expired_access_token_is_refreshed_once_and_stored(
    cli: Cli, seller: Seller
) -> None:
    await cli.login(seller)
    stored = json.loads(cli.credentials.read_text())
    stored[cli.url]["secret"] = "expired-or-garbage"
    cli.credentials.write_text(json.dumps(stored))
    shown = await cli("config", "show", "--json")
    assert shown.code == 0, shown
    renewed = json.loads(cli.credentials.read_text())[cli.url]
    assert renewed["secret"] != "expired-or-garbage"
    assert renewed["refresh_token"] != stored[cli.url]["refresh_token"]  # rotated


async def test_an_api_key_created_by_the_cli_works_for_scripts(
    cli: Cli, seller: Seller, tmp_path: Path
) -> None:
    await cli.login(seller)
    created = (await cli("api-key", "create", "scanner sync", "--json")).json()
    assert created["name"] == "scanner sync" and created["key"]
    listed = (await seller.get("/api/v1/api-keys")).json()
    assert created["id"] in json.dumps(listed)

    # Another machine: nothing stored, the key in the environment.
    script = Cli(tmp_path / "ci", cli.url)
    shown = await script("config", "show", "--json", env={"ARBITRAGEVAULT_API_KEY": created["key"]})
    assert shown.json()["version"] == (await seller.get("/api/v1/config")).json()["version"]
    refused = await script("config", "show", env={"ARBITRAGEVAULT_API_KEY": "av_not_a_key"})
    assert refused.code == EXIT_AUTH, refused

    # --save: the key replaces the login for this gateway.
    plain = await cli("api-key", "create", "saved key", "--save")
    assert plain.code == 0, plain
    key = plain.stdout.strip()
    assert json.loads(cli.credentials.read_text())[cli.url] == {
        "kind": "api_key",
        "secret": key,
        "refresh_token": None,
        "email": None,
    }
    assert (await cli("config", "show")).code == 0


async def test_lookup_prints_a_verdict_with_its_reasons(cli: Cli, seller: Seller) -> None:
    await cli.login(seller)
    found = (await cli("lookup", SAMPLE_BOOK, "--cost", "3.50", "--json")).json()
    assert (found["identifier"], found["buy_cost"]) == (SAMPLE_BOOK, 3.5)
    assert found["recommendation"] in ("BUY", "WATCH", "PASS")
    again = (await seller.get(f"/api/v1/analyses/{found['id']}")).json()
    assert again["recommendation"] == found["recommendation"]

    readable = await cli("lookup", SAMPLE_BOOK, "--cost", "$3.50")
    assert readable.code == 0, readable
    assert f" {found['recommendation']} " in readable.stdout
    assert found["title"][:30] in readable.stdout
    assert "$3.50" in readable.stdout
    for reason in found["reasons"]:
        assert reason["rule"] in readable.stdout

    bad = await cli("lookup", "0593655037", "--cost", "3.50")
    assert bad.code == EXIT_API
    assert "identifier" in bad.stderr and "check digit" in bad.stderr
    not_amount = await cli("lookup", SAMPLE_BOOK, "--cost", "cheap")
    assert not_amount.code == EXIT_USAGE and "--cost" in not_amount.stderr


async def test_status_and_csv_export_of_a_batch(cli: Cli, seller: Seller, tmp_path: Path) -> None:
    await cli.login(seller)
    lines = [{"identifier": SAMPLE_BOOK, "buy_cost": 3.5}, *items_for(isbn10s(4, seed=71))]
    batch = await seller.submit(lines, name="cli haul")
    await seller.wait_terminal(batch["id"])

    shown = (await cli("status", batch["id"], "--json")).json()
    assert shown == (await seller.get(f"/api/v1/batches/{batch['id']}")).json()
    readable = await cli("status", batch["id"])
    assert "COMPLETED" in readable.stdout and "5 of 5 lines done, 0 failed" in readable.stdout

    target = tmp_path / "out" / "haul.csv"
    target.parent.mkdir()
    exported = await cli("export", batch["id"], "-o", str(target))
    assert exported.code == 0, exported
    expected = (await seller.get(f"/api/v1/batches/{batch['id']}/export")).content
    assert target.read_bytes() == expected
    assert [p.name for p in target.parent.iterdir()] == ["haul.csv"]  # no temporary left
    to_stdout = await cli("export", batch["id"], "-o", "-")
    assert to_stdout.stdout.encode() == expected

    unknown = str(uuid.uuid4())
    missing = await cli("status", unknown)
    assert missing.code == EXIT_NOT_FOUND, missing
    assert (await cli("export", unknown, "-o", str(tmp_path / "x.csv"))).code == EXIT_NOT_FOUND
    assert not (tmp_path / "x.csv").exists()


async def test_config_set_saves_a_new_version_and_refuses_bad_values(
    cli: Cli, seller: Seller
) -> None:
    await cli.login(seller)
    before = (await seller.get("/api/v1/config")).json()
    changed = await cli("config", "set", "strategy.min_roi_percent", "42.5")
    assert changed.code == 0, changed
    assert "strategy.min_roi_percent = 42.5" in changed.stdout
    after = (await seller.get("/api/v1/config")).json()
    assert after["version"] == before["version"] + 1
    assert after["strategy"]["min_roi_percent"] == 42.5
    assert after["seller_costs"] == before["seller_costs"]  # the rest kept

    no_limit = await cli("config", "set", "strategy.max_sales_rank", "null")
    assert no_limit.code == 0, no_limit
    assert (await seller.get("/api/v1/config")).json()["strategy"]["max_sales_rank"] is None

    shown = await cli("config", "show")
    assert "strategy.min_roi_percent" in shown.stdout and "42.5" in shown.stdout

    unknown = await cli("config", "set", "strategy.min_happiness", "3")
    assert unknown.code == EXIT_USAGE and "strategy.min_roi_percent" in unknown.stderr
    negative = await cli("config", "set", "seller_costs.prep_per_unit", "-1")
    assert negative.code == EXIT_API and "prep_per_unit" in negative.stderr
    assert (await seller.get("/api/v1/config")).json()["version"] == after["version"] + 1


async def test_an_unreachable_gateway_is_its_own_exit_code(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    ran = await Cli(tmp_path, closed)(
        "status", str(uuid.uuid4()), env={"ARBITRAGEVAULT_API_KEY": "k"}
    )
    assert ran.code == EXIT_UNREACHABLE and "cannot reach" in ran.stderr
    usage = await Cli(tmp_path, closed)("export", "x", "--format", "pdf")
    assert usage.code == EXIT_USAGE


async def test_submit_a_csv_file_and_watch_it_to_the_end(
    cli: Cli, seller: Seller, tmp_path: Path
) -> None:
    await cli.login(seller)
    books = [SAMPLE_BOOK, *isbn10s(11, seed=72)]
    sheet = tmp_path / "yard sale.csv"
    # As Excel saves it in much of Europe: a BOM, semicolons, decimal commas.
    rows = ["ISBN;Cost/Unit;Condition", *[f"{b};2,50;used" for b in books]]
    sheet.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(rows).encode())

    watched = await cli("submit", str(sheet), "--watch")
    assert watched.code == 0, watched
    total = len(books)
    assert f"COMPLETED: {total} of {total} lines done, 0 failed" in watched.stdout
    assert "ISBN" in watched.stdout and "Cost/Unit" in watched.stdout  # the columns found
    newest = (await seller.get("/api/v1/batches", params={"size": 1})).json()["items"][0]
    assert (newest["name"], newest["status"], newest["items_total"]) == (
        "yard sale",
        "COMPLETED",
        total,
    )
    analyses = await seller.all_analyses(newest["id"])
    assert sorted(a["buy_cost"] for a in analyses) == [2.5] * total

    accepted = (await cli("submit", str(sheet), "--name", "again", "--json")).json()
    assert accepted["name"] == "again" and accepted["items_total"] == total
    assert accepted["columns"]["identifier"] == "ISBN"
    assert accepted["columns"]["cost"] == "Cost/Unit"


async def test_a_bad_file_is_refused_naming_row_and_column(
    cli: Cli, seller: Seller, tmp_path: Path
) -> None:
    await cli.login(seller)
    before = (await seller.get("/api/v1/batches")).json()["total"]
    bad = tmp_path / "haul.csv"
    bad.write_text(f"ISBN,Cost\n{SAMPLE_BOOK},3.50\n0593655037,2.00\n")
    refused = await cli("submit", str(bad))
    assert refused.code == EXIT_API, refused
    assert "row 3" in refused.stderr and "ISBN" in refused.stderr, refused.stderr
    assert (await seller.get("/api/v1/batches")).json()["total"] == before

    pdf = tmp_path / "haul.pdf"
    pdf.write_bytes(b"%PDF-1.4")
    unknown = await cli("submit", str(pdf))
    assert unknown.code == EXIT_USAGE and ".xlsx" in unknown.stderr
    absent = await cli("submit", str(tmp_path / "nowhere.csv"))
    assert absent.code == EXIT_USAGE and "nowhere.csv" in absent.stderr


async def test_xlsx_in_and_out_and_an_inventorylab_buy_list(
    cli: Cli, seller: Seller, tmp_path: Path
) -> None:
    from openpyxl import Workbook, load_workbook

    await cli.login(seller)
    books = [SAMPLE_BOOK, *isbn10s(5, seed=73)]
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["EAN", "Buy Cost"])
    for book in books:
        sheet.append([book, 1.25])
    source = tmp_path / "scanner.xlsx"
    workbook.save(source)

    accepted = (await cli("submit", str(source), "--json")).json()
    assert accepted["items_total"] == len(books)
    await seller.wait_terminal(accepted["id"])

    target = tmp_path / "results.xlsx"
    exported = await cli("export", accepted["id"], "--format", "xlsx", "-o", str(target))
    assert exported.code == 0, exported
    results = load_workbook(target, read_only=True).worksheets[0]
    table = [list(row) for row in results.iter_rows(values_only=True)]
    header = [str(c) for c in table[0]]
    assert len(table) == 1 + len(books)
    identifiers = [row[header.index("identifier")] for row in table[1:]]
    assert identifiers == books
    assert {row[header.index("buy_cost")] for row in table[1:]} == {1.25}

    buy_list = tmp_path / "buy.csv"
    listed = await cli("export", accepted["id"], "--format", "inventorylab", "-o", str(buy_list))
    assert listed.code == 0, listed
    expected = await seller.get(
        f"/api/v1/batches/{accepted['id']}/export", params={"format": "inventorylab"}
    )
    assert buy_list.read_bytes() == expected.content
    assert buy_list.read_text().splitlines()[0].startswith("ASIN")


async def test_watch_exits_8_when_the_batch_fails(
    cli: Cli, seller: Seller, stack: Stack, tmp_path: Path
) -> None:
    """Keepa answers 503 until the client gives up: every line fails, so does the batch."""
    await cli.login(seller)
    sheet = tmp_path / "doomed.tsv"
    sheet.write_text("ISBN\tCost\n" + "".join(f"{b}\t2\n" for b in isbn10s(3, seed=74)))
    async with httpx.AsyncClient(base_url=stack.keepa_base_url) as sim:
        (await sim.post("/_sim/faults", json={"status": 503, "count": 50})).raise_for_status()
        try:
            watched = await cli("submit", str(sheet), "--watch")
        finally:
            await sim.delete("/_sim/faults")
    assert watched.code == EXIT_BATCH_FAILED, watched
    assert "FAILED" in watched.stderr and "3 failed" in watched.stderr

"""The TypeScript client (clients/typescript) is in step with the API it is used against.

Its committed types must equal what openapi-typescript generates from the document a running
gateway serves (a stale client would type-check against an API that no longer exists), and
its example, which uses them the way a seller's script does, must compile under strict `tsc`
and work when run by Node.js against the stack. Node.js 20+ with npm is required for this
module only; without it the tests fail saying so (never skip: the suite has none).
`make ts-client` (`python -m devstack.ts_client`) regenerates the types."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from devstack import ts_client
from devstack.stack import Stack
from tests.e2e.conftest import Seller
from tests.helpers import isbn10s

SAMPLE_BOOK = "0593655036"  # recorded Keepa product


async def test_committed_types_equal_a_generation_from_the_served_document(stack: Stack) -> None:
    served = await _served_document(stack)
    fresh = await asyncio.to_thread(_run_node_step, ts_client.fresh_types, served)
    diff = ts_client.stale_types_diff(fresh)
    assert not diff, (
        "clients/typescript/src/schema.d.ts is stale: run `make ts-client` and commit it\n"
        + diff[:5000]
    )


async def test_make_ts_client_generates_from_the_document_the_gateway_serves(
    stack: Stack,
) -> None:
    """`make ts-client` builds the document in process (no stack): it must be the served one."""
    served = await _served_document(stack)
    built = json.loads(ts_client.document_text(ts_client.openapi_document()))
    assert built == served, "the in-process document differs from the served one at " + ", ".join(
        _differences(built, served)
    )


async def test_the_example_type_checks_strictly() -> None:
    await asyncio.to_thread(_run_node_step, ts_client.type_check)


async def test_the_example_runs_against_the_stack(stack: Stack, seller: Seller) -> None:
    """Compiled as it is and run by Node.js: log in, upload a CSV, follow the SSE stream to the
    end, print the BUY lines; what it prints is what the API says."""
    await asyncio.to_thread(_run_node_step, ts_client.npm_ci)
    books = [SAMPLE_BOOK, *isbn10s(5, seed=81)]
    csv = "ISBN,Cost\n" + "".join(f"{book},1.00\n" for book in books)
    # Under node_modules: Node.js finds openapi-fetch from there.
    with tempfile.TemporaryDirectory(dir=ts_client.CLIENT_DIR / "node_modules") as build:
        out_dir = Path(build)
        await asyncio.to_thread(_run_node_step, _compile, out_dir)
        (out_dir / "package.json").write_text('{"type": "module"}')
        driver = (
            f"import {{ run }} from {json.dumps((out_dir / 'example.js').as_uri())};\n"
            "const [url, email, password, csv] = process.argv.slice(1);\n"
            "await run(url, email, password, new Blob([csv], { type: 'text/csv' }));\n"
        )
        args = [stack.gateway_url, seller.email, seller.password or "", csv]
        proc = await asyncio.create_subprocess_exec(
            "node", "--input-type=module", "-e", driver, *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), timeout=240)
    printed = out.decode().splitlines()
    assert proc.returncode == 0, (out.decode(), err.decode())
    total = len(books)
    assert f"{total}/{total} done, 0 failed" in printed, printed
    batches = (await seller.get("/api/v1/batches", params={"size": 1})).json()
    (batch,) = batches["items"]
    assert (batch["name"], batch["status"]) == ("library sale", "COMPLETED")
    buy = await seller.get(
        "/api/v1/analyses", params={"batch_id": batch["id"], "recommendation": "BUY"}
    )
    bought = {a["identifier"] for a in buy.json()["items"]}
    assert {line.split(" ")[0] for line in printed if "ROI" in line} == bought


async def _served_document(stack: Stack) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=60) as http:
        served: dict[str, Any] = (await http.get("/openapi.json")).raise_for_status().json()
    return served


def _differences(built: Any, served: Any, at: str = "") -> list[str]:
    """Where two JSON documents differ (JSON-pointer-like paths), the first few."""
    if isinstance(built, dict) and isinstance(served, dict):
        keys = list(dict.fromkeys([*built, *served]))
        found = [d for k in keys for d in _differences(built.get(k), served.get(k), f"{at}/{k}")]
        return found[:10]
    return [] if built == served else [at or "/"]


def _compile(out_dir: Path) -> None:
    npx = shutil.which("npx") or "npx"
    cmd = [npx, "--no-install", "tsc", "-p", "tsconfig.json", "--noEmit", "false"]
    subprocess.run(
        [*cmd, "--outDir", str(out_dir)],
        cwd=ts_client.CLIENT_DIR,
        check=True,
        capture_output=True,
        text=True,
    )


def _run_node_step(step: Callable[..., str | None], *args: Any) -> str:
    """Run a Node.js step, turning its failure into an assertion that shows what it printed."""
    try:
        return str(step(*args) or "")
    except ts_client.NodeMissing as missing:
        raise AssertionError(str(missing)) from None
    except subprocess.CalledProcessError as failed:
        raise AssertionError(
            f"{' '.join(failed.cmd)} exited {failed.returncode}:\n{failed.stdout}\n{failed.stderr}"
        ) from None

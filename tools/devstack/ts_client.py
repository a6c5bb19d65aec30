"""`make ts-client`: regenerate the TypeScript client's types from the gateway's OpenAPI document.

`python -m devstack.ts_client` builds the document in process (`create_app().openapi()`: no
database, broker or server needed), writes `clients/typescript/openapi.json` and runs
`openapi-typescript` on it into `clients/typescript/src/schema.d.ts`. `--check` changes nothing
and exits 1 when the committed types differ from a fresh generation. Only this needs Node.js
(20+); `npm ci` runs first when `node_modules` is missing or older than the lock file.
"""

from __future__ import annotations

import argparse
import difflib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CLIENT_DIR = ROOT / "clients" / "typescript"
DOCUMENT = CLIENT_DIR / "openapi.json"
TYPES = CLIENT_DIR / "src" / "schema.d.ts"
# Deployment limits the document states (see gateway.api.openapi._deployment_limits): the
# committed types are those of a default deployment, whatever this shell's environment says.
DEFAULT_LIMITS = ("max_buy_cost", "max_batch_items")


class NodeMissing(RuntimeError):
    pass


def openapi_document() -> dict[str, Any]:
    """The document a gateway with default settings serves at /openapi.json."""
    from gateway.main import create_app
    from gateway.settings import GatewaySettings

    defaults = {name: GatewaySettings.model_fields[name].default for name in DEFAULT_LIMITS}
    return create_app(GatewaySettings(**defaults)).openapi()


def document_text(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def npm_ci(client_dir: Path = CLIENT_DIR) -> None:
    """Install the pinned tools unless node_modules already matches the lock file."""
    npm = _tool("npm")
    marker = client_dir / "node_modules" / ".package-lock.json"
    lock = client_dir / "package-lock.json"
    if marker.exists() and marker.stat().st_mtime >= lock.stat().st_mtime:
        return
    _run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], client_dir)


def generate_types(document: Path, output: Path, client_dir: Path = CLIENT_DIR) -> None:
    npx = _tool("npx")
    _run([npx, "--no-install", "openapi-typescript", str(document), "-o", str(output)], client_dir)


def fresh_types(document: dict[str, Any]) -> str:
    """The types openapi-typescript generates from `document`, without touching the tree."""
    npm_ci()
    with tempfile.TemporaryDirectory() as tmp:
        source, output = Path(tmp) / "openapi.json", Path(tmp) / "schema.d.ts"
        source.write_text(document_text(document), encoding="utf-8")
        generate_types(source, output)
        return output.read_text(encoding="utf-8")


def type_check(client_dir: Path = CLIENT_DIR) -> None:
    """`tsc --noEmit` over the client (the types and the example), strict per tsconfig.json."""
    npm_ci(client_dir)
    _run([_tool("npx"), "--no-install", "tsc", "--noEmit", "-p", "tsconfig.json"], client_dir)


def stale_types_diff(fresh: str, committed_path: Path = TYPES) -> str:
    """A unified diff from the committed types to `fresh`; empty when they are equal."""
    committed = committed_path.read_text(encoding="utf-8") if committed_path.exists() else ""
    return "".join(
        difflib.unified_diff(
            committed.splitlines(keepends=True),
            fresh.splitlines(keepends=True),
            "committed src/schema.d.ts",
            "fresh generation",
        )
    )


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise NodeMissing(
            f"{name} not found: the TypeScript client (clients/typescript) needs Node.js 20+ "
            "with npm on PATH; nothing else in ArbitrageVault does"
        )
    return found


def _run(command: list[str], cwd: Path) -> None:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise subprocess.CalledProcessError(
            done.returncode, command, output=done.stdout, stderr=done.stderr
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.ts_client", description=__doc__)
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the committed types are stale"
    )
    args = parser.parse_args(argv)
    document = openapi_document()
    try:
        fresh = fresh_types(document)
    except NodeMissing as missing:
        print(missing, file=sys.stderr)
        return 2
    if args.check:
        diff = stale_types_diff(fresh)
        if diff:
            print(diff[:20_000], file=sys.stderr)
            print("stale: run `make ts-client` and commit the result", file=sys.stderr)
            return 1
        print("clients/typescript/src/schema.d.ts is up to date")
        return 0
    DOCUMENT.write_text(document_text(document), encoding="utf-8")
    TYPES.write_text(fresh, encoding="utf-8")
    lines = fresh.count("\n")
    print(f"wrote {DOCUMENT.relative_to(ROOT)} and {TYPES.relative_to(ROOT)} ({lines} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

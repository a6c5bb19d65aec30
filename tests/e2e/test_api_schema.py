"""The gateway against its own OpenAPI document.

schemathesis generates requests for every operation (examples, boundary and negative values,
random fuzzing, stateful sequences through inferred links) with a seller's bearer token: no
answer may be a 5xx, and every answer must match the documented schema. Generated data rarely
hits the inputs that broke gateways before, so those are also sent deliberately: NUL characters
(PostgreSQL cannot store them in text), huge and non-finite numbers, lone surrogates and other
odd unicode, deeply nested JSON."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from devstack.stack import Stack
from tests.e2e.conftest import Seller

CHECKS = "all"  # every check, the stateful phase included: the document says what is accepted
# schemathesis' statuses that reject invalid data, and 413
NEGATIVE_REJECTED = [*map(str, (400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429)), "5xx"]
# and those that may answer valid data, and 413
POSITIVE_ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "413", "429", "5xx"]
BOOK = '{"identifier": "0593655036", "buy_cost": 1}'


async def test_no_5xx_and_no_undocumented_answers(
    stack: Stack, seller: Seller, tmp_path: Path
) -> None:
    # A body over its route's byte limit (64 KiB but for a batch; a documented 413, which JSON
    # Schema cannot state in bytes) is refused before its fields are read: a 413 rejects invalid
    # data as a 422 does (e.g. an array past its maxItems), and answers a valid but huge body.
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        f"[checks.negative_data_rejection]\nexpected-statuses = {json.dumps(NEGATIVE_REJECTED)}\n"
        f"[checks.positive_data_acceptance]\nexpected-statuses = {json.dumps(POSITIVE_ACCEPTED)}\n"
    )
    # The CLI runs in its own process: the event loop here keeps serving the stack's log pipes.
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config),
        "run",
        f"{stack.gateway_url}/openapi.json",
        "--checks",
        CHECKS,
        "--header",
        f"Authorization: Bearer {seller.token}",
        # Logging out (here or everywhere) would end the token's login half-way through the
        # run; a password change is counted against the sign-in limit of the address the other
        # tests share. test_auth.py covers the three.
        "--exclude-path-regex",
        "^/api/v1/auth/(logout|logout-all|password|revoke)$",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        "30",
        "--seed",
        "20261125",
        "--workers",
        "2",
        "--request-timeout",
        "30",
        "--no-shrink",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        # Valid identifiers (check digits) and seller files, which JSON Schema cannot describe
        env={**os.environ, "SCHEMATHESIS_HOOKS": "tests.e2e.schemathesis_hooks"},
        cwd=Path(__file__).parents[2],
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0, out.decode(errors="replace")[-20_000:]


NASTY = [
    ("POST", "/api/v1/batches", '{"name": "a\\u0000b", "items": [' + BOOK + "]}", "name"),
    (
        "POST",
        "/api/v1/batches",
        '{"name": "n", "items": [' + BOOK + ', {"identifier": '
        '"0593655036", "buy_cost": 1, "condition": "used\\u0000"}]}',
        "items[1].condition",
    ),
    ("POST", "/api/v1/batches", '{"name": "n", "items": [' + BOOK + '], "x\\u0000": 1}', "x\x00"),
    ("POST", "/api/v1/api-keys", '{"name": "key\\u0000"}', "name"),
    (
        "POST",
        "/api/v1/auth/register",
        '{"email": "nul@example.com", "password": "1234\\u00005678"}',
        "password",
    ),
    (
        "POST",
        "/api/v1/batches",
        '{"name": "n", "items": [{"identifier": "0593655036", "buy_cost": 1e400}]}',
        None,
    ),
    (
        "POST",
        "/api/v1/batches",
        '{"name": "n", "items": [{"identifier": "0593655036", "buy_cost": ' + "9" * 5000 + "}]}",
        None,
    ),
    (
        "POST",
        "/api/v1/batches",
        '{"name": "n", "items": [{"identifier": "0593655036", "buy_cost": NaN}]}',
        None,
    ),
    ("POST", "/api/v1/batches", '{"name": "\\ud800", "items": [' + BOOK + "]}", None),
    (
        "POST",
        "/api/v1/batches",
        '{"name": "\\u202e\\ufeff\\U0001f4da", "items": [{"identifier": '
        '"\\ud83d\\ude00", "buy_cost": 1}]}',
        None,
    ),
    ("POST", "/api/v1/batches", "[" * 100_000 + "]" * 100_000, None),
    (
        "POST",
        "/api/v1/batches",
        '{"name": "n", "items": ['
        + BOOK
        + '], "strategy": '
        + '{"a":' * 5_000
        + "1"
        + "}" * 5_000
        + "}",
        None,
    ),
    (
        "POST",
        "/api/v1/analyses",
        '{"identifier": "0593655036", "buy_cost": '
        '123456789012345678901234567890, "condition": "used"}',
        None,
    ),
    ("GET", "/api/v1/batches?page=99999999999999999999999&size=10", None, None),
    ("GET", "/api/v1/analyses?page=9223372036854775808&size=500", None, None),
    ("GET", "/api/v1/analyses?min_roi=1e400&min_velocity=-1e999", None, None),
    ("GET", "/api/v1/analyses?recommendation=BUY%00", None, "recommendation"),
    ("GET", "/api/v1/batches/%00", None, None),
    (
        "PATCH",
        "/api/v1/batches/00000000-0000-0000-0000-000000000000/status",
        '{"status": "CANCELLED\\u0000"}',
        "status",
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "nul_field"),
    NASTY,
    ids=[f"{m} {p[:40]} {(b or '')[:30]}" for m, p, b, _ in NASTY],
)
async def test_nasty_input_is_a_clear_4xx(
    seller: Seller, method: str, path: str, body: str | None, nul_field: str | None
) -> None:
    response = await seller.request(
        method,
        path,
        content=body.encode("utf-8", "surrogatepass") if body else None,
        headers={"content-type": "application/json"} if body else {},
    )
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:500])
    assert response.headers["content-type"] == "application/problem+json"
    if nul_field is not None:
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == nul_field


async def test_nul_in_a_form_field_is_a_clear_4xx(seller: Seller) -> None:
    response = await seller.http.post(
        "/api/v1/auth/token", data={"username": "x\x00@example.com", "password": "p"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "username"

"""One request must not freeze the gateway (issue 11, item 1): a body is read only once its sender
is authenticated, every request of a seller counts against the rate limit (failed ones too), a
batch stops being parsed at its first line past MAX_BATCH_ITEMS, every other body is small, and a
large batch is parsed off the event loop. The app runs in process, without a database: the
authentication's lookups are replaced where a test needs a known seller."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from gateway.api import batch_body, bounded_json, deps
from gateway.api.request_guard import SIGN_IN_PATHS, SMALL_BODY_BYTES
from gateway.api.schemas import BatchIn, batch_items_limit
from gateway.auth_cache import CredentialCache
from gateway.main import create_app
from gateway.ratelimit import RateLimitState
from gateway.settings import GatewaySettings

GOOD = {"identifier": "0593655036", "buy_cost": 2.5}
PROBLEM = "application/problem+json"
JSON_TYPE = {"content-type": "application/json"}
MAX_ITEMS = 5
MAX_BUY_COST = 50
API_KEY = "avk_" + "k" * 40


def _settings(**changes: Any) -> GatewaySettings:
    return GatewaySettings(
        **{
            "max_request_bytes": 1024 * 1024,
            "max_batch_items": MAX_ITEMS,
            "max_buy_cost": MAX_BUY_COST,
            "auth_rate_limit_requests": 0,
            **changes,
        }
    )


@asynccontextmanager
async def _client(
    settings: GatewaySettings, seller: bool = False
) -> AsyncIterator[httpx.AsyncClient]:
    """`seller`: the user is supplied (no authentication at all); otherwise the app
    authenticates, and answers 401 to a request without credentials before any database work."""
    app = create_app(settings)
    if seller:

        async def no_session() -> AsyncIterator[None]:
            yield None

        app.dependency_overrides[deps.get_current_user] = lambda: deps.CurrentUserInfo(
            uuid.uuid4(), "seller@example.com", "user"
        )
        app.dependency_overrides[deps.get_session] = no_session
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        yield http


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    problem: dict[str, Any] = response.json()
    return problem


def _named(response: httpx.Response, status: int = 422) -> dict[str, str]:
    return {e["field"]: e["message"] for e in _problem(response, status).get("errors", [])}


class Chunks:
    """A streamed (chunked) body that counts how much of it the app has read."""

    def __init__(self, body: bytes, size: int = 4096) -> None:
        self.body, self.size, self.read = body, size, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.body), self.size):
            self.read += 1
            yield self.body[start : start + self.size]


def _operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    document = create_app(_settings()).openapi()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


# -- authentication comes first -------------------------------------------------------------------
def test_the_guard_authenticates_exactly_the_routes_that_need_a_user() -> None:
    """FastAPI documents a security requirement where a route depends on the credentials: those
    are the routes the request guard authenticates before it reads anything."""
    for method, path, operation in _operations():
        needs_user = bool(operation.get("security"))
        guarded = path.startswith("/api/v1/") and path not in SIGN_IN_PATHS
        assert needs_user == guarded, (method, path)


@pytest.mark.parametrize(
    ("method", "path"), [(method, path) for method, path, op in _operations() if op.get("security")]
)
async def test_without_credentials_every_protected_route_is_401_unread(
    method: str, path: str
) -> None:
    body = Chunks(b"this is not JSON \xff\xfe \\u0000" * 1000)
    async with _client(_settings()) as http:
        response = await http.request(
            method,
            # Every path parameter is an id but a book's identifier.
            re.sub(
                r"\{(\w+)\}",
                lambda m: "0593655036" if m[1] == "identifier" else str(uuid.uuid4()),
                path,
            ),
            content=body,
            headers=JSON_TYPE,
        )
    problem = _problem(response, 401)
    assert problem["detail"] == "missing or invalid credentials"
    assert response.headers["www-authenticate"] == "Bearer"
    assert body.read == 0  # not a byte of the body was read, let alone parsed


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b"not even JSON", JSON_TYPE),
        (b'{"name": "caf\xe9", "items": []}', JSON_TYPE),  # not UTF-8
        (b'{"name": "\\u0000", "items": []}', JSON_TYPE),  # a NUL
        (b'{"name": "x"}', {"content-type": "text/plain"}),  # another media type
        (b"[" * (2 * 1024 * 1024), JSON_TYPE),  # over MAX_REQUEST_BYTES
    ],
)
async def test_an_unauthenticated_batch_is_401_whatever_its_body(
    body: bytes, headers: dict[str, str]
) -> None:
    async with _client(_settings()) as http:
        response = await http.post("/api/v1/batches", content=body, headers=headers)
    _problem(response, 401)


class CountingRateLimit:
    """The PostgreSQL pieces of authentication: an API key of a known seller, and the counter."""

    def __init__(self, limit: int) -> None:
        self.limit, self.hits = limit, 0

    async def count(self, subject: str, limit: int, window_seconds: int) -> RateLimitState:
        self.hits += 1
        return RateLimitState(
            limit=limit,
            remaining=max(0, limit - self.hits),
            reset_seconds=30,
            exceeded=self.hits > limit,
        )


class FakeRuntime:
    @asynccontextmanager
    async def sessions(self) -> AsyncIterator[None]:
        yield None


@pytest.fixture
def counter(monkeypatch: pytest.MonkeyPatch) -> CountingRateLimit:
    counting = CountingRateLimit(limit=6)
    seller = deps.CurrentUserInfo(uuid.uuid4(), "seller@example.com", "user")

    async def by_api_key(session: Any, key: str) -> tuple[deps.CurrentUserInfo, None]:
        assert key == API_KEY
        return seller, None

    monkeypatch.setattr(deps, "_by_api_key", by_api_key)
    return counting


@pytest.mark.parametrize("key", [{"X-API-Key": API_KEY}, {"Authorization": f"Bearer {API_KEY}"}])
async def test_a_sellers_failed_requests_count_against_the_rate_limit(
    counter: CountingRateLimit,
    key: dict[str, str],
) -> None:
    app = create_app(_settings(rate_limit_requests=counter.limit))
    app.state.runtime = FakeRuntime()
    app.state.rate_counter = counter  # the shared counter (gateway.ratelimit.SharedCounter)
    app.state.credential_cache = CredentialCache()  # not listening: never used
    failing: list[tuple[str, str, dict[str, Any], int]] = [
        ("POST", "/api/v1/batches", {"content": b'{"name": "x",'}, 422),  # malformed JSON
        (
            "POST",
            "/api/v1/batches",
            {"json": {"name": "x", "items": [GOOD] * (MAX_ITEMS + 1)}},
            422,
        ),  # too many lines
        ("POST", "/api/v1/batches", {"content": Chunks(b" " * (1024 * 1024 + 1))}, 413),
        ("PUT", "/api/v1/config", {"content": b"{}", "headers": {"content-type": "text/csv"}}, 415),
        ("GET", "/api/v1/batches?pagee=2", {}, 422),  # an unknown query parameter
        ("GET", "/api/v1/analyses?sort=%00", {}, 422),  # a NUL
    ]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway"
    ) as http:
        for n, (method, path, send, status) in enumerate(failing, start=1):
            headers = {**JSON_TYPE, **key, **send.pop("headers", {})}
            response = await http.request(method, path, headers=headers, **send)
            _problem(response, status)
            assert counter.hits == n, (method, path)
            assert response.headers["ratelimit-remaining"] == str(counter.limit - n)
        # The limit is reached: the next request is refused before its body is read.
        body = Chunks(b"not JSON")
        refused = await http.post("/api/v1/batches", content=body, headers={**JSON_TYPE, **key})
    assert _problem(refused, 429)["limit"] == "requests_per_window"
    assert body.read == 0


# -- MAX_BATCH_ITEMS: counted as the body is parsed -----------------------------------------------
def _lines(n: int) -> bytes:
    return b",".join([json.dumps(GOOD).encode()] * n)


@pytest.mark.parametrize(
    "rest",
    [
        b'{"identifier": "HELLOWORLD", "buy_cost": -1}]}',  # an invalid line past the limit
        b"@@ not JSON at all",  # and what follows it is never read
    ],
)
async def test_one_line_past_max_batch_items_stops_the_parse(rest: bytes) -> None:
    body = b'{"name": "x", "items": [' + _lines(MAX_ITEMS) + b", " + rest
    async with _client(_settings(), seller=True) as http:
        response = await http.post("/api/v1/batches", content=body, headers=JSON_TYPE)
    limit = f"at most {MAX_ITEMS} items (the MAX_BATCH_ITEMS setting)"
    assert _named(response) == {"items": limit}
    assert response.json()["detail"] == f"items: more than {MAX_ITEMS} lines; {limit}"


async def test_max_batch_items_lines_are_accepted_as_far_as_parsing_goes() -> None:
    body = (
        b'{"name": "x", "items": ['
        + _lines(MAX_ITEMS - 1)
        + b', {"identifier": "HELLOWORLD", "buy_cost": 1}]}'
    )
    async with _client(_settings(), seller=True) as http:
        response = await http.post("/api/v1/batches", content=body, headers=JSON_TYPE)
    assert list(_named(response)) == [f"items[{MAX_ITEMS - 1}].identifier"]


def test_the_schema_counts_the_lines_before_validating_any() -> None:
    token = batch_items_limit.set(3)
    try:
        with pytest.raises(ValidationError) as caught:
            BatchIn.model_validate({"name": "x", "items": ["junk"] * 4})
    finally:
        batch_items_limit.reset(token)
    [error] = caught.value.errors()  # no error for any of the four lines: none was validated
    assert error["loc"] == ("items",) and error["type"] == "too_long"
    assert error["msg"] == "at most 3 items (the MAX_BATCH_ITEMS setting)"


# -- body sizes -----------------------------------------------------------------------------------
async def test_only_a_batch_may_be_larger_than_64_kib() -> None:
    """Every other body is parsed by FastAPI on the event loop: it is capped small."""
    padding = " " * SMALL_BODY_BYTES
    async with _client(_settings(), seller=True) as http:
        config = await http.put("/api/v1/config", content=f"{{{padding}}}", headers=JSON_TYPE)
        streamed = await http.put(
            "/api/v1/config", content=Chunks(f"{{{padding}}}".encode()), headers=JSON_TYPE
        )
        batch = await http.post(
            "/api/v1/batches", content=f'{{"name": "x", "items": []{padding}}}', headers=JSON_TYPE
        )
    for too_large in (config, streamed):
        assert f"at most {SMALL_BODY_BYTES} bytes" in _problem(too_large, 413)["detail"]
    assert _named(batch) == {"items": "List should have at least 1 item after validation, not 0"}


async def test_a_batch_over_max_request_bytes_is_413() -> None:
    async with _client(_settings(max_request_bytes=100_000), seller=True) as http:
        response = await http.post("/api/v1/batches", content=b" " * 100_001, headers=JSON_TYPE)
    assert "at most 100000 bytes (MAX_REQUEST_BYTES)" in _problem(response, 413)["detail"]


# -- large batches are parsed off the event loop --------------------------------------------------
def _large_batch(lines: int, last: dict[str, Any]) -> bytes:
    body = {"name": "large", "items": [GOOD] * (lines - 1) + [last]}
    encoded = json.dumps(body).encode()
    assert len(encoded) > batch_body.INLINE_BYTES  # goes to the worker thread
    return encoded


async def test_a_large_batch_is_validated_with_this_apps_settings() -> None:
    """The worker thread sees the request's settings (MAX_BUY_COST, MAX_BATCH_ITEMS)."""
    lines = 1_000
    body = _large_batch(lines, {"identifier": "0593655036", "buy_cost": MAX_BUY_COST + 1})
    async with _client(_settings(max_batch_items=lines), seller=True) as http:
        response = await http.post("/api/v1/batches", content=body, headers=JSON_TYPE)
    field = f"items[{lines - 1}].buy_cost"
    assert _named(response) == {
        field: f"must be less than or equal to {MAX_BUY_COST} (the MAX_BUY_COST setting)"
    }
    async with _client(_settings(max_batch_items=lines - 1), seller=True) as http:
        fewer = await http.post("/api/v1/batches", content=body, headers=JSON_TYPE)
    assert list(_named(fewer)) == ["items"]


async def test_other_requests_are_answered_while_a_large_batch_is_parsed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No timing: the parse is held until /health has answered. Were the parse on the event
    loop, holding it would hold /health too (the wait gives up after 30 s: the test fails)."""
    parsing, release = threading.Event(), threading.Event()
    real_parse = batch_body.parse_batch

    def held_parse(raw: bytes, max_items: int) -> BatchIn:
        parsing.set()
        release.wait(timeout=30)
        return real_parse(raw, max_items)

    monkeypatch.setattr(batch_body, "parse_batch", held_parse)
    body = _large_batch(1_000, {"identifier": "HELLOWORLD", "buy_cost": 1})
    async with _client(_settings(max_batch_items=1_000), seller=True) as http:
        submit = asyncio.create_task(http.post("/api/v1/batches", content=body, headers=JSON_TYPE))
        assert await asyncio.to_thread(parsing.wait, 30)
        health = await http.get("/health")
        answered_during_parse = not submit.done()
        release.set()
        response = await submit
    assert health.status_code == 200 and answered_during_parse
    assert list(_named(response)) == ["items[999].identifier"]


# -- the bounded parser ---------------------------------------------------------------------------
DOCUMENTS = [
    b'{"name": "x", "items": [{"identifier": "0593655036", "buy_cost": 2.5}]}',
    b' \n{ "a" : [ 1 , -2.5e3 , true , false , null , "s" ] , "b" : { } } \n',
    b'{"a": NaN, "b": -Infinity, "c": Infinity}',
    b'{"a": 1, "a": 2}',
    b'{"k": "with } and { and [ and \\" inside", "n": {"deep": [[], [{}]]}}',
    b'[{"flat": "' + b"x" * 5000 + b'"}]',  # longer than a flat object taken in one call
    '{"é": "ü", "emoji": "\\ud83d\\ude00"}'.encode(),
    b'\xef\xbb\xbf{"bom": 1}',
    '{"utf16": 1}'.encode("utf-16"),
    b'"\\ud800"',
    b"[]",
    b"{}",
    b"0",
    b'""',
]
MALFORMED = [
    b"",
    b"   ",
    b'{"name":"x",',
    b'{"a":1,}',
    b"[1,]",
    b"[1 2]",
    b'{"a" 1}',
    b'{"a":1 "b":2}',
    b'{"a": "x\x01"}',
    b'{"a": "unterminated',
    b'{"a": 1}  x',
    b'{"a": 12abc}',
    b"[-]",
    b"[01]",
    b'{"a": tru}',
    b"{1: 2}",
    b'{"a": "\\x"}',
    b'{"a": {"b": 1,}}',
    b'[{"a": 1}, {"b" 2}]',
]


def _json_loads_outcome(raw: bytes) -> tuple[Any, ...]:
    try:
        return ("value", repr(json.loads(raw)))
    except json.JSONDecodeError as exc:
        return ("malformed", exc.msg, exc.pos)


def _bounded_outcome(raw: bytes) -> tuple[Any, ...]:
    try:
        return ("value", repr(bounded_json.loads(raw, array_limits={}, max_values=10_000)))
    except bounded_json.Malformed as exc:
        return ("malformed", exc.why, exc.position)


@pytest.mark.parametrize("raw", DOCUMENTS + MALFORMED)
def test_the_bounded_parser_reads_what_json_loads_reads(raw: bytes) -> None:
    assert _bounded_outcome(raw) == _json_loads_outcome(raw)


def test_the_bounded_parser_stops_at_a_limited_array() -> None:
    raw = b'{"items": [1, 2, 3, oops'
    with pytest.raises(bounded_json.TooLong) as caught:
        bounded_json.loads(raw, array_limits={"items": 3}, max_values=100)
    assert (caught.value.key, caught.value.limit) == ("items", 3)
    # Only a top-level member is limited: nested arrays of the same name are not.
    nested = b'{"x": {"items": [1, 2, 3, 4]}}'
    assert bounded_json.loads(nested, array_limits={"items": 3}, max_values=100) == {
        "x": {"items": [1, 2, 3, 4]}
    }


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"[" * 100 + b"]" * 100, "cannot be parsed: nested too deeply"),
        (b"[" + b"[]," * 50 + b"[]]", "cannot be parsed: more than 40 JSON values"),
        (b"[" + b"9" * 5000 + b"]", "cannot be parsed: Exceeds the limit (4300 digits)"),
    ],
)
def test_the_bounded_parser_refuses_what_costs_too_much(raw: bytes, message: str) -> None:
    with pytest.raises(bounded_json.Unparseable) as caught:
        bounded_json.loads(raw, array_limits={}, max_values=40)
    assert caught.value.message.startswith(message)

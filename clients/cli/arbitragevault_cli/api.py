"""The gateway over HTTP: credentials on every request, an expired login refreshed once, and
every refusal turned into a `CliError` carrying the message and the exit code a script sees."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import IntEnum
from typing import Any

import httpx

from .credentials import Credential, CredentialStore

DEFAULT_URL = "http://127.0.0.1:8000"
MAX_FIELD_ERRORS = 20  # a file with thousands of bad rows: the first ones, then a count


class Exit(IntEnum):
    """Exit codes (documented in the README and `arbitragevault --help`)."""

    OK = 0
    API_ERROR = 1  # the API refused the request (e.g. 422 naming the field) or failed (5xx)
    USAGE = 2  # bad option or argument, unreadable file (also Typer's own usage errors)
    AUTH = 3  # not logged in, login expired, or not allowed (401/403)
    NOT_FOUND = 4  # no such batch/analysis/key, or another seller's (404)
    CONFLICT = 5  # changed meanwhile or not possible in this state (409/412)
    RETRY_LATER = 6  # rate limit, quota or a dependency down (429/503): Retry-After is shown
    UNREACHABLE = 7  # no answer from the gateway (connection refused, timeout)
    BATCH_FAILED = 8  # `submit --watch`: the batch ended FAILED or CANCELLED


_BY_STATUS = {401: Exit.AUTH, 403: Exit.AUTH, 404: Exit.NOT_FOUND, 409: Exit.CONFLICT}
_BY_STATUS |= {412: Exit.CONFLICT, 429: Exit.RETRY_LATER, 503: Exit.RETRY_LATER}


class CliError(Exception):
    def __init__(self, message: str, code: Exit) -> None:
        super().__init__(message)
        self.message, self.code = message, code


def problem_message(response: httpx.Response) -> str:
    """What went wrong, as the problem+json answer says it: its detail and each named field."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        text = response.text.strip()[:300]
        return f"HTTP {response.status_code}" + (f": {text}" if text else "")
    lines = [str(body.get("detail") or body.get("title") or f"HTTP {response.status_code}")]
    errors = body.get("errors") or []
    if len(errors) > 1 or (errors and errors[0].get("message") not in lines[0]):
        lines += [f"  {e.get('field')}: {e.get('message')}" for e in errors[:MAX_FIELD_ERRORS]]
        if len(errors) > MAX_FIELD_ERRORS:
            lines.append(f"  … and {len(errors) - MAX_FIELD_ERRORS} more")
    if retry := response.headers.get("Retry-After"):
        lines.append(f"retry after {retry} s")
    return "\n".join(lines)


def refusal(response: httpx.Response) -> CliError:
    code = _BY_STATUS.get(response.status_code, Exit.API_ERROR)
    message = problem_message(response)
    if response.status_code == 401:
        message += "\n(run `arbitragevault login`, or set ARBITRAGEVAULT_API_KEY)"
    return CliError(message, code)


class Gateway:
    def __init__(self, url: str, store: CredentialStore, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self.store = store
        self.http = httpx.Client(base_url=self.url, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def credential(self) -> Credential:
        found = self.store.get(self.url)
        if found is None:
            raise CliError(
                f"not logged in to {self.url}: run `arbitragevault login` "
                "(or set ARBITRAGEVAULT_API_KEY)",
                Exit.AUTH,
            )
        return found

    def call(self, method: str, path: str, *, auth: bool = True, **kw: Any) -> httpx.Response:
        """One request; a 2xx answer, or a CliError. An expired login is refreshed once."""
        response = self._send(method, path, auth, kw)
        if response.status_code == 401 and auth and self._refreshed():
            response = self._send(method, path, auth, kw)
        if response.is_error:
            raise refusal(response)
        return response

    def json(self, method: str, path: str, **kw: Any) -> Any:
        return self.call(method, path, **kw).json()

    @contextmanager
    def stream(self, method: str, path: str, **kw: Any) -> Iterator[httpx.Response]:
        """A streamed answer (SSE, an export) with the same errors and refresh as `call`."""
        extra = kw.pop("headers", {})
        for attempt in (1, 2):
            headers = {**self.credential().headers(), **extra}
            with _reaching(self.url):
                request = self.http.build_request(method, path, headers=headers, **kw)
                response = self.http.send(request, stream=True)
            try:
                if response.status_code == 401 and attempt == 1 and self._refreshed():
                    continue
                if response.is_error:
                    response.read()
                    raise refusal(response)
                yield response
                return
            finally:
                response.close()

    def _send(self, method: str, path: str, auth: bool, kw: dict[str, Any]) -> httpx.Response:
        headers = {**(self.credential().headers() if auth else {}), **kw.get("headers", {})}
        with _reaching(self.url):
            return self.http.request(
                method, path, **{k: v for k, v in kw.items() if k != "headers"}, headers=headers
            )

    def _refreshed(self) -> bool:
        """Trade the stored refresh token for new tokens (rotated: the old one is spent)."""
        stored = self.store.get(self.url)
        if stored is None or stored.kind != "token" or not stored.refresh_token:
            return False
        with _reaching(self.url):
            answer = self.http.post(
                "/api/v1/auth/refresh", json={"refresh_token": stored.refresh_token}
            )
        if answer.status_code != 200:
            return False
        tokens = answer.json()
        self.store.put(
            self.url,
            Credential("token", tokens["access_token"], tokens["refresh_token"], stored.email),
        )
        return True


@contextmanager
def _reaching(url: str) -> Iterator[None]:
    try:
        yield
    except httpx.TimeoutException:
        raise CliError(f"{url} did not answer in time", Exit.UNREACHABLE) from None
    except httpx.TransportError as exc:
        raise CliError(f"cannot reach {url}: {exc}", Exit.UNREACHABLE) from None

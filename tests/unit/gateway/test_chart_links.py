"""Signed chart links (gateway.charts.signing): valid for their path, seller and lifetime only."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlsplit

import pytest

from gateway.charts.signing import (
    CHART_URL_SECONDS,
    BadSignature,
    ChartSigner,
    carries_signature,
)

PATH = "/api/v1/books/0593655036/chart.png"
OWNER = uuid.UUID("00000000-0000-4000-8000-000000000001")
NOW = 1_800_000_000.0


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_a_signed_link_verifies_until_it_expires() -> None:
    signer = ChartSigner("s" * 40)
    q = _query(signer.sign(PATH, OWNER, NOW))
    assert int(q["exp"]) == int(NOW) + CHART_URL_SECONDS
    assert signer.verify(PATH, q["owner"], q["exp"], q["sig"], NOW) == OWNER
    last = NOW + CHART_URL_SECONDS - 1
    assert signer.verify(PATH, q["owner"], q["exp"], q["sig"], last) == OWNER
    with pytest.raises(BadSignature, match="expired"):
        signer.verify(PATH, q["owner"], q["exp"], q["sig"], NOW + CHART_URL_SECONDS)


@pytest.mark.parametrize(
    "change",
    [
        {"path": PATH.replace(".png", ".svg")},
        {"owner": str(uuid.uuid4())},
        {"owner": "not-a-uuid"},
        {"exp": "99999999999"},
        {"exp": "soon"},
        {"sig": "0" * 64},
    ],
)
def test_an_altered_link_is_refused(change: dict[str, str]) -> None:
    signer = ChartSigner("s" * 40)
    q = {"path": PATH, **_query(signer.sign(PATH, OWNER, NOW)), **change}
    with pytest.raises(BadSignature, match="invalid"):
        signer.verify(q["path"], q["owner"], q["exp"], q["sig"], NOW)


def test_another_secret_does_not_verify() -> None:
    q = _query(ChartSigner("a" * 40).sign(PATH, OWNER, NOW))
    with pytest.raises(BadSignature):
        ChartSigner("b" * 40).verify(PATH, q["owner"], q["exp"], q["sig"], NOW)


def test_only_chart_paths_with_sig_skip_the_guard() -> None:
    assert carries_signature(PATH, b"owner=x&exp=1&sig=abc")
    assert not carries_signature(PATH, b"days=30")
    assert not carries_signature("/api/v1/books/0593655036/history", b"sig=abc")
    assert not carries_signature("/api/v1/analyses", b"sig=abc")

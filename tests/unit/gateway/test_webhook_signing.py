"""Webhook signatures (gateway.webhooks.signing): what a receiver checks."""

from __future__ import annotations

import hashlib
import hmac

from gateway.webhooks.signing import new_secret, signature_header, verify
from gateway.webhooks.ssrf import Target
from gateway.webhooks.worker import next_delay, request_url

BODY = b'{"id":"e1","type":"batch.completed","data":{}}'


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    secret = new_secret()
    header = signature_header(secret, BODY, timestamp=1_700_000_000)
    expected = hmac.new(secret.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"
    assert verify(secret, header, BODY, now=1_700_000_010)


def test_a_changed_body_another_secret_or_an_old_timestamp_fails() -> None:
    secret = new_secret()
    header = signature_header(secret, BODY, timestamp=1_700_000_000)
    assert not verify(secret, header, BODY + b" ", now=1_700_000_000)
    assert not verify(new_secret(), header, BODY, now=1_700_000_000)
    assert not verify(secret, header, BODY, now=1_700_000_000 + 301)
    assert not verify(secret, "v1=deadbeef", BODY, now=1_700_000_000)


def test_secrets_are_distinct_and_long() -> None:
    secrets = {new_secret() for _ in range(50)}
    assert len(secrets) == 50 and all(len(s) >= 40 for s in secrets)


def test_retries_back_off_exponentially_up_to_the_cap() -> None:
    delays = [next_delay(n, base=30, cap=3600) for n in range(1, 10)]
    assert 27 <= delays[0] <= 33 and 54 <= delays[1] <= 66
    assert all(d <= 3600 * 1.1 for d in delays) and delays[-1] >= 3600 * 0.9


async def test_the_request_goes_to_the_checked_address_not_the_name() -> None:
    from gateway.webhooks.ssrf import check_url

    v4: Target = await check_url("http://localhost:8123/a?b=1", allow_private=True)
    assert request_url(v4).startswith(("http://127.0.0.1:8123/a?b=1", "http://[::1]:8123/a?b=1"))
    v6 = await check_url("https://[2606:4700:4700::1111]/hook", allow_private=False)
    assert request_url(v6) == "https://[2606:4700:4700::1111]:443/hook"

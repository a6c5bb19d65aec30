"""Which addresses a webhook may be sent to (gateway.webhooks.ssrf)."""

from __future__ import annotations

import ipaddress

import pytest

from gateway.webhooks.ssrf import (
    UnsafeTarget,
    check_registration,
    check_url,
    embedded_ipv4,
    parse_url,
    refusal,
)

PUBLIC = ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"]
PRIVATE = [
    "127.0.0.1",
    "127.8.9.10",
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "100.64.0.1",  # carrier-grade NAT
    "169.254.10.10",  # link-local
    "::1",
    "fe80::1",
    "fc00::1",
    "fd12:3456::1",
    "0.1.2.3",
    "198.18.0.1",  # benchmarking
]
ALWAYS_REFUSED = [
    "169.254.169.254",
    "fd00:ec2::254",
    "169.254.170.2",
    "100.100.100.200",
    "0.0.0.0",
    "::",
    "224.0.0.1",
    "ff02::1",
    "::ffff:169.254.169.254",
]
# IPv6 forms that carry an IPv4 address a connection ends up at.
EMBEDDED = {
    "::ffff:127.0.0.1": "127.0.0.1",
    "::ffff:10.1.2.3": "10.1.2.3",
    "::127.0.0.1": "127.0.0.1",
    "64:ff9b::a00:1": "10.0.0.1",
    "2002:7f00:1::": "127.0.0.1",
}


def ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text)


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    assert refusal(ip(address), allow_private=False) is None


@pytest.mark.parametrize("address", PRIVATE)
def test_private_addresses_are_refused_unless_allowed(address: str) -> None:
    assert refusal(ip(address), allow_private=False) is not None
    assert refusal(ip(address), allow_private=True) is None


@pytest.mark.parametrize("address", ALWAYS_REFUSED)
def test_metadata_multicast_and_unspecified_are_refused_even_when_private_is_allowed(
    address: str,
) -> None:
    assert refusal(ip(address), allow_private=True) is not None


@pytest.mark.parametrize(("address", "inner"), EMBEDDED.items())
def test_ipv6_forms_of_ipv4_addresses_are_judged_by_the_ipv4_address(
    address: str, inner: str
) -> None:
    assert embedded_ipv4(ip(address)) == ip(inner)
    why = refusal(ip(address), allow_private=False)
    assert why is not None and inner in why


def test_an_ipv4_mapped_public_address_is_allowed() -> None:
    assert refusal(ip("::ffff:8.8.8.8"), allow_private=False) is None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://example.com/hook", "https"),
        ("ftp://example.com/hook", "https"),
        ("https://user:pw@example.com/hook", "credentials"),
        ("https:///hook", "no host"),
        ("https://example.com:99999/", "valid URL"),
        ("https://example.com/#x", "fragment"),
    ],
)
def test_urls_that_are_not_plain_https_are_refused(url: str, reason: str) -> None:
    with pytest.raises(UnsafeTarget, match=reason):
        parse_url(url, allow_private=False)


def test_http_is_accepted_only_with_private_targets() -> None:
    assert parse_url("http://127.0.0.1:9/x", allow_private=True)[2] == 9


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://[::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://localhost/hook",  # resolves to loopback
        "https://2130706433/hook",  # 127.0.0.1 written as one number
        "https://0x7f.1/hook",
    ],
)
async def test_loopback_targets_are_refused_after_resolution(url: str) -> None:
    with pytest.raises(UnsafeTarget):
        await check_url(url, allow_private=False)


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/"]
)
async def test_metadata_urls_are_refused_even_when_private_targets_are_allowed(url: str) -> None:
    with pytest.raises(UnsafeTarget, match="metadata"):
        await check_url(url, allow_private=True)


async def test_a_name_that_does_not_resolve_is_not_delivered_to_but_may_be_registered() -> None:
    with pytest.raises(UnsafeTarget, match="does not resolve"):
        await check_url("https://no-such-host.invalid/hook", allow_private=True)
    await check_registration("https://no-such-host.invalid/hook", allow_private=False)
    with pytest.raises(UnsafeTarget):
        await check_registration("https://localhost/hook", allow_private=False)


async def test_an_allowed_target_connects_to_the_checked_address_with_its_name() -> None:
    target = await check_url("http://localhost:8123/a?b=1", allow_private=True)
    assert target.host == "localhost" and target.port == 8123
    assert target.address.is_loopback

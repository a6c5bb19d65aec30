"""Sign-in throttling decided without I/O (gateway.domain.sign_in) and the cap on concurrent
password hashing (gateway.security.PasswordHashing)."""

from __future__ import annotations

import asyncio

import pytest

from gateway.domain.sign_in import BackoffPolicy, client_bucket
from gateway.security import HashingBusy, PasswordHashing, hash_password


@pytest.mark.parametrize(
    ("host", "bucket"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),  # same customer, same bucket
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),  # the next /64: another customer
        ("::ffff:203.0.113.7", "203.0.113.7"),  # IPv4-mapped: the IPv4 client
        ("testclient", "testclient"),
    ],
)
def test_a_client_is_counted_by_its_address_and_an_ipv6_client_by_its_slash_64(
    host: str, bucket: str
) -> None:
    assert client_bucket(host) == bucket


def test_wrong_passwords_after_the_free_ones_lock_for_twice_as_long_each_up_to_the_cap() -> None:
    policy = BackoffPolicy(free_failures=3, base_lock_seconds=2.0, max_lock_seconds=60.0)
    locks = [policy.lock_seconds(n) for n in range(1, 11)]
    assert locks == [0.0, 0.0, 0.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]
    assert policy.lock_seconds(10**6) == 60.0  # no overflow however many


async def test_at_most_n_hashes_at_once_and_past_the_queue_a_sign_in_is_refused_at_once() -> None:
    hashing = PasswordHashing(concurrency=1, queue=1)
    stored = hash_password("correct horse battery")
    first = asyncio.create_task(hashing.verify(stored, "correct horse battery"))
    second = asyncio.create_task(hashing.verify(stored, "wrong"))
    await asyncio.sleep(0)  # both have asked: one computes, one waits
    with pytest.raises(HashingBusy):
        await hashing.verify(stored, "a third one")
    assert await first is True and await second is False
    # Once they are done, there is room again.
    assert await hashing.verify(stored, "correct horse battery") is True

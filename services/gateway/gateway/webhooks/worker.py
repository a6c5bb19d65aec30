"""Sends due webhook deliveries: leases a page of them (FOR UPDATE SKIP LOCKED, a lease longer
than an attempt may take, so that no two gateway instances send one delivery at the same time),
checks the target's addresses after resolving them and connects to the checked one, signs,
records the attempt, and schedules the next one with exponential backoff until
WEBHOOK_RETRY_FOR_SECONDS after the delivery was created."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlunsplit

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..settings import GatewaySettings
from .signing import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, signature_header
from .ssrf import Target, UnsafeTarget, check_url
from .tables import webhook_attempts, webhook_deliveries, webhooks

log = logging.getLogger(__name__)
PAGE = 20
LEASE_MARGIN_SECONDS = 30.0  # beyond the attempt's timeout: resolution, recording
KEPT_RESPONSE_CHARS = 1000
USER_AGENT = "ArbitrageVault-Webhooks/1"


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None
    response_body: str | None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def next_delay(attempts: int, base: float, cap: float) -> float:
    """The wait after the `attempts`-th failure: base, 2·base, 4·base... up to cap, ±10 %."""
    return float(min(base * 2 ** (attempts - 1), cap) * random.uniform(0.9, 1.1))


def request_url(target: Target) -> str:
    """The URL with the checked address in place of the name (the name goes in Host and SNI):
    nothing resolves the name again between the check and the connection."""
    address = f"[{target.address}]" if target.address.version == 6 else str(target.address)
    parts = target.url
    return urlunsplit(
        (parts.scheme, f"{address}:{target.port}", parts.path or "/", parts.query, "")
    )


@dataclass
class DeliveryWorker:
    sessions: async_sessionmaker[AsyncSession]
    settings: GatewaySettings
    instance: str
    http: httpx.AsyncClient = field(
        default_factory=lambda: httpx.AsyncClient(follow_redirects=False, trust_env=False)
    )
    sent_total: int = 0

    async def run(self) -> None:
        await self._free_predecessors_leases()
        while True:
            try:
                if await self.deliver_due() == PAGE:
                    continue  # more are due: no pause
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("webhook deliveries: %r", exc)
            await asyncio.sleep(self.settings.webhook_poll_seconds)

    async def _free_predecessors_leases(self) -> None:
        """A process restarting under the same INSTANCE_ID (as devstack and the analysis
        service's leases assume) sends again at once what its predecessor had leased and not
        finished (stopped mid-attempt), instead of at the lease's end."""
        try:
            async with self.sessions() as session, session.begin():
                await session.execute(
                    update(webhook_deliveries)
                    .where(
                        webhook_deliveries.c.leased_by == self.instance,
                        webhook_deliveries.c.status == "pending",
                    )
                    .values(leased_until=None, leased_by=None)
                )
        except Exception as exc:  # the loop's leases expire anyway
            log.warning("webhook deliveries: freeing leases: %r", exc)

    async def deliver_due(self) -> int:
        leased = await self._lease()
        await asyncio.gather(*(self._deliver(row) for row in leased))
        return len(leased)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _lease(self) -> list[Any]:
        d = webhook_deliveries.c
        lease = timedelta(seconds=self.settings.webhook_timeout_seconds + LEASE_MARGIN_SECONDS)
        async with self.sessions() as session, session.begin():
            now = datetime.now(UTC)
            rows = (
                await session.execute(
                    select(
                        d.id,
                        d.payload,
                        d.event_type,
                        d.attempts,
                        d.created_at,
                        webhooks.c.url,
                        webhooks.c.secret,
                        webhooks.c.deleted_at,
                    )
                    .join(webhooks, webhooks.c.id == d.webhook_id)
                    .where(
                        d.status == "pending",
                        d.next_attempt_at <= now,
                        (d.leased_until.is_(None)) | (d.leased_until < now),
                    )
                    .order_by(d.next_attempt_at)
                    .limit(PAGE)
                    .with_for_update(of=webhook_deliveries, skip_locked=True)
                )
            ).all()
            if rows:
                await session.execute(
                    update(webhook_deliveries)
                    .where(d.id.in_([r.id for r in rows]))
                    .values(leased_until=now + lease, leased_by=self.instance)
                )
        return list(rows)

    async def _deliver(self, row: Any) -> None:
        if row.deleted_at is not None:
            await self._finish(row.id, "cancelled", "the webhook was deleted")
            return
        started, clock = datetime.now(UTC), time.monotonic()
        try:
            async with asyncio.timeout(self.settings.webhook_timeout_seconds):
                outcome = await self._send(row)
        except TimeoutError:
            outcome = Outcome(None, "timed out", None)
        duration_ms = int((time.monotonic() - clock) * 1000)
        await self._record(row, outcome, started, duration_ms)

    async def _send(self, row: Any) -> Outcome:
        try:
            target = await check_url(row.url, self.settings.webhook_allow_private_targets)
        except UnsafeTarget as exc:
            return Outcome(None, f"refused: {exc}", None)
        body = json.dumps(row.payload, separators=(",", ":")).encode()
        headers = {
            "Host": target.url.netloc,
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: signature_header(row.secret, body),
            DELIVERY_HEADER: str(row.id),
            EVENT_HEADER: row.event_type,
        }
        extensions = {"sni_hostname": target.host} if target.url.scheme == "https" else {}
        try:
            request = self.http.build_request(
                "POST", request_url(target), content=body, headers=headers, extensions=extensions
            )
            response = await self.http.send(request, stream=True)
            try:
                kept = b""
                async for chunk in response.aiter_raw():
                    kept += chunk
                    if len(kept) >= KEPT_RESPONSE_CHARS:
                        break
            finally:
                await response.aclose()
        except httpx.HTTPError as exc:
            return Outcome(None, f"{type(exc).__name__}: {exc}"[:KEPT_RESPONSE_CHARS], None)
        text = kept[:KEPT_RESPONSE_CHARS].decode(errors="replace")
        error = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
        return Outcome(response.status_code, error, text)

    async def _record(
        self, row: Any, outcome: Outcome, started: datetime, duration_ms: int
    ) -> None:
        attempts = row.attempts + 1
        now = datetime.now(UTC)
        values: dict[str, Any] = {
            "attempts": attempts,
            "leased_until": None,
            "leased_by": None,
            "last_error": outcome.error,
        }
        if outcome.delivered:
            values |= {"status": "delivered", "delivered_at": now}
            self.sent_total += 1
        else:
            s = self.settings
            delay = timedelta(
                seconds=next_delay(
                    attempts, s.webhook_retry_base_seconds, s.webhook_retry_max_seconds
                )
            )
            if now + delay > row.created_at + timedelta(seconds=s.webhook_retry_for_seconds):
                values["status"] = "failed"
            else:
                values["next_attempt_at"] = now + delay
        async with self.sessions() as session, session.begin():
            await session.execute(
                webhook_attempts.insert().values(
                    delivery_id=row.id,
                    attempt_no=attempts,
                    started_at=started,
                    duration_ms=duration_ms,
                    status_code=outcome.status_code,
                    error=outcome.error,
                    response_body=outcome.response_body,
                    instance=self.instance,
                )
            )
            await session.execute(
                update(webhook_deliveries).where(webhook_deliveries.c.id == row.id).values(**values)
            )
        if not outcome.delivered:
            log.info("webhook delivery %s attempt %d: %s", row.id, attempts, outcome.error)

    async def _finish(self, delivery_id: uuid.UUID, status: str, why: str) -> None:
        async with self.sessions() as session, session.begin():
            await session.execute(
                update(webhook_deliveries)
                .where(webhook_deliveries.c.id == delivery_id)
                .values(status=status, last_error=why, leased_until=None, leased_by=None)
            )

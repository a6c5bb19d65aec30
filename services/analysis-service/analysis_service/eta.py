"""Estimated completion of a batch from the work ahead of it and Keepa's refill rate."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from .adapters.token_budget import TokenBudget
from .work_queue import WorkQueue


@dataclass
class EtaEstimator:
    queue: WorkQueue
    budget: TokenBudget
    tokens_per_product: int

    async def seconds_for(self, owner_id: uuid.UUID, last_enqueued_at: datetime) -> float:
        """Upper bound: cache hits cost no token, and are not known before the fetch.

        An owner's chunks go in the order they came: this batch waits for the owner's earlier
        batches, not for later ones. Owners are served round-robin, so meanwhile every other
        owner gets a turn for as many items (or fewer, when it has fewer queued).
        """
        mine = await self.queue.queued_items_until(owner_id, last_enqueued_at)
        per_owner = await self.queue.queued_items()
        per_owner.pop(owner_id, None)
        ahead = mine + sum(min(q, mine) for q in per_owner.values())
        state = await self.budget.state()
        tokens_needed = ahead * self.tokens_per_product - max(state.tokens, 0.0)
        if tokens_needed <= 0:
            return 0.0
        return round(tokens_needed * 60.0 / max(state.refill_rate_per_minute, 0.001), 1)

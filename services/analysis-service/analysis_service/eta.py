"""Estimated completion of a batch from the work ahead of it and Keepa's refill rate."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from .adapters.token_budget import TokenBudget
from .work_queue import WorkQueue


@dataclass
class EtaEstimator:
    queue: WorkQueue
    budget: TokenBudget
    tokens_per_product: int

    async def seconds_for(self, owner_id: uuid.UUID, queued_items: int) -> float:
        """Upper bound: cache hits cost no token, and are not known before the fetch.

        Owners are served round-robin, so while this batch's items wait, every other owner
        gets a turn for as many items (or fewer, when it has fewer queued).
        """
        per_owner = await self.queue.queued_items()
        mine = per_owner.pop(owner_id, queued_items)
        ahead = mine + sum(min(q, mine) for q in per_owner.values())
        state = await self.budget.state()
        tokens_needed = ahead * self.tokens_per_product - max(state.tokens, 0.0)
        if tokens_needed <= 0:
            return 0.0
        return round(tokens_needed * 60.0 / max(state.refill_rate_per_minute, 0.001), 1)

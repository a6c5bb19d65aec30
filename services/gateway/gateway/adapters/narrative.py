"""The optional written summary of a batch's insights, from an OpenAI-compatible Chat Completions
API (OpenAI, or a local server speaking the same protocol) through the official `openai` client.

Only the computed figures are sent: no batch or seller id, name or email, no other seller's data,
no key but the endpoint's own (`figures_for_summary`). The request is the minimum every such
server accepts (model and messages: newer OpenAI models refuse `max_tokens` and `temperature`).
The whole call, retry included, is bounded by the timeout; past it, or on any failure, the
answer carries the figures alone and the reason (`Narrative.error`). A batch's figures are fixed
once it finished, so summaries are remembered by their figures (never for a running batch).
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import logging
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import openai
from openai import AsyncOpenAI

from ..settings import GatewaySettings

log = logging.getLogger(__name__)
MAX_REMEMBERED = 256
SYSTEM_PROMPT = (
    "You help a bookseller who buys used and new books to resell on Amazon. You are given the "
    "computed figures of one batch of books they considered buying, as JSON. Write a short "
    "summary for them (at most 120 words, plain text, no headings): the cash the BUY lines need, "
    "their expected profit and ROI, how long until they sell through, why most other lines were "
    "passed, the risks that recur, the best picks, and how this batch compares with their "
    "earlier ones. Use only the figures given; never invent a number."
)


@dataclass(frozen=True)
class Narrative:
    text: str | None
    error: str | None  # why there is no text


def figures_for_summary(figures: Mapping[str, Any]) -> dict[str, Any]:
    """What the model is sent: the figures, without the ids of the earlier batches."""
    sent = copy.deepcopy(dict(figures))
    compared = sent.get("compared_with_earlier")
    if isinstance(compared, dict):
        compared["earlier"] = [
            {k: v for k, v in b.items() if k != "batch_id"} for b in compared.get("earlier", [])
        ]
    return sent


class Narrator:
    def __init__(self, *, base_url: str, api_key: str, model: str, timeout: float) -> None:
        # One retry (a dropped connection, a 5xx) within the same overall deadline.
        self._client = AsyncOpenAI(
            base_url=base_url, api_key=api_key or "none", timeout=timeout, max_retries=1
        )
        self._model, self._timeout = model, timeout
        self._remembered: OrderedDict[str, str] = OrderedDict()

    async def aclose(self) -> None:
        await self._client.close()

    async def summarise(self, figures: Mapping[str, Any], *, final: bool) -> Narrative:
        """`final`: the batch finished, so its figures no longer change (the summary is kept)."""
        content = json.dumps(figures_for_summary(figures), sort_keys=True, separators=(",", ":"))
        key = hashlib.sha256(f"{self._model}\n{content}".encode()).hexdigest()
        if (known := self._remembered.get(key)) is not None:
            self._remembered.move_to_end(key)
            return Narrative(known, None)
        narrative = await self._ask(content)
        if final and narrative.text is not None:
            self._remembered[key] = narrative.text
            while len(self._remembered) > MAX_REMEMBERED:
                self._remembered.popitem(last=False)
        return narrative

    async def _ask(self, content: str) -> Narrative:
        try:
            async with asyncio.timeout(self._timeout):
                completion = await self._client.chat.completions.create(
                    model=self._model,
                    messages=[
                        {"role": "system", "content": SYSTEM_PROMPT},
                        {"role": "user", "content": content},
                    ],
                )
        except (TimeoutError, openai.APITimeoutError):
            return _failed(f"timeout: no summary within {self._timeout:g} s")
        except openai.APIStatusError as exc:
            return _failed(f"refused: the summary endpoint answered HTTP {exc.status_code}")
        except openai.APIConnectionError:
            return _failed("unreachable: the summary endpoint could not be reached")
        except openai.OpenAIError as exc:  # e.g. an answer that is not a ChatCompletion
            return _failed(f"failed: {type(exc).__name__}")
        choices = completion.choices or []
        text = (choices[0].message.content or "").strip() if choices else ""
        return Narrative(text, None) if text else _failed("empty: the model wrote nothing")


def _failed(reason: str) -> Narrative:
    log.warning("insights narrative: %s", reason)
    return Narrative(None, reason)


def narrator_from(settings: GatewaySettings) -> Narrator | None:
    """None unless an endpoint and a model are configured."""
    if not (settings.insights_llm_base_url and settings.insights_llm_model):
        return None
    return Narrator(
        base_url=settings.insights_llm_base_url,
        api_key=settings.insights_llm_api_key.get_secret_value(),
        model=settings.insights_llm_model,
        timeout=settings.insights_llm_timeout_seconds,
    )

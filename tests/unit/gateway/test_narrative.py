"""The insights summary through the official openai client, against the local Chat Completions
server (devstack.chat_sim, the only double): what is sent is the figures alone, and every
failure (down, slow, refusing) falls back to no summary with the reason, within the timeout."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn

from devstack.chat_sim import SimState, create_app, summary_of
from devstack.ports import free_port
from gateway.adapters.narrative import SYSTEM_PROMPT, Narrator, figures_for_summary

KEY = "sk-test-insights-0123456789"
EARLIER_ID = "5b0c1d2e-0000-4000-8000-000000000001"
FIGURES: dict[str, Any] = {
    "lines_analysed": 6,
    "lines_failed": 0,
    "units": 9,
    "buy": {"cash_needed": 18.0, "expected_profit": 18.0, "roi_percent": 100.0,
            "sell_through_days": 100},
    "passed_because": [{"rule": "min_profit", "lines": 2, "share_percent": 66.7}],
    "compared_with_earlier": {
        "batches": 1,
        "earlier": [{"batch_id": EARLIER_ID, "lines": 10, "buy_rate_percent": 50.0,
                     "roi_percent": 50.0}],
    },
}  # fmt: skip


@pytest.fixture
async def sim() -> AsyncIterator[tuple[str, SimState]]:
    state = SimState(api_key=KEY)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(state), host="127.0.0.1", port=port, log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "chat sim did not start"
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/v1", state
    finally:
        server.should_exit = True
        await task


def narrator(base_url: str, timeout: float = 10.0) -> Narrator:
    return Narrator(base_url=base_url, api_key=KEY, model="sim-model", timeout=timeout)


async def test_summary_written_from_the_figures_alone(sim: tuple[str, SimState]) -> None:
    base_url, state = sim
    n = narrator(base_url)
    try:
        written = await n.summarise(FIGURES, final=True)
    finally:
        await n.aclose()
    assert written.error is None
    assert written.text == summary_of(json.dumps(figures_for_summary(FIGURES)))
    assert written.text.startswith("The BUY lines need $18.00 and should earn $18.00")
    [request] = state.requests
    body = json.loads(request["body"])
    assert body == {
        "model": "sim-model",
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": body["messages"][1]["content"]},
        ],
    }
    sent = json.loads(body["messages"][1]["content"])
    expected = json.loads(json.dumps(FIGURES))
    expected["compared_with_earlier"]["earlier"][0].pop("batch_id")
    assert sent == expected  # the figures, nothing added; the earlier batch's id left out
    assert EARLIER_ID not in request["body"] and KEY not in request["body"]
    assert KEY not in json.dumps(request["headers"])  # the key only in Authorization


async def test_a_finished_batchs_summary_is_remembered(sim: tuple[str, SimState]) -> None:
    base_url, state = sim
    n = narrator(base_url)
    try:
        first = await n.summarise(FIGURES, final=True)
        again = await n.summarise(FIGURES, final=True)
        running = {**FIGURES, "lines_analysed": 3}
        await n.summarise(running, final=False)
        await n.summarise(running, final=False)
    finally:
        await n.aclose()
    assert first == again and first.text is not None
    assert len(state.requests) == 3  # once for the finished batch, every time for a running one


async def test_endpoint_down_falls_back_to_figures_only() -> None:
    n = narrator(f"http://127.0.0.1:{free_port()}/v1")
    try:
        written = await n.summarise(FIGURES, final=True)
    finally:
        await n.aclose()
    assert written.text is None
    assert written.error is not None and written.error.startswith("unreachable")


async def test_slow_endpoint_times_out_within_the_bound(sim: tuple[str, SimState]) -> None:
    base_url, state = sim
    state.delay_seconds = 30
    n = narrator(base_url, timeout=0.5)
    started = time.monotonic()
    try:
        written = await n.summarise(FIGURES, final=True)
    finally:
        await n.aclose()
    elapsed = time.monotonic() - started
    assert (written.text, written.error) == (None, "timeout: no summary within 0.5 s")
    assert elapsed < 10  # the bound is the whole call, retry included (generous for a busy box)


@pytest.mark.parametrize(("status", "key"), [(500, KEY), (200, "sk-wrong")])
async def test_refusals_fall_back_with_the_status(
    sim: tuple[str, SimState], status: int, key: str
) -> None:
    base_url, state = sim
    if status != 200:
        state.status = status
    n = Narrator(base_url=base_url, api_key=key, model="sim-model", timeout=10)
    try:
        written = await n.summarise(FIGURES, final=True)
    finally:
        await n.aclose()
    expected = 500 if status == 500 else 401
    assert (written.text, written.error) == (
        None,
        f"refused: the summary endpoint answered HTTP {expected}",
    )


async def test_sim_answers_a_proper_chat_completion(sim: tuple[str, SimState]) -> None:
    base_url, _ = sim
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            f"{base_url}/chat/completions",
            json={"model": "m", "messages": [{"role": "user", "content": "hi"}]},
            headers={"Authorization": f"Bearer {KEY}"},
        )
        bad = await http.post(
            f"{base_url}/chat/completions", json={}, headers={"Authorization": f"Bearer {KEY}"}
        )
    from openai.types.chat import ChatCompletion

    completion = ChatCompletion.model_validate(answer.json())
    assert completion.choices[0].message.content == "No figures were given."
    assert bad.status_code == 400 and "error" in bad.json()

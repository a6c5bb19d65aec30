"""A local server speaking OpenAI's Chat Completions protocol, the test double of the insights
summary endpoint (like keepa_sim for Keepa): `POST /v1/chat/completions` answers a proper
`ChatCompletion` whose text is written from the figures it was sent.

`python -m devstack.chat_sim --port 8095 [--api-key KEY]`; then
`INSIGHTS_LLM_BASE_URL=http://127.0.0.1:8095/v1 INSIGHTS_LLM_MODEL=sim`.

Control routes for tests: `GET /_sim/requests` (every request received: body and headers, the
key masked), `DELETE /_sim/requests`, `POST /_sim/config` with `delay_seconds` (answer late),
`status` (answer that HTTP error instead) and `reply` (a fixed text).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


@dataclass
class SimState:
    api_key: str = ""
    delay_seconds: float = 0.0
    status: int | None = None
    reply: str | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)


def create_app(state: SimState | None = None) -> FastAPI:
    sim = state or SimState()
    app = FastAPI(title="Chat Completions simulator")

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> JSONResponse:
        raw = await request.body()
        headers = {k: v for k, v in request.headers.items() if k != "authorization"}
        sim.requests.append({"body": raw.decode(errors="replace"), "headers": headers})
        if sim.api_key and request.headers.get("authorization") != f"Bearer {sim.api_key}":
            return _error(401, "Incorrect API key provided.", "invalid_request_error")
        if sim.delay_seconds and not await _waited(request, sim.delay_seconds):
            return _error(499, "client went away", "client_closed")
        if sim.status is not None:
            return _error(sim.status, "Simulated failure.", "server_error")
        try:
            body = json.loads(raw)
            model, messages = body["model"], body["messages"]
            assert isinstance(model, str) and isinstance(messages, list) and messages
        except (ValueError, KeyError, TypeError, AssertionError):
            return _error(400, "model and messages are required", "invalid_request_error")
        text = sim.reply if sim.reply is not None else summary_of(messages[-1].get("content"))
        return JSONResponse(_completion(model, text))

    @app.get("/_sim/requests")
    async def received() -> list[dict[str, Any]]:
        return sim.requests

    @app.delete("/_sim/requests")
    async def forget() -> dict[str, int]:
        count = len(sim.requests)
        sim.requests.clear()
        return {"cleared": count}

    @app.post("/_sim/config")
    async def configure(request: Request) -> dict[str, Any]:
        changes = await request.json()
        sim.delay_seconds = float(changes.get("delay_seconds", sim.delay_seconds))
        sim.status = changes.get("status", sim.status)
        sim.reply = changes.get("reply", sim.reply)
        return {"delay_seconds": sim.delay_seconds, "status": sim.status, "reply": sim.reply}

    return app


async def _waited(request: Request, seconds: float) -> bool:
    """Sleep, but stop when the client hangs up (so a stopped test server is not held)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await request.is_disconnected():
            return False
        await asyncio.sleep(min(0.05, max(deadline - time.monotonic(), 0)))
    return True


def summary_of(content: Any) -> str:
    """A deterministic 'summary' naming a few of the figures, so a test can tell it was written
    from what was sent."""
    try:
        figures = json.loads(content)
        buy = figures["buy"]
        return (
            f"The BUY lines need ${buy['cash_needed']:,.2f} and should earn "
            f"${buy['expected_profit']:,.2f} (ROI {buy['roi_percent']}%), sold through in "
            f"{buy['sell_through_days']} days; {figures['lines_analysed']} lines analysed."
        )
    except (ValueError, KeyError, TypeError):
        return "No figures were given."


def _completion(model: str, text: str) -> dict[str, Any]:
    words = len(text.split())
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_chat_sim",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": words, "total_tokens": words},
    }


def _error(status: int, message: str, kind: str) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "type": kind, "param": None, "code": None}},
        status_code=status,
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devstack.chat_sim", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8095)
    parser.add_argument("--api-key", default="", help="accept only this key (default: any)")
    parser.add_argument("--delay-seconds", type=float, default=0.0, help="answer this late")
    args = parser.parse_args(argv)
    state = SimState(api_key=args.api_key, delay_seconds=args.delay_seconds)
    uvicorn.run(create_app(state), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()

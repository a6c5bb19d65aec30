"""Helpers shared by the Keepa tests (a unique module name: conftest.py files can collide)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from analysis_service.adapters.keepa_client import KeepaClient

API_KEY = "test-key-0123456789"

ClientFactory = Callable[..., KeepaClient]  # the make_client fixture: overrides -> client


@dataclass
class RunningSim:
    url: str
    http: httpx.AsyncClient  # raw access for protocol tests

    async def control(self, action: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.http.post(f"/_sim/{action}", json=body or {})
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    async def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = (await self.http.get("/_sim/stats")).json()
        return result

    async def product(self, **params: Any) -> httpx.Response:
        return await self.http.get("/product", params={"key": API_KEY, "domain": 1, **params})

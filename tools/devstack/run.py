"""`make run`: the whole system on this machine, supervised, until Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal

from .stack import REPO_ROOT, Stack, StackConfig


async def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s devstack: %(message)s")
    config = StackConfig(
        state_dir=REPO_ROOT / ".devstack" / "run",
        echo=os.environ.get("DEVSTACK_QUIET") != "1",
        analysis_instances=int(os.environ.get("ANALYSIS_INSTANCES", "1")),
        gateway_port=int(os.environ.get("GATEWAY_PORT", "8000")),
        partitions=int(os.environ.get("KAFKA_PARTITIONS", "12")),
    )
    stack = Stack(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stack.start_infra()
        await stack.start_services()
        keepa = (
            "Keepa API (KEEPA_API_KEY set)"
            if stack.keepa_key
            else f"local Keepa-compatible server at {stack.keepa_base_url}"
        )
        print(
            "\nArbitrageVault is running:\n"
            f"  API            {stack.gateway_url}\n"
            f"  OpenAPI docs   {stack.gateway_url}/docs\n"
            f"  AsyncAPI docs  {stack.gateway_url}/asyncapi\n"
            f"  market data    {keepa}\n"
            f"  PostgreSQL     {stack.admin_url}\n"
            f"  Kafka          {stack.bootstrap}\n"
            f"  logs           {stack.logs}\n"
            "Ctrl-C stops everything.\n",
            flush=True,
        )
        await stop.wait()
    finally:
        print("stopping...", flush=True)
        with contextlib.suppress(Exception):
            await stack.stop()


if __name__ == "__main__":
    asyncio.run(main())

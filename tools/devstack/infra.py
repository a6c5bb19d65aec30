"""`python -m devstack.infra`: PostgreSQL and the broker only, for development (prints URLs)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from .stack import REPO_ROOT, Stack, StackConfig


async def main() -> None:
    logging.basicConfig(level=logging.INFO)
    stack = Stack(StackConfig(state_dir=REPO_ROOT / ".devstack" / "infra"))
    stack.keepa_key = "none"  # do not start the simulator here
    await stack.start_infra()
    print(f"DATABASE_URL={stack.admin_url}\nKAFKA_BOOTSTRAP_SERVERS={stack.bootstrap}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    with contextlib.suppress(Exception):
        await stack.stop()


if __name__ == "__main__":
    asyncio.run(main())

"""Runs components as OS processes and restarts the ones that die, like a container restart
policy (with backoff, each restart logged)."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal as signals
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("devstack")
# Every process a stack starts carries this variable (its owner's id): `make test` checks at the
# end that none is left (see devstack.testrun).
OWNER_ENV = "AV_STACK_OWNER"
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before exec: the kernel SIGKILLs it when its parent dies (Linux), so a
    crashed or killed `make run`/`make test` leaves no orphan behind, whatever happened."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signals.SIGKILL)


@dataclass
class ProcessSpec:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    user: str | None = None
    restart: bool = True
    log_file: Path | None = None
    echo: bool = False  # copy output, prefixed with the name, to our stdout
    after_start: Callable[[], Awaitable[None]] | None = None  # e.g. wait for the port
    stop_timeout: float = 30.0
    # What `stop` sends. PostgreSQL takes SIGTERM as a "smart" shutdown that waits for every
    # client to disconnect: it gets SIGINT (fast shutdown: clients cut, clean checkpoint).
    stop_signal: int = signals.SIGTERM


class ManagedProcess:
    def __init__(self, spec: ProcessSpec) -> None:
        self.spec = spec
        self.proc: asyncio.subprocess.Process | None = None
        self.restarts = 0
        self._wanted = False
        self._watcher: asyncio.Task[None] | None = None
        self._pumps: set[asyncio.Task[None]] = set()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc and self.proc.returncode is None else None

    async def start(self) -> None:
        """Start (or start again after `kill`/`stop`) and supervise: restarted when it dies."""
        if self.pid is not None:
            return
        self._wanted = True
        if self._watcher is not None and not self._watcher.done():
            # A watcher of the previous process may not have seen it die yet: it must not
            # restart it too (two processes for one name).
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        await self._spawn()
        self._watcher = asyncio.create_task(self._watch(), name=f"watch-{self.spec.name}")

    async def _spawn(self) -> None:
        env = {**os.environ, **self.spec.env}
        out = await asyncio.create_subprocess_exec(
            *self.spec.argv,
            env=env,
            user=self.spec.user,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C to `make run` reaches us, not the children
            preexec_fn=_die_with_parent,
        )
        self.proc = out
        pump = asyncio.create_task(self._pump(out), name=f"pump-{self.spec.name}")
        self._pumps.add(pump)
        pump.add_done_callback(self._pumps.discard)
        if self.spec.after_start is not None:
            await self.spec.after_start()

    async def _pump(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        sink = self.spec.log_file.open("ab") if self.spec.log_file else None
        try:
            async for line in proc.stdout:
                if sink:
                    sink.write(line)
                    sink.flush()
                if self.spec.echo:
                    text = line.decode(errors="replace").rstrip()
                    sys.stdout.write(f"{self.spec.name:>12} | {text}\n")
                    sys.stdout.flush()
        finally:
            if sink:
                sink.close()

    async def _watch(self) -> None:
        delay = 0.5
        while self._wanted:
            proc = self.proc
            if proc is None:
                return
            code = await proc.wait()
            if not self._wanted or not self.spec.restart or self.proc is not proc:
                return
            self.restarts += 1
            log.warning(
                "%s exited with %s; restart #%d in %.1fs",
                self.spec.name,
                code,
                self.restarts,
                delay,
            )
            await asyncio.sleep(delay)
            if not self._wanted:
                return
            try:
                await self._spawn()
                delay = 0.5 if self.restarts < 3 else min(delay * 2, 30.0)
                log.warning("%s restarted (pid %s)", self.spec.name, self.pid)
            except Exception as exc:
                log.error("%s failed to restart: %r", self.spec.name, exc)
                delay = min(delay * 2, 30.0)

    def signal(self, sig: int) -> None:
        """SIGKILL goes to the whole process group (a crash takes the children with it); other
        signals to the main process, which shuts its children down itself (PostgreSQL)."""
        if self.proc and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                if sig == signals.SIGKILL:
                    os.killpg(self.proc.pid, sig)
                else:
                    os.kill(self.proc.pid, sig)

    async def kill(self) -> None:
        """SIGKILL with no restart (a crash a test then recovers from with `start`)."""
        self._wanted = False
        self.signal(signals.SIGKILL)
        if self.proc:
            await self.proc.wait()

    async def stop(self, sig: int | None = None) -> int | None:
        """Stop for good (no restart) with the spec's stop signal; SIGKILL after stop_timeout.
        Returns the exit status."""
        sig = self.spec.stop_signal if sig is None else sig
        self._wanted = False
        if self.proc is None or self.proc.returncode is not None:
            return self.proc.returncode if self.proc else None
        self.signal(sig)
        try:
            return await asyncio.wait_for(self.proc.wait(), self.spec.stop_timeout)
        except TimeoutError:
            log.warning(
                "%s did not stop in %.0fs; killing it", self.spec.name, self.spec.stop_timeout
            )
            self.signal(signals.SIGKILL)
            return await self.proc.wait()

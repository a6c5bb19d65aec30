"""`make test`: the whole suite (unit, integration, e2e, fault) against real servers it starts.

pytest's exit code 5 (no test collected) is a failure here: a green run must have run tests.
So is a process the suite started that is still alive once it ends (an orphaned broker or
simulator): every process a stack starts carries this run's id in its environment, and the
run looks for it at the end.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
import uuid
from pathlib import Path

import pytest

from devstack.supervisor import OWNER_ENV

LEFTOVER_GRACE_SECONDS = 20.0


def processes_owned_by(owner: str) -> list[tuple[int, str]]:
    """(pid, command line) of every live process whose environment names `owner`."""
    marker = f"{OWNER_ENV}={owner}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone meanwhile, or not ours to read
            continue
        found.append((int(entry.name), command.strip()))
    return found


def leftovers(owner: str) -> list[tuple[int, str]]:
    """What is still alive after a grace period (a stopping PostgreSQL takes a moment); those
    are killed, and returned so the run can fail on them."""
    deadline = time.monotonic() + LEFTOVER_GRACE_SECONDS
    while (alive := processes_owned_by(owner)) and time.monotonic() < deadline:
        time.sleep(0.5)
    for pid, _ in alive:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return alive


def main() -> int:
    owner = os.environ.setdefault(OWNER_ENV, uuid.uuid4().hex)
    args = ["-q", "-p", "no:cacheprovider", *sys.argv[1:]]
    if os.environ.get("CI") == "true":
        args += ["--durations=15"]
    code = int(pytest.main(args))
    if code == pytest.ExitCode.NO_TESTS_COLLECTED:
        code = 1
    if sys.platform.startswith("linux") and (left := leftovers(owner)):
        print(
            f"make test: {len(left)} process(es) the suite started were still running "
            "(killed now):",
            file=sys.stderr,
        )
        for pid, command in left:
            print(f"  {pid}: {command}", file=sys.stderr)
        code = code or 1
    return code


if __name__ == "__main__":
    sys.exit(main())

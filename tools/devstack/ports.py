from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def preferred_port(port: int) -> int:
    """The conventional port when it is free, else any free one."""
    return port if port_is_free(port) else free_port()


async def wait_for_port(port: int, timeout: float = 30.0, host: str = "127.0.0.1") -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            _, writer = await asyncio.open_connection(host, port)
            writer.close()
            return
        except OSError:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s") from None
            await asyncio.sleep(0.1)


def _listening_inodes(port: int) -> set[str]:
    """Socket inodes listening on `port` (Linux: /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                found.add(fields[9])
    return found


def listens(pid: int, port: int) -> bool:
    """Whether process `pid` itself has a socket listening on `port` (others may share it)."""
    inodes = _listening_inodes(port)
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            return True
    return False


async def wait_for_listener(
    proc: asyncio.subprocess.Process | None, port: int, timeout: float = 30.0
) -> None:
    """Until this process listens on `port`, which other processes may share (SO_REUSEPORT)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while proc is None or not listens(proc.pid, port):
        if proc is not None and proc.returncode is not None:
            raise RuntimeError(f"process {proc.pid} exited with {proc.returncode}")
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"process does not listen on port {port} after {timeout}s")
        await asyncio.sleep(0.1)

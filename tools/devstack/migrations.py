"""`python -m devstack.migrations ADMIN_URL [SCHEMA ...]`: the migrations of every service (or of
those named) in one process, each as its own role in its own schema. Test stacks start many
times: one interpreter instead of three saves seconds each time. Deployments run each service's
own `python -m <service>.migrate` (docker-compose does)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from av_shared.migrations import upgrade_to_head

from .postgres import service_url

SERVICE_MODULES = {"gateway": "gateway", "batch": "batch_service", "analysis": "analysis_service"}


def migrate(admin_url: str, schemas: list[str]) -> None:
    for schema in schemas or list(SERVICE_MODULES):
        package = importlib.import_module(SERVICE_MODULES[schema])
        migrations = Path(str(package.__file__)).parent / "migrations"
        upgrade_to_head(migrations, service_url(admin_url, schema))


if __name__ == "__main__":
    migrate(sys.argv[1], sys.argv[2:])

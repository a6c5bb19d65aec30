"""`python -m gateway.migrate`: bring the `gateway` schema to the latest revision."""

from pathlib import Path

from av_shared.migrations import upgrade_to_head

from .settings import GatewaySettings

if __name__ == "__main__":
    upgrade_to_head(Path(__file__).parent / "migrations", GatewaySettings().database_url)

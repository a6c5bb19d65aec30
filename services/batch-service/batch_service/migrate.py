"""`python -m batch_service.migrate`: bring the `batch` schema to the latest revision."""

from pathlib import Path

from av_shared.migrations import upgrade_to_head

from .settings import BatchServiceSettings

if __name__ == "__main__":
    upgrade_to_head(Path(__file__).parent / "migrations", BatchServiceSettings().database_url)

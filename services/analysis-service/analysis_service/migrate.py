"""`python -m analysis_service.migrate`: bring the `analysis` schema to the latest revision."""

from pathlib import Path

from av_shared.migrations import upgrade_to_head

from .settings import AnalysisServiceSettings

if __name__ == "__main__":
    upgrade_to_head(Path(__file__).parent / "migrations", AnalysisServiceSettings().database_url)

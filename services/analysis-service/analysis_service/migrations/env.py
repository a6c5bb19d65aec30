from analysis_service.db.tables import SCHEMA, metadata
from av_shared.migrations import run_env

run_env(metadata, SCHEMA)

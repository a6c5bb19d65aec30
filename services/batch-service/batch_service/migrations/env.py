from av_shared.migrations import run_env
from batch_service.db.tables import SCHEMA, metadata

run_env(metadata, SCHEMA)

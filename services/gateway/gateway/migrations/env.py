from av_shared.migrations import run_env
from gateway.db.tables import SCHEMA, metadata

run_env(metadata, SCHEMA)

#!/bin/sh
# Migration step before the services start: each service's migrations as its own role.
set -e
DATABASE_URL="$GATEWAY_DATABASE_URL" python -m gateway.migrate
DATABASE_URL="$BATCH_DATABASE_URL" python -m batch_service.migrate
DATABASE_URL="$ANALYSIS_DATABASE_URL" python -m analysis_service.migrate

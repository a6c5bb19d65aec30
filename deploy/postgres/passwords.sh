#!/bin/sh
# Runs after init.sql in the postgres image's first start (docker-entrypoint-initdb.d): the
# service roles get the passwords the operator set, not init.sql's well-known development ones.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v gateway_pw="$GATEWAY_DB_PASSWORD" -v batch_pw="$BATCH_DB_PASSWORD" \
  -v analysis_pw="$ANALYSIS_DB_PASSWORD" <<'SQL'
ALTER ROLE gateway_svc PASSWORD :'gateway_pw';
ALTER ROLE batch_svc PASSWORD :'batch_pw';
ALTER ROLE analysis_svc PASSWORD :'analysis_pw';
SQL

-- One database, one schema per service, one role per service that can use only its own schema.
-- Run as a superuser on the `arbitragevault` database (docker-compose mounts it into
-- /docker-entrypoint-initdb.d; `make run` and `make test` execute it through devstack).
-- Passwords here are for local development only; production sets its own.
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gateway_svc') THEN
    CREATE ROLE gateway_svc LOGIN PASSWORD 'gateway_svc';
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'batch_svc') THEN
    CREATE ROLE batch_svc LOGIN PASSWORD 'batch_svc';
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'analysis_svc') THEN
    CREATE ROLE analysis_svc LOGIN PASSWORD 'analysis_svc';
  END IF;
END
$$;

CREATE SCHEMA IF NOT EXISTS gateway AUTHORIZATION gateway_svc;
CREATE SCHEMA IF NOT EXISTS batch AUTHORIZATION batch_svc;
CREATE SCHEMA IF NOT EXISTS analysis AUTHORIZATION analysis_svc;

-- Nobody but a schema's owner may use it; the public schema is closed to the service roles.
REVOKE ALL ON SCHEMA public FROM PUBLIC;
REVOKE ALL ON SCHEMA gateway, batch, analysis FROM PUBLIC;
ALTER ROLE gateway_svc SET search_path = gateway;
ALTER ROLE batch_svc SET search_path = batch;
ALTER ROLE analysis_svc SET search_path = analysis;

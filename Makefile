# ArbitrageVault: `make run` starts everything, `make test` tests everything.
# Both install into ./.venv first, exactly what uv.lock pins (idempotent: re-runs only when a
# pyproject.toml or the lock changes).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test test-unit test-integration test-e2e test-fault lint lint-types bench clean asyncapi ts-client

$(STAMP): uv.lock pyproject.toml shared/pyproject.toml services/*/pyproject.toml tools/pyproject.toml clients/cli/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	UV_PROJECT_ENVIRONMENT=$(VENV) $(BIN)/uv sync --locked --inexact --quiet --python $(BIN)/python
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/python -m devstack.run

test: install
	$(BIN)/python -m devstack.testrun

# One tier at a time (`make test` runs all of them).
test-unit: install
	$(BIN)/python -m devstack.testrun tests/unit

test-integration: install
	$(BIN)/python -m devstack.testrun tests/integration

test-e2e: install
	$(BIN)/python -m devstack.testrun tests/e2e

test-fault: install
	$(BIN)/python -m devstack.testrun tests/fault

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(MAKE) --no-print-directory lint-types

lint-types: install
	MYPYPATH=shared:services/gateway:services/batch-service:services/analysis-service:tools:clients/cli \
	  $(BIN)/mypy -p av_shared -p gateway -p batch_service -p analysis_service -p keepa_sim -p devstack -p arbitragevault_cli
	MYPYPATH=shared:services/gateway:services/batch-service:services/analysis-service:tools:clients/cli \
	  $(BIN)/mypy tests

bench: install
	$(BIN)/python -m devstack.bench
	$(BIN)/python -m devstack.bench_read --profile
	$(BIN)/python -m devstack.bench_read --gateways 2
	$(BIN)/python -m devstack.bench_keepa
	$(BIN)/python -m devstack.bench_load
	$(BIN)/python -m devstack.bench_streams
	$(BIN)/python -m devstack.bench_export

ts-client: install
	$(BIN)/python -m devstack.ts_client

asyncapi: install
	$(BIN)/python -m av_shared.asyncapi > docs/asyncapi.json

clean:
	rm -rf $(VENV) .devstack

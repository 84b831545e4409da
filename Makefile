# Everything runs from a virtualenv in .venv, created with the machine's python3 (3.11+).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export CONNECTOR_HOME ?= $(CURDIR)/.connector
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home

.PHONY: demo test dev lint typecheck check bench reliability clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Runs the main pipelines on the embedded default: SQLite connector database, emulators on loopback.
demo: $(STAMP)
	$(BIN)/connector-pipelines demo

# The whole test suite (PostgreSQL tests run when 127.0.0.1:5432 answers; required when CI=true), with the
# short reliability suite; its figure lines close the summary.
FIGURES := -p connector_pipelines_tests.reliability.figures
test: $(STAMP)
	$(BIN)/pytest -n 2 --dist loadgroup $(FIGURES)

# The long reliability suite (chaos, faults, fuzzing, security): a few more minutes, the same figure lines.
reliability: $(STAMP)
	$(BIN)/pytest -n 2 --dist loadgroup $(FIGURES) --reliability-long -m reliability connector_pipelines_tests/reliability

# The Dagster UI with the sandbox and demo tenants, daemon included, on the demo's own connector home
# (.connector/demo), and the connector service. Ports: make dev UI_PORT=3001 SANDBOX_PORT=8901 SERVICE_PORT=8009
# when the defaults are taken.
UI_PORT ?= 3000
SANDBOX_PORT ?= 8900
SERVICE_PORT ?= 8008
dev: $(STAMP)
	$(BIN)/connector-pipelines dev --port $(UI_PORT) --sandbox-port $(SANDBOX_PORT) --service-port $(SERVICE_PORT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy connector_pipelines connector_pipelines_tests

check: lint typecheck
	$(BIN)/dagster definitions validate -m connector_pipelines.definitions

bench: $(STAMP)
	$(BIN)/connector-pipelines bench plenty_shopware

clean:
	rm -rf $(VENV) .connector .dagster_home .pytest_cache .mypy_cache .ruff_cache

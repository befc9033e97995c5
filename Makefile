# Two commands do all the setup: `make demo` and `make test` (README.md).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
DEMO_FLAGS ?= --simulate
BANDIT_PACKAGES := api ingest services store streams stack models dispatch simulators
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test test-unit test-e2e test-timescale lint security clean timescale

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11 is required (python3.11 not found)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/fieldflow up $(DEMO_FLAGS)

test: $(STAMP)
	$(VENV)/bin/lint-imports
	$(PY) -m pytest

test-unit: $(STAMP)
	$(PY) -m pytest tests/unit

test-e2e: $(STAMP)
	$(PY) -m pytest tests/e2e

# TimescaleDB from vendor/timescaledb into the venv's embedded PostgreSQL (cmake + a C
# compiler; ~1 min on 2 cores, cached under ~/.cache/timescaledb-build).
timescale: $(STAMP)
	$(VENV)/bin/fieldflow timescale install

# The telemetry, KPI and stream e2e tests on TimescaleDB (after `make timescale`).
TIMESCALE_TESTS ?= tests/e2e/test_rollups.py tests/e2e/test_streams.py
test-timescale: $(STAMP)
	$(PY) -m pytest --db-flavor=timescale $(TIMESCALE_TESTS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# bandit at medium severity and up (also run by tests/unit/test_bandit.py); every finding
# left in the code carries a `# nosec <id>` with its reason (docs/security.md)
security: $(STAMP)
	$(VENV)/bin/bandit -q -r $(BANDIT_PACKAGES) --severity-level medium

clean:
	rm -rf $(VENV) .fieldflow .mypy_cache .ruff_cache .pytest_cache .import_linter_cache

# Bitstride: `make run` starts everything on embedded defaults; `make test` checks everything.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install run lint test test-unit test-integration test-e2e test-faults bench clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "Bitstride needs Python 3.11 or newer (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

# Re-installs whenever pyproject.toml changes, so `make test` always runs what is declared.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/bitstride dev --host 127.0.0.1 --port 8000

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy domain application

test: lint
	$(BIN)/pytest

test-unit: install
	$(BIN)/pytest tests/unit tests/property

test-integration: install
	$(BIN)/pytest tests/integration

test-e2e: install
	$(BIN)/pytest tests/e2e

# Fuzzing, kill -9, outages and races (also part of `make test`); RELIABILITY.md lists them.
test-faults: install
	$(BIN)/pytest tests/faults

# Real Postgres and Redis (started if not running), wrk on loopback; writes BENCHMARKS.md.
# BENCH_SECONDS, BENCH_ROUNDS, BENCH_ONLY=write,read,... and more: see bench/config.py.
bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .hypothesis

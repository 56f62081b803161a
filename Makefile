# One task runner. `make demo` and `make test` work on a fresh machine with Python >= 3.11.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint typecheck unit bench postgres chromium clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(BIN)/.installed  ## build the reference trial and its report in out/
	$(BIN)/alstrial demo --out out --force

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(BIN)/.installed
	$(BIN)/mypy

unit: $(BIN)/.installed
	$(BIN)/pytest

test: lint typecheck unit  ## ruff, mypy and pytest (SQLite and, when reachable, PostgreSQL)

bench: $(BIN)/.installed
	$(BIN)/python bench/bench_store.py
	$(BIN)/python bench/bench_scoring.py
	$(BIN)/python bench/bench_mmrm.py
	$(BIN)/python bench/bench_cold_start.py
	$(BIN)/python bench/bench_scale.py
	$(BIN)/python bench/bench_web.py
	$(BIN)/pip install -q -e '.[bench]' && $(BIN)/python bench/bench_flow.py

postgres:  ## install (Debian) and start a local PostgreSQL server for the tests
	bash scripts/ensure-postgres.sh

chromium:  ## install Debian's Chromium for the end-to-end browser tests
	bash scripts/ensure-chromium.sh

clean:
	rm -rf $(VENV) out .mypy_cache .ruff_cache .pytest_cache

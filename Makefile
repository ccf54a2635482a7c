# OncoBase — `make demo` runs the platform end to end, `make test` passes the tests.
# Both bootstrap everything on a fresh machine: uv (from PyPI, into .tools/), then the
# locked environment (.venv/ from uv.lock).

PYTHON ?= python3
UV_VERSION := 0.13.8
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
RUN := $(UV) run --frozen
export ONCOBASE_HOME ?= $(CURDIR)/.oncobase

.PHONY: setup demo test lint format bench clean help

help:
	@echo "make demo   set up and run the whole platform on the embedded default (DuckDB)"
	@echo "make test   set up, lint and run the tests"
	@echo "make lint   ruff check, ruff format --check, mypy --strict"
	@echo "make bench  run the benchmarks in benchmarks/"

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/python -m pip install --quiet "uv==$(UV_VERSION)"

.venv/.synced: uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen
	@touch $@

setup: .venv/.synced

demo: setup
	$(RUN) oncobase demo

lint: setup
	$(RUN) ruff check src tests benchmarks
	$(RUN) ruff format --check src tests benchmarks
	$(RUN) mypy

format: setup
	$(RUN) ruff format src tests benchmarks
	$(RUN) ruff check --fix src tests benchmarks

test: setup lint
	$(RUN) pytest

bench: setup
	$(RUN) python benchmarks/bench_bulk_load.py
	$(RUN) python benchmarks/bench_stats_survival.py
	$(RUN) python benchmarks/bench_synth.py --patients 100000
	$(RUN) python benchmarks/bench_ingest_fhir.py
	$(RUN) python benchmarks/bench_linkage.py
	$(RUN) python benchmarks/bench_cohorts.py
	$(RUN) python benchmarks/bench_quality.py
	$(RUN) python benchmarks/bench_nlp.py
	$(RUN) python benchmarks/bench_web.py

clean:
	rm -rf .venv .tools .oncobase .pytest_cache .mypy_cache .ruff_cache

# imgshelf: `make run` starts the local stack, `make test` runs the suite. Both build .venv first.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
BIN := $(VENV)/bin
STAGE ?= dev

# The first Python >= 3.12 on PATH (pyenv resolves `python3` through .python-version).
PYTHON := $(shell for p in python3.13 python3 python3.12 python; do \
	if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then \
	command -v $$p; break; fi; done)

.PHONY: help venv run test test-fast lint bench deploy clean

help:
	@echo "make run     the whole local stack at http://127.0.0.1:8000 (embedded AWS via moto)"
	@echo "make test    the test suite, offline"
	@echo "make lint    ruff and mypy"
	@echo "make bench   benchmarks, printed as a table"
	@echo "make deploy STAGE=dev|prod   CloudFormation stack + chalice deploy"

$(VENV)/.stamp: requirements.txt requirements-dev.txt
	@if [ -z "$(PYTHON)" ]; then \
		echo "imgshelf needs Python 3.12 or newer (3.13 preferred, see .python-version);" >&2; \
		echo "no such interpreter was found on PATH. Install one (e.g. 'pyenv install 3.13') and retry." >&2; \
		exit 1; fi
	@echo "creating $(VENV) with $(PYTHON)"
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet --quiet -r requirements-dev.txt
	@touch $@

venv: $(VENV)/.stamp

run: venv
	$(BIN)/python -m infra.local

test: venv
	$(BIN)/python -m pytest

test-fast: venv
	$(BIN)/python -m pytest -m "not slow and not browser"

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: venv
	@$(BIN)/python -m pip install --quiet --quiet -r requirements-bench.txt
	$(BIN)/python -m bench

deploy: venv
	$(BIN)/python -m infra.deploy --stage $(STAGE)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

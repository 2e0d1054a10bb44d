# EasyQuant: the two commands a user needs are `make up` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMPS := $(VENV)/.stamps
export EASYQUANT_HOME ?= $(CURDIR)/.easyquant
# make up EXECUTOR=celery [WORKERS=2]: Airflow as separate processes with Celery workers
ifdef EXECUTOR
export EASYQUANT_EXECUTOR := $(EXECUTOR)
endif
ifdef WORKERS
export EASYQUANT_WORKERS := $(WORKERS)
endif

.PHONY: help up broker down status test test-celery test-image test-fast lint bench soak venv dashboard system-deps clean

help:
	@echo "make up      set up (venv, dashboard, database) and start the whole system"
	@echo "make up EXECUTOR=celery WORKERS=2   the same with Airflow's Celery workers"
	@echo "make down    stop exactly what 'make up' started; data stays"
	@echo "make status  what runs, where"
	@echo "make test    install what the tests need and run the whole suite"
	@echo "make test-image   each docker-compose.yaml command in a venv built like the image"
	@echo "make lint    ruff and mypy"
	@echo "make bench   benchmarks against peer libraries (writes bench/RESULTS.md figures)"

# --- setup -----------------------------------------------------------------
$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMPS)/install: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e ".[test,celery]"
	@mkdir -p $(STAMPS) && touch $@

$(STAMPS)/bench: pyproject.toml $(STAMPS)/install
	$(BIN)/pip install -q -e ".[test,celery,bench]"
	@mkdir -p $(STAMPS) && touch $@

venv: $(STAMPS)/install

# System packages the browser tests need (Debian's chromium); no-op when present.
system-deps:
	@bash scripts/system-deps.sh

# Node.js for the build: the machine's npm, else one from PyPI inside the venv (see the script)
dashboard: venv
	@VENV_DIR=$(VENV) bash scripts/build-dashboard.sh

# --- run -------------------------------------------------------------------
up: venv dashboard broker
	@$(BIN)/python -m easyquant.stack up

# Celery's broker when no EASYQUANT_CELERY_BROKER_URL: Debian's redis-server, installed if missing
broker:
	@if [ "$$EASYQUANT_EXECUTOR" = celery ] && [ -z "$$EASYQUANT_CELERY_BROKER_URL" ] \
		&& ! command -v redis-server >/dev/null; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server; fi

down:
	@if [ -x $(BIN)/python ]; then $(BIN)/python -m easyquant.stack down; else echo "nothing to stop (no $(VENV))"; fi

status:
	@$(BIN)/python -m easyquant.stack status

# --- quality ---------------------------------------------------------------
test: venv system-deps dashboard
	cd monitor_api/dashboard && npm test --silent
	$(BIN)/python -m pytest -m "not image" $(PYTEST_ARGS)

# only the stack with Celery workers (part of make test): a sweep and the ETL over two workers,
# one worker killed mid-sweep (about 5 minutes)
test-celery: venv system-deps
	$(BIN)/python -m pytest -m celery $(PYTEST_ARGS)

# the image's environment: a venv built as the Dockerfile builds it, each compose service's
# command answering --help there (about 3 minutes: a full install from the package index)
test-image: venv
	$(BIN)/python -m pytest -m image $(PYTEST_ARGS)

test-fast: venv
	$(BIN)/python -m pytest -m "not e2e and not image" $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check easyquant monitor_api dags plugins tests bench
	$(BIN)/ruff format --check easyquant monitor_api dags plugins tests bench
	$(BIN)/mypy

bench: $(STAMPS)/bench
	$(BIN)/python bench/status_latency.py

clean: down
	rm -rf $(VENV) monitor_api/static

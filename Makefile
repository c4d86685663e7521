# `make run` and `make test` do all set-up on a fresh machine; `make setup` is the shared step.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMPS := .setup-stamps
PORT ?= 8000

export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/adplatform
export REDIS_URL ?= redis://127.0.0.1:6379/0

.PHONY: setup run test lint typecheck pytest services migrate clean

setup: $(STAMPS)/python $(STAMPS)/node services migrate

$(STAMPS)/python: requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "setup: Python 3.11+ is needed (set PYTHON=...)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@mkdir -p $(STAMPS) && touch $@

$(STAMPS)/node: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@mkdir -p $(STAMPS) && touch $@

services: $(STAMPS)/python
	@$(PY) scripts/ensure_services.py

migrate: services
	@DJANGO_SETTINGS_MODULE=adplatform.settings.local $(PY) manage.py migrate --noinput -v0

run: setup
	@DJANGO_SETTINGS_MODULE=adplatform.settings.local DJANGO_DEBUG=true PORT=$(PORT) scripts/run.sh

lint: $(STAMPS)/python
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMPS)/python
	$(VENV)/bin/mypy

pytest: setup
	@scripts/ensure_chromium.sh
	DJANGO_SETTINGS_MODULE=adplatform.settings.local $(PY) manage.py makemigrations --check --dry-run
	DJANGO_SETTINGS_MODULE=adplatform.settings.test DJANGO_ALLOW_ASYNC_UNSAFE=true $(VENV)/bin/pytest

test: setup lint typecheck pytest

# Delivery benchmarks (docs/benchmarks.md): their own database and Redis database, never part of `make test`.
.PHONY: bench
bench: services
	@command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(PY) -m bench.delivery.run


clean:
	rm -rf $(VENV) node_modules $(STAMPS) staticfiles .pytest_cache .ruff_cache .mypy_cache

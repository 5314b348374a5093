# QuickBot portal. `make run` and `make test` do all setup on a fresh machine.
.DEFAULT_GOAL := help
SHELL := /bin/bash

VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=
# Test processes: one per CPU core, at most 8 (each takes a Redis database of its own, see
# quickbot/test_settings.py). TEST_WORKERS=0 runs in this one process (a debugger, pdb).
TEST_WORKERS ?= auto

# First Python >= 3.12 among python3.13, python3.12, python3 (pyenv shims that are
# not selected fail the version probe, so they are skipped too).
PYTHON := $(shell for c in python3.13 python3.12 python3; do \
	if command -v $$c >/dev/null 2>&1 && $$c -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then echo $$c; break; fi; done)

.PHONY: help run test screenshots lint format bench migrate demo clean check-python

help: ## List the make targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-12s %s\n", $$1, $$2}'

check-python:
	@if [ -z "$(PYTHON)" ]; then echo "error: QuickBot needs Python 3.12 or newer (tried python3.13, python3.12, python3)." >&2; exit 1; fi

# uv (from PyPI, into the venv) installs the project: the same packages as pip, in about
# 4 s instead of pip's 27 s on a fresh clone (README, "Setting up").
$(PY): | check-python
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv

$(STAMP): pyproject.toml | $(PY)
	$(VENV)/bin/uv pip install --quiet --python $(PY) -e ".[dev]"
	@touch $(STAMP)

migrate: $(STAMP) ## Apply database migrations
	$(PY) manage.py migrate --noinput

demo: migrate ## Create (or refresh) the demo account and its sample tokens
	$(PY) manage.py seed_demo --url http://$(HOST):$(PORT)

# The task worker (e-mails, leak reports) runs beside the development server; when either
# stops (Ctrl-C stops both), the other is stopped too.
run: demo ## Set up everything, then serve on http://127.0.0.1:8000 (and run the task worker)
	@$(PY) -m common.console_mail
	@QUICKBOT_SITE_URL="$${QUICKBOT_SITE_URL:-http://$(HOST):$(PORT)}" $(PY) manage.py tasks_worker --worker-id "make-run-$(PORT)" & worker=$$!; \
	trap 'pkill -TERM -P $$worker 2>/dev/null; kill $$worker 2>/dev/null; wait $$worker' EXIT; \
	QUICKBOT_SITE_URL="$${QUICKBOT_SITE_URL:-http://$(HOST):$(PORT)}" $(PY) manage.py runserver $(HOST):$(PORT)

test: $(STAMP) ## Run the whole test suite in parallel (browser tests use /usr/bin/chromium)
	$(PY) -m pytest --numprocesses $(TEST_WORKERS) --maxprocesses 8 --dist worksteal $(PYTEST_ARGS)

screenshots: $(STAMP) ## Run the browser tests and save their screenshots to artifacts/screenshots/
	QUICKBOT_SCREENSHOTS=1 $(PY) -m pytest --numprocesses $(TEST_WORKERS) --maxprocesses 8 --dist worksteal tests/browser $(PYTEST_ARGS)

bench: BASELINE ?=
bench: $(STAMP) ## Benchmark the API path against a plain view (adds PostgreSQL+Redis when DATABASE_URL/REDIS_URL are set; BASELINE=<git rev> for an A/B run)
	$(PY) bench/run.py$(if $(BASELINE), --baseline $(BASELINE))

lint: $(STAMP) ## ruff check and format check
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(STAMP) ## Apply ruff's fixes and formatting
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

clean: ## Remove the virtualenv, local database and test artifacts
	rm -rf $(VENV) db.sqlite3 db.sqlite3-* artifacts .pytest_cache .ruff_cache staticfiles

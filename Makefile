# Two commands for a fresh machine: `make run` (start the CRM with demo data) and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/.venv
PYTHON_VERSION := $(shell cat .python-version)
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
CRM := $(VENV)/bin/crm
TEST_PG_URL ?= postgresql://postgres@127.0.0.1:5432/crm
BENCH_PG_URL ?= postgresql://postgres@127.0.0.1:5432/crm_bench
BENCH_CUSTOMERS ?= 1000000

.PHONY: help setup run test lint format bench browsers messages screenshots clean

help:
	@echo "make run    - set up, migrate, load demo data, start http://127.0.0.1:8000"
	@echo "make test   - set up and run the whole test suite (SQLite, then PostgreSQL)"
	@echo "make lint   - ruff, mypy, makemigrations --check"
	@echo "make bench  - benchmarks on PostgreSQL (BENCH_CUSTOMERS=$(BENCH_CUSTOMERS))"

$(UV):
	@PY=$$(PYENV_VERSION=$(PYTHON_VERSION) pyenv which python 2>/dev/null || command -v python3); \
	  $$PY -m venv $(TOOLS) && $(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==0.13.8

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	@PY=$$(PYENV_VERSION=$(PYTHON_VERSION) pyenv which python 2>/dev/null || command -v python$(basename $(PYTHON_VERSION))); \
	  $(UV) sync --frozen --python "$$PY"
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

messages: $(VENV)/.synced
	@command -v msgfmt >/dev/null || (apt-get update -qq && apt-get install -y -qq gettext >/dev/null)
	@cd crm && CRM_ENV=development ../$(PY) -m django compilemessages --settings=crm.settings -v 0 --ignore=.venv

setup: $(VENV)/.synced node_modules/.installed messages

run: setup
	CRM_ENV=development CRM_DEBUG=true $(CRM) firstrun
	CRM_ENV=development CRM_DEBUG=true $(CRM) serve --with-worker

browsers:
	@command -v chromium >/dev/null && fc-list 2>/dev/null | grep -qi wqy || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver fonts-wqy-microhei >/dev/null)

# PYTEST_ARGS, e.g. "-n 2" (pytest-xdist): measured no faster on these shared 2-core machines, so off by default.
PYTEST_ARGS ?=
test: setup browsers
	bash scripts/test.sh $(PYTEST_ARGS)

screenshots: setup browsers
	CRM_SCREENSHOTS=1 CRM_ENV=test DJANGO_ALLOW_ASYNC_UNSAFE=true $(VENV)/bin/pytest -p no:cacheprovider -q -m browser crm/web

lint: $(VENV)/.synced
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	CRM_ENV=test $(VENV)/bin/mypy
	CRM_ENV=test $(CRM) makemigrations --check --dry-run

format: $(VENV)/.synced
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: setup
	@command -v wrk >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null) || true
	BENCH_PG_URL=$(BENCH_PG_URL) BENCH_CUSTOMERS=$(BENCH_CUSTOMERS) $(PY) bench/run.py

clean:
	rm -rf $(VENV) $(TOOLS) node_modules var/static

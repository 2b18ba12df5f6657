# BrokerDesk: every target is listed by `make help`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
VENDOR := core/web/static/vendor
PG_ADMIN_URL ?= postgresql://127.0.0.1:5432/test
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0
# the PostgreSQL leg runs beside the SQLite leg in `make test`, on a Redis database of its own
POSTGRES_REDIS_URL ?= redis://127.0.0.1:6379/1
PYTEST_ARGS ?=
# Playwright drives the system's chromium (`make browser`); it must never download a browser of its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: readme-config help install assets browser demo test lint fmt typecheck layers test-sqlite test-postgres services bench clean

help: ## list every target
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch node_modules/.package-lock.json

$(VENDOR)/.copied: node_modules/.package-lock.json
	mkdir -p $(VENDOR)
	cp node_modules/htmx.org/dist/htmx.min.js $(VENDOR)/htmx.min.js
	cp node_modules/chart.js/dist/chart.umd.min.js $(VENDOR)/chart.umd.min.js
	touch $(VENDOR)/.copied

install: $(STAMP) assets ## create .venv and install Python and npm dependencies

assets: $(VENDOR)/.copied ## install front-end libraries from npm and copy them into the static folder

# The end-to-end test drives Debian's chromium through Playwright; Playwright never downloads a browser.
# A CJK font makes its Chinese screenshots readable.
browser: ## install Debian's chromium (and a CJK font) for the end-to-end browser test when missing
	@if ! command -v chromium >/dev/null 2>&1 || ! fc-list :lang=zh 2>/dev/null | grep -q .; then \
		echo "installing Debian's chromium and a CJK font for the end-to-end test"; \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y \
			--no-install-recommends chromium fonts-wqy-microhei || exit 1; \
	fi
	@command -v chromium >/dev/null 2>&1 || { echo "chromium is missing and could not be installed" >&2; exit 1; }

demo: install ## run the whole product on SQLite and loopback with demo data
	$(BIN)/brokerdesk demo

lint: install ## ruff (lint and format check), mypy and import-linter
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy core ledger kyc mt_bridge ib cashier crm risk reports comms support knowledge analytics webhooks portal backoffice workers cli
	$(BIN)/lint-imports

fmt: install ## format the code with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

services: ## start PostgreSQL and Redis when they are down
	@./scripts/ensure-services

test-sqlite: install ## the test suite on SQLite
	BROKERDESK_TEST_DATABASE=sqlite TEST_REDIS_URL=$(TEST_REDIS_URL) $(BIN)/pytest $(PYTEST_ARGS)

test-postgres: install services browser ## the test suite on PostgreSQL (a fresh database per run), with the browser test
	BROKERDESK_TEST_DATABASE=postgresql TEST_PG_ADMIN_URL=$(PG_ADMIN_URL) TEST_REDIS_URL=$(POSTGRES_REDIS_URL) $(BIN)/pytest $(PYTEST_ARGS)

test: install services browser ## everything CI runs: lint, and the suite on SQLite and on PostgreSQL, side by side
	$(MAKE) --no-print-directory --output-sync=target -j3 lint test-sqlite test-postgres

bench: install services ## every benchmark on PostgreSQL
	@for script in bench/[!_]*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean: ## remove the virtualenv, node_modules and caches
	rm -rf $(VENV) node_modules $(VENDOR) .pytest_cache .mypy_cache .ruff_cache var

readme-config: install ## rewrite the README's configuration table from the settings
	./scripts/update-readme-config

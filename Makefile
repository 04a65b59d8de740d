# Gatehouse: `make dev` runs the product locally, `make test` runs every test.
# Both install what they need: a virtual environment in .venv with pinned Python
# packages, and node_modules with Amazon's DynamoDB Local (run with java). `make test` also
# installs Debian's chromium when /usr/bin/chromium is missing (the console's browser tests).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
PYTEST_ARGS ?=

.PHONY: dev test lint typecheck bench build prereqs chromium clean help

help:
	@echo "make dev    run Gatehouse locally on http://127.0.0.1:$${GATEHOUSE_PORT:-3000} (Ctrl-C stops everything)"
	@echo "make test   install what is needed and run lint, cfn-lint and the whole test suite"
	@echo "make bench  print the performance table (authorizer, rate limiter, cold start)"
	@echo "make lint   ruff, cfn-lint and the import contracts (lint-imports);  make typecheck  mypy;  make build  sam build (no Docker)"

prereqs:
	@bash scripts/check-prereqs.sh

chromium:
	@bash scripts/ensure-chromium.sh

$(STAMP): requirements.txt requirements-dev.txt
	@bash scripts/check-prereqs.sh python
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	@bash scripts/check-prereqs.sh node
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

dev: prereqs $(STAMP) $(NODE_STAMP)
	$(PY) -m local

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/cfn-lint template.yaml
	PYTHONPATH=layers/common $(VENV)/bin/lint-imports

typecheck: $(STAMP)
	$(VENV)/bin/mypy layers/common/gatehouse local

test: prereqs chromium $(STAMP) $(NODE_STAMP) lint typecheck
	$(PY) -m pytest $(PYTEST_ARGS)

bench: prereqs $(STAMP) $(NODE_STAMP)
	PYTHONPATH=layers/common:. $(PY) -m bench $(BENCH_ARGS)

build:
	@command -v sam >/dev/null || { echo "make build needs the AWS SAM CLI (pip install aws-sam-cli)"; exit 1; }
	sam build

clean:
	rm -rf $(VENV) node_modules .gatehouse .aws-sam .pytest_cache .ruff_cache .mypy_cache

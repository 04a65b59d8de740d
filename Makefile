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
PYTEST_WORKERS ?= -n 2 --dist loadfile --no-loadscope-reorder
# Tools with pins of their own live in their own virtual environments, so they never fight the
# project's (checkov's pins conflict with requirements-dev.txt; the SAM CLI's are its own).
TOOLS := .tools
SAM_VERSION := 1.170.0
CHECKOV_VERSION := 3.3.30
SAM_STAMP := $(TOOLS)/sam/.installed-$(SAM_VERSION)
CHECKOV_STAMP := $(TOOLS)/checkov/.installed-$(CHECKOV_VERSION)

.PHONY: dev test install lint typecheck bench build prereqs chromium clean help

help:
	@echo "make dev    run Gatehouse locally on http://127.0.0.1:$${GATEHOUSE_PORT:-3000} (Ctrl-C stops everything)"
	@echo "make test   install what is needed and run lint, cfn-lint and the whole test suite"
	@echo "make bench  print the performance table (authorizer, rate limiter, cold start)"
	@echo "make lint   ruff, cfn-lint, checkov and the import contracts (lint-imports);  make typecheck  mypy"
	@echo "make build  sam build without Docker (the SAM CLI in .tools/sam), then the layer's size"

prereqs:
	@bash scripts/check-prereqs.sh

chromium:
	@bash scripts/ensure-chromium.sh

$(STAMP): requirements.txt requirements-dev.txt
	@bash scripts/check-prereqs.sh python
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

$(SAM_STAMP):
	@bash scripts/check-prereqs.sh python
	rm -rf $(TOOLS)/sam && $(PYTHON) -m venv $(TOOLS)/sam
	$(TOOLS)/sam/bin/python -m pip install --quiet --disable-pip-version-check aws-sam-cli==$(SAM_VERSION)
	@touch $@

$(CHECKOV_STAMP):
	@bash scripts/check-prereqs.sh python
	rm -rf $(TOOLS)/checkov && $(PYTHON) -m venv $(TOOLS)/checkov
	$(TOOLS)/checkov/bin/python -m pip install --quiet --disable-pip-version-check checkov==$(CHECKOV_VERSION)
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	@bash scripts/check-prereqs.sh node
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

dev: prereqs $(STAMP) $(NODE_STAMP)
	$(PY) -m local

lint: $(STAMP) $(CHECKOV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/cfn-lint template.yaml
	$(TOOLS)/checkov/bin/checkov --file template.yaml --framework cloudformation --quiet --compact --skip-download
	PYTHONPATH=layers/common $(VENV)/bin/lint-imports

typecheck: $(STAMP)
	$(VENV)/bin/mypy layers/common/gatehouse local scripts bench

# What `make test` installs, in parallel (downloads wait on the network, not on the CPU).
install: prereqs chromium $(STAMP) $(NODE_STAMP) $(SAM_STAMP) $(CHECKOV_STAMP)

# Installs, then lint, typecheck and build side by side (-O keeps each one's output together),
# then the suite on two workers (pytest-xdist: each worker runs a local stack of its own; files
# stay whole on one worker, so a file's tests share its fixtures as they do in a serial run).
test:
	@$(MAKE) --no-print-directory -j6 install
	@$(MAKE) --no-print-directory -j3 -O lint typecheck build
	$(PY) -m pytest $(PYTEST_WORKERS) $(PYTEST_ARGS)

bench: prereqs $(STAMP) $(NODE_STAMP)
	PYTHONPATH=layers/common:. $(PY) -m bench $(BENCH_ARGS)

# No Docker: the layer's makefile fetches aarch64 wheels; the functions have no dependencies of their own.
build: $(SAM_STAMP)
	SAM_CLI_TELEMETRY=0 PATH="$(CURDIR)/$(TOOLS)/sam/bin:$$PATH" $(TOOLS)/sam/bin/sam build
	@$(PYTHON) scripts/layer_size.py .aws-sam/build/CommonLayer

clean:
	rm -rf $(VENV) $(TOOLS) node_modules .gatehouse .aws-sam .pytest_cache .ruff_cache .mypy_cache

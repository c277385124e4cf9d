# cxlens — `make help` lists the targets.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
SYS_STAMP := $(VENV)/.system-packages
WORKSPACE ?= demo-workspace
SHARED_DATA ?= ../shared/data

.DEFAULT_GOAL := help
.PHONY: help demo demo-build test test-fast bench lint install install-test system-packages clean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk -F':.*?## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(VENV)/bin/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel

$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install -q -e ".[speech]"
	touch $@

$(TEST_STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install -q -e ".[spark,speech,bench,test]"
	touch $@ $(STAMP)

install: $(STAMP) ## Create .venv and install cxlens

install-test: $(TEST_STAMP) system-packages ## Install cxlens with every test extra + system packages

system-packages: ## Debian packages the tests need (chromium, CJK font, espeak-ng, sox, Java)
	@if [ ! -x /usr/bin/chromium ] || ! command -v espeak-ng >/dev/null || ! command -v sox >/dev/null \
	   || ! fc-list 2>/dev/null | grep -qi wenquanyi || ! command -v java >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    chromium fonts-wqy-microhei espeak-ng sox default-jre-headless >/dev/null; fi

demo: $(STAMP) ## Build the demo workspace and serve the web UI
	$(BIN)/cxlens demo --workspace $(WORKSPACE)

demo-build: $(STAMP) ## Build the demo workspace without serving
	$(BIN)/cxlens demo --workspace $(WORKSPACE) --no-serve

test: install-test ## Run the whole test suite (slow, Spark and browser suites included)
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

test-fast: install-test ## Run the suite without the slow marker
	$(BIN)/python -m pytest -n 2 -q -m "not slow"

bench: install-test ## Run the benchmarks (writes benchmarks/results/*.json)
	$(BIN)/python -m benchmarks.run --data $(SHARED_DATA)

lint: install-test ## ruff lint + format check
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

clean: ## Remove the venv and generated workspaces
	rm -rf $(VENV) $(WORKSPACE) .pytest_cache

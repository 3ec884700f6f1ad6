# The two commands: `make demo` (serve the dashboard) and `make test` (run the whole suite).
# Every step is idempotent and skips work already done.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DB ?= data/lungdx.db

.PHONY: demo test setup chromium clean-data

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $(STAMP)

$(DB): | $(STAMP)
	$(BIN)/lungdx init --demo --db $(DB)

demo: $(STAMP) $(DB)
	$(BIN)/lungdx serve --db $(DB)

# Debian's Chromium for the browser tests; Playwright never downloads a browser here.
chromium:
	@test -x /usr/bin/chromium || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; }

test: $(STAMP) chromium
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(BIN)/python -m pytest $(PYTEST_ARGS)

clean-data:
	rm -rf data/lungdx.db* data/images data/demo

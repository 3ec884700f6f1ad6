# The two commands: `make demo` (serve the dashboard) and `make test` (run the whole suite).
# Every step is idempotent and skips work already done.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DB ?= data/lungdx.db

CATALOGUES := $(patsubst %.po,%.mo,$(wildcard lungdx_widgets/locale/*/LC_MESSAGES/lungdx.po))

.PHONY: demo test lint setup chromium fonts postgresql clean-data

setup: $(STAMP) $(CATALOGUES) fonts

# Message catalogues (.po in git, .mo compiled here; lungdx_widgets/i18n.py compiles a stale one in memory).
%.mo: %.po | $(STAMP)
	$(BIN)/pybabel compile -i $< -o $@

# Debian's Noto CJK fonts: Hangul in the dashboard and in PDF reports instead of boxes.
fonts:
	@test -e /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk; }

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $(STAMP)

$(DB): | $(STAMP) $(CATALOGUES)
	$(BIN)/lungdx init --demo --db $(DB)

demo: setup $(DB)
	$(BIN)/lungdx serve --db $(DB)

# Debian's Chromium for the browser tests (Playwright never downloads a browser here), and poppler's
# pdffonts, which checks that PDF reports embed their Hangul font.
chromium:
	@test -x /usr/bin/chromium -a -x /usr/bin/pdffonts || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver poppler-utils; }

# Debian's PostgreSQL server binaries for the store tests on PostgreSQL: each test session runs its own
# private cluster (tests/pg_cluster.py: initdb + pg_ctl in a temp folder); none touches a system cluster.
postgresql:
	@command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; }

# Lint and type checks first: a regression fails `make test` (and CI) before the long suite runs.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

test: setup chromium orthanc postgresql lint
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(BIN)/python -m pytest $(PYTEST_ARGS)

# Debian's Orthanc + DICOMweb plugin: the real PACS of the PACS tests, benchmark and `make demo-pacs`
# (the project writes its configuration and starts it; the system service stays off).
orthanc:
	@test -x /usr/sbin/Orthanc -a -e /usr/share/orthanc/plugins/libOrthancDicomWeb.so || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq orthanc orthanc-dicomweb; }

# Demo with a PACS: a local Orthanc holding the shared DICOMs; the dashboard's worklist fills from it.
demo-pacs: $(STAMP) orthanc $(DB)
	$(BIN)/lungdx pacs demo --db $(DB)

.PHONY: orthanc demo-pacs

clean-data:
	rm -rf data/lungdx.db* data/images data/demo

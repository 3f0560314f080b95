# OneStop: `make demo` and `make test` are all a fresh clone needs.
# Each bootstraps uv, the virtualenv and the locked dependencies on first use.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
SYNCED := $(VENV)/.synced-$(shell cat uv.lock pyproject.toml 2>/dev/null | cksum | cut -d' ' -f1)
# The seal simulator draws specimen impressions (印模) with this CJK font (Debian package).
CJK_FONT := /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc
# The portal's browser tests drive Debian's Chromium through Playwright (never a downloaded one).
CHROMIUM := /usr/bin/chromium

.PHONY: demo test lint format messages services clean help
.DEFAULT_GOAL := help

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(UV):
	@$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || $(MAKE) --no-print-directory apt PKG=python3-venv
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# Bytecode is compiled at install: where PYTHONDONTWRITEBYTECODE is set (as on our CI
# machines) every process would otherwise compile its imports anew, ~1.5 s per start.
$(SYNCED): $(UV) pyproject.toml uv.lock
	UV_PYTHON=$(PYTHON) $(UV) sync --frozen --quiet --compile-bytecode
	rm -f $(VENV)/.synced-* && touch $@

$(CJK_FONT):
	@$(MAKE) --no-print-directory apt PKG=fonts-wqy-zenhei

$(CHROMIUM):
	@$(MAKE) --no-print-directory apt PKG=chromium

.PHONY: apt
apt:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(PKG); \
	else echo "Please install the Debian package '$(PKG)' (sudo apt-get install $(PKG))"; exit 1; fi

demo: $(SYNCED) | $(CJK_FONT) ## File the demo scenario's filings end to end, embedded (no server needed)
	$(VENV)/bin/onestop demo scenarios/demo.yaml

test: $(SYNCED) lint | $(CJK_FONT) $(CHROMIUM) ## Run lint, types and the whole test suite (integration tests need PG + RabbitMQ)
	$(VENV)/bin/python -m tests.services ensure
	$(VENV)/bin/python -m pytest

lint: $(SYNCED) ## ruff format check, ruff lint, mypy, import contracts
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

format: $(SYNCED) ## Reformat and fix what ruff can
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

messages: $(SYNCED) ## Collect the portal's messages into its catalogs (then translate the new ones)
	@mkdir -p var
	$(VENV)/bin/pybabel extract --no-location -F babel.cfg -o var/messages.pot .
	$(VENV)/bin/pybabel update -i var/messages.pot -d bank_portal/translations \
	  --ignore-obsolete --no-fuzzy-matching --width 100

clean: ## Remove the virtualenv, tools and local databases
	rm -rf $(VENV) $(TOOLS) var

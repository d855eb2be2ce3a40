# Marquee: the two commands are `make demo` and `make test`; both set everything up first.
# Only Python 3.11 is needed on the machine: uv is bootstrapped with pip when missing.

SHELL := /bin/bash
PYTHON ?= python3
BOOTSTRAP := .uv-bootstrap
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/$(BOOTSTRAP)/bin/uv)
CHROMIUM := /usr/bin/chromium

.PHONY: help setup browser players demo test test-fast test-integration test-e2e bench lint lint-sql format docs clean history screenshots

help:
	@echo "make demo   - install everything and run the whole platform locally"
	@echo "make test   - install everything and run the test suite (every tier)"
	@echo "make test-fast - the unit tier only: in-process tests, a few minutes (docs/testing.md)"
	@echo "make test-integration / make test-e2e - one of the slower tiers"
	@echo "make bench  - run the benchmarks (figures as ratios to a same-run baseline; BENCH_ARGS= skips dbt)"
	@echo "make soak   - the platform under load for SOAK_MINUTES (30), then its figures and an exactly-once check"
	@echo "make history DAYS=7 CREATORS=100 - simulated history into the local log, then the pipeline"
	@echo "make lint   - ruff, mypy and the import rule (make lint-sql: sqlfluff over the dbt models)"
	@echo "make format - ruff format the Python code"
	@echo "make docs   - generate and serve the dbt docs"
	@echo "make screenshots - one PNG per dashboard page into ./screenshots (MARQUEE_SCREENSHOTS_DIR)"
	@echo "make clean  - remove local data (MARQUEE_DATA_DIR, default ./data)"

$(BOOTSTRAP)/bin/uv:
	@echo "uv not found: installing it into $(BOOTSTRAP) with pip"
	$(PYTHON) -m venv $(BOOTSTRAP)
	$(BOOTSTRAP)/bin/pip install --quiet uv

setup: $(if $(shell command -v uv 2>/dev/null),,$(BOOTSTRAP)/bin/uv)
	$(UV) sync --frozen --python 3.11

# The dashboard's real-browser test drives Debian's chromium (no browser download here).
browser:
	@if [ ! -x $(CHROMIUM) ]; then \
		echo "installing Debian chromium for the browser test"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
		$$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi

# The CMCD player test (tests/test_cmcd_players.py): ffmpeg makes its stream, node drives
# chromium, and the players come from npm at the versions of players/package-lock.json.
players: browser
	@# Only what is missing: Debian's npm conflicts with a Node.js that ships its own.
	@missing="$$(command -v ffmpeg >/dev/null || echo ffmpeg) $$(command -v npm >/dev/null || echo nodejs npm)"; \
	if [ -n "$$(echo $$missing)" ]; then \
		echo "installing $$missing for the CMCD player test"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
		$$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@if ! cmp -s players/package-lock.json players/node_modules/.installed-lock.json; then \
		npm ci --prefix players --no-audit --no-fund && \
		cp players/package-lock.json players/node_modules/.installed-lock.json; \
	fi

demo: setup
	$(UV) run python -m tools.demo

# Every tier; the tiers are pytest markers, one per test module (docs/testing.md).
test: setup browser players
	$(UV) run pytest

test-fast: setup
	$(UV) run pytest -m unit

test-integration: setup
	$(UV) run pytest -m integration

test-e2e: setup browser players
	$(UV) run pytest -m e2e

# The platform's long-running parts under the demo's rate for SOAK_MINUTES (30), then its figures
# and an exactly-once check (docs/reliability.md); not part of `make test`. Kills too:
# make soak SOAK_ARGS="--kill-every 30"
SOAK_MINUTES ?= 30
SOAK_ARGS ?=
.PHONY: soak
soak: setup
	$(UV) run python -m tools.soak --minutes $(SOAK_MINUTES) $(SOAK_ARGS)

# The dbt build times need a 30-day, 1,000-creator history (~57M events), built into
# .bench-cache/ on the first run (about 40 minutes here) and reused after; BENCH_ARGS= skips them.
BENCH_ARGS ?= --dbt-build
bench: setup
	$(UV) run python -m benchmarks $(BENCH_ARGS)

# One full-page PNG per dashboard page (1440 px wide, headless chromium) into ./screenshots or
# MARQUEE_SCREENSHOTS_DIR, over MARQUEE_DATA_DIR when its warehouse is published, else over the
# golden scenario built into a temporary directory.
screenshots: setup browser
	$(UV) run python -m tools.screenshots

# Simulated history into the local log, then the pipeline: make history DAYS=30 CREATORS=1000
DAYS ?= 7
CREATORS ?= 100
history: setup
	$(UV) run python -m tools.history --days $(DAYS) --creators $(CREATORS)

lint: setup
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy .
	$(UV) run lint-imports

lint-sql: setup
	scratch=$$(mktemp -d) && mkdir -p $$scratch/warehouse && \
		cd dbt && MARQUEE_DATA_DIR=$$scratch $(UV) run sqlfluff lint models; \
		status=$$?; rm -rf $$scratch; exit $$status

format: setup
	$(UV) run ruff format .
	$(UV) run ruff check --fix .

docs: setup
	MARQUEE_DATA_DIR=$${MARQUEE_DATA_DIR:-$(CURDIR)/data} $(UV) run dbt docs generate --project-dir dbt --profiles-dir dbt
	MARQUEE_DATA_DIR=$${MARQUEE_DATA_DIR:-$(CURDIR)/data} $(UV) run dbt docs serve --project-dir dbt --profiles-dir dbt --host 127.0.0.1 --port 8080

clean:
	rm -rf $${MARQUEE_DATA_DIR:-data}

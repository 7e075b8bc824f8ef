# The board's two commands: `make demo` serves it, `make test` runs the whole suite.
# Both install what they need first and are safe to run again.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app app
# apt-get needs root; use sudo only where we are not root already.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install install-dev system test stress demo demo-printed bench clean

# What the board needs to run (make demo), then the tests and tools on top (make test). Each
# stamp is newer than the files it was installed from, so a rerun installs nothing and a
# change in either file installs again.
install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# pip's output goes to a log, shown only if it fails: what a newcomer needs to read comes after.
PIP_INSTALL = $(BIN)/pip install --disable-pip-version-check -r

$(VENV)/.installed: requirements.txt
	@$(PYTHON) -m venv $(VENV)
	@echo "Installing the board's packages into $(VENV) (log: $(VENV)/install.log)"
	@$(PIP_INSTALL) requirements.txt >$(VENV)/install.log 2>&1 || { cat $(VENV)/install.log; exit 1; }
	@touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	@echo "Installing the tests' packages into $(VENV) (log: $(VENV)/install-dev.log)"
	@$(PIP_INSTALL) requirements-dev.txt >$(VENV)/install-dev.log 2>&1 \
		|| { cat $(VENV)/install-dev.log; exit 1; }
	@touch $@

# Browser tests drive Debian's chromium through Playwright; Chinese text needs a CJK font.
# logrotate rotates a live gunicorn's logs with the shipped deploy/logrotate.conf.
# Tests start their own private redis-server (the rate limiter's store shared by workers), a
# throwaway PostgreSQL cluster, and nginx in front of two boards; none of them as a service.
# WeasyPrint typesets the day's column as PDF through Pango and HarfBuzz; the print tests read
# the PDF back with poppler's pdftotext and pdftoppm.
system:
	@if ! command -v chromium >/dev/null || ! command -v redis-server >/dev/null \
			|| ! fc-list 2>/dev/null | grep -q "Noto Sans CJK" \
			|| ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
			|| ! command -v pg_dump >/dev/null || ! command -v nginx >/dev/null \
			|| ! dpkg -s libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 >/dev/null 2>&1 \
			|| ! command -v pdftotext >/dev/null || ! command -v pdftoppm >/dev/null \
			|| ! [ -x /usr/sbin/logrotate ]; then \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends \
			chromium fonts-noto-cjk fontconfig redis-server postgresql postgresql-client \
			nginx-light libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 poppler-utils \
			logrotate >/dev/null; \
	fi

# The whole suite on SQLite, then again on PostgreSQL.
test: install-dev system
	$(BIN)/ruff check .
	$(BIN)/pytest
	BOARD_TEST_DATABASE=postgresql $(BIN)/pytest

# The reliability battery at full size (under 20 minutes on SQLite): 200 clients for 60 s with a
# backup and restore drill, 1,000 approvals while workers and the indexer are killed, thousands
# of hostile payloads; then the same on PostgreSQL, with two servers behind nginx, one of them
# killed under load. `make test` runs the same tests at small sizes.
stress: install-dev system
	BATTERY=full $(BIN)/pytest -q -s -o timeout=1800 tests/test_live.py tests/test_live_sessions.py tests/test_live_web.py \
		tests/test_live_input.py tests/test_live_lookups.py tests/test_live_pages.py tests/test_live_mail.py \
		tests/test_backup.py
	BATTERY=full BOARD_TEST_DATABASE=postgresql $(BIN)/pytest -q -s -o timeout=1800 tests/test_live.py \
		tests/test_live_sessions.py tests/test_live_web.py tests/test_live_input.py \
		tests/test_live_lookups.py tests/test_live_pages.py tests/test_live_nodes.py tests/test_live_mail.py \
		tests/test_backup.py

# Benchmarks, on demand: 100,000 notices (the corpus is cached in bench/.cache after the
# first run), the board's search beside SQLite FTS5 and tantivy, and serving under gunicorn,
# alone on SQLite and behind nginx on PostgreSQL with one and two app servers.
BENCH_N ?= 100000
bench: install-dev system
	@command -v wrk >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq wrk >/dev/null; }
	$(BIN)/pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	$(BIN)/python bench/search_peers.py --n $(BENCH_N) --queries-per-class 20 --repeats 1
	$(BIN)/python bench/serving.py --db bench/.cache/$(BENCH_N)/bench.db --index bench/.cache/$(BENCH_N)/whoosh
	$(BIN)/python bench/nodes.py --db bench/.cache/$(BENCH_N)/bench.db
	$(BIN)/python bench/report.py

# The migrations' log goes to a file, shown only if they fail; serve-demo prints the login last.
demo: install
	@$(FLASK) init-db 2>$(VENV)/init-db.log || { cat $(VENV)/init-db.log; exit 1; }
	@$(FLASK) serve-demo

# The seed notices with the dates they were printed on (all of them in the archive), beside
# `make demo`: a database, search index and port of their own.
PRINTED := FLASK_SQLALCHEMY_DATABASE_URI=sqlite:///printed.db \
	FLASK_SEARCH_INDEX_DIR=$(CURDIR)/instance/printed-index FLASK_PUBLIC_URL=http://127.0.0.1:5001
demo-printed: install
	@$(PRINTED) $(FLASK) init-db 2>$(VENV)/init-db.log || { cat $(VENV)/init-db.log; exit 1; }
	@$(PRINTED) $(FLASK) serve-demo --as-printed --port 5001

clean:
	rm -rf $(VENV) .pytest_cache

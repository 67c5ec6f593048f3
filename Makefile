# Tally — `make run` serves the demo, `make test` runs the whole suite.
# The interpreter: python3.13 (selected by .python-version under pyenv), else
# python3.12, else python3; whichever it is must really run and be >= 3.12.
PYTHON ?= $(shell for p in python3.13 python3.12 python3; do \
	if $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then echo $$p; break; fi; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run serve test test-postgres lint bench setup check-python clean

check-python:
	@if [ -z "$(PYTHON)" ]; then \
		echo "Tally needs Python 3.12 or newer (Django 6)." >&2; \
		echo "None of python3.13, python3.12, python3 on PATH runs and is >= 3.12." >&2; \
		echo "Install one (for pyenv: 'pyenv install 3.13'; .python-version selects it), or run 'make PYTHON=/path/to/python3.13 ...'." >&2; \
		exit 1; \
	fi
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 12), sys.version' 2>/dev/null || { \
		echo "$(PYTHON) does not run or is older than 3.12; Tally needs Python >= 3.12." >&2; exit 1; }

$(STAMP): pyproject.toml constraints.txt | check-python
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25.1"
	$(BIN)/python -m pip install --quiet -c constraints.txt --group dev
	@touch $(STAMP)

setup: $(STAMP)

# Development: DEBUG on (off unless asked for), Django's runserver, and beside
# it the background worker (queued tasks; period close every
# CLOSE_PERIODS_EVERY seconds). Ctrl-C, or either one exiting, stops both: the
# shell waits on the two and stops the survivor. The worker does not reload on
# code changes (restart `make run`): its reloader would hide the worker's own
# process from the shell. A close cut short is simply run again (it is idempotent).
run: export DEBUG = 1
run: setup
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_guide
	$(BIN)/python manage.py ensure_admin
	@echo "Starting the worker and the server; Ctrl-C stops both."
	@$(BIN)/python manage.py run_worker --no-reload & worker=$$!; \
	$(BIN)/python manage.py runserver 127.0.0.1:8000 & server=$$!; \
	trap 'kill $$worker $$server 2>/dev/null' INT TERM HUP; \
	while kill -0 $$worker 2>/dev/null && kill -0 $$server 2>/dev/null; do sleep 1; done; \
	kill $$worker $$server 2>/dev/null; wait

# The worker (background tasks, period close) is its own process in production:
# manage.py run_worker (README.md).
# Production (README.md, Running in production): DEBUG off, so SECRET_KEY must
# be set; gunicorn reads gunicorn.conf.py (gthread workers, keep-alive).
serve: setup
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/gunicorn billing_site.wsgi

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The suite against PostgreSQL; DATABASE_URL defaults to the local server.
test-postgres: setup
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/tally} $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Benchmarks print figures and ratios against a baseline measured in the same
# run (bench/README.md). Set DATABASE_URL to a *_bench PostgreSQL database to
# measure PostgreSQL; bench/close.py (period close, several workers) measures
# only PostgreSQL and says so on SQLite.
bench: setup
	$(BIN)/python bench/invoice.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/close.py
	$(BIN)/python bench/margin_report.py
	$(BIN)/python bench/pdf_render.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

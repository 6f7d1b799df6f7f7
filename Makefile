# One command to try it, one to test it. Both install what they need on a fresh machine.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: install run test lint types pytest pytest-postgres system-deps bench clean

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(INSTALLED)

install: $(INSTALLED)

run: install
	INBOXCRM_ENV=demo $(BIN)/inboxcrm db upgrade
	INBOXCRM_ENV=demo $(BIN)/inboxcrm demo

system-deps:
	scripts/system-deps

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

types: install
	$(BIN)/mypy

# The whole suite on SQLite, browser tests included.
pytest: install system-deps
	scripts/pytest-strict $(BIN)/pytest -q

# The database-backed tests again on a throwaway PostgreSQL server.
pytest-postgres: install system-deps
	scripts/with-postgres scripts/pytest-strict $(BIN)/pytest -q -m "db and not browser"

test: lint types pytest pytest-postgres

bench: install
	@for f in benchmarks/*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache

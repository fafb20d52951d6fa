# Two commands on a fresh machine:  `make run`  and  `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: install run test test-postgres fuzz lint format bench

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

## Set up and run API + worker (python -m workers: the resident worker and the schedulers) on SQLite and an embedded Redis (unless REDIS_URL is set).
run: install
	$(PY) scripts/run_dev.py

## The full test suite (SQLite unless DATABASE_URL is set; a throwaway Redis unless REDIS_URL is set).
test: install
	$(PY) -m pytest

## The same suite on PostgreSQL.
test-postgres: install
	DATABASE_URL=$(POSTGRES_URL) $(PY) -m pytest

## schemathesis against a live server over every operation of /api/v1/openapi.json, with a token of each role:
## no 5xx, every 4xx in the error envelope and declared. FUZZ_EXAMPLES=N examples per operation (default 12).
fuzz: install
	$(PY) -m pytest -m fuzz tests/test_fuzz.py -p no:cacheprovider

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: install
	$(PY) -m bench.bench_photos

# The hub's commands. `make run` and `make test` do all set-up on a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
export PORT
PYTEST_WORKERS ?= 2

STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev
# The lock files (pip-compile --generate-hashes from pyproject.toml; `make lock` rewrites
# them): every install takes exactly these versions and files, hash-checked.
LOCK_RUN := requirements.txt
LOCK_DEV := requirements-dev.txt
PIP_COMPILE_FLAGS := --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links --no-emit-trusted-host

.PHONY: install install-dev run demo web worker beat test interop fuzz faults bench lint fmt typecheck migrations-check schema ci clean lock audit

# pip itself first, at the dev lock's version (hash-checked): the pip a Python bundles (23.2
# on 3.11) resolves an extra, pip-audit's CacheControl[filecache], against the newest release
# on the index and refuses it under --require-hashes as soon as that is newer than the lock's.
$(PY):
	$(PYTHON) -m venv $(VENV)
	sed -n '/^pip==/,/^ *#/p' $(LOCK_DEV) | grep -v '^ *#' > $(VENV)/pip-lock.txt
	$(PY) -m pip install --quiet --require-hashes --no-deps -r $(VENV)/pip-lock.txt

# The locked requirements first (hash-checked), then the project itself without resolving
# anything more (--no-deps): nothing unlocked gets in through the project's own metadata.
$(STAMP_RUN): $(LOCK_RUN) pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --require-hashes -r $(LOCK_RUN)
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

$(STAMP_DEV): $(LOCK_DEV) pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --require-hashes -r $(LOCK_DEV)
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@ $(STAMP_RUN)

install: $(STAMP_RUN)
install-dev: $(STAMP_DEV)

## Run the hub in the foreground: web server (gunicorn, settings/gunicorn.py), Celery worker and
## beat (SQLite + a broker that needs no server unless DATABASE_URL / REDIS_URL are set).
run: $(STAMP_RUN)
	DJANGO_SETTINGS_MODULE=$${DJANGO_SETTINGS_MODULE:-settings.local} $(PY) manage.py hub_run --port $(PORT)

## The demo: the hub on the embedded default in var/demo/ (wiped at each start), three simulated
## CPOs and two eMSPs on 127.0.0.1, a scripted day through the real OCPI interfaces; then it
## stays up (admin login printed) until Ctrl-C. DEMO_ARGS=--quick for a small network.
DEMO_PORT ?= 8100
demo: $(STAMP_RUN)
	$(PY) manage.py hub_demo --port $(DEMO_PORT) $(DEMO_ARGS)

# Django's development server alone (auto-reload), for working on the code; `make run` is gunicorn.
web: $(STAMP_RUN)
	$(PY) manage.py runserver 127.0.0.1:$(PORT)

worker: $(STAMP_RUN)
	$(VENV)/bin/celery -A hub worker -Q default,ocpi_push,ocpi_money --pool threads --concurrency 8 -l info

beat: $(STAMP_RUN)
	$(VENV)/bin/celery -A hub beat -l info

## The whole test suite (PostgreSQL and Redis when DATABASE_URL / REDIS_URL are set).
test: $(STAMP_DEV)
	@# tests/browser drive Debian's Chromium through its chromedriver: installed when missing and
	@# this runs as root with apt; otherwise those tests fail saying what to install (never skip).
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
		{ [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
			{ apt-get install -y chromium chromium-driver || \
				{ apt-get update && apt-get install -y chromium chromium-driver; }; }; } || \
		echo "make test: chromium / chromedriver missing and not installable here: tests/browser will fail"
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadgroup -q $(PYTEST_ARGS)

## The interoperability suite alone: the hub against extrawest-ocpi partners (docs/interop.md).
interop: $(STAMP_DEV)
	$(PY) -m pytest tests/interop -q -p no:randomly $(PYTEST_ARGS)

## The fault suite: workers killed, Redis and PostgreSQL restarted, partners failing, each on a
## private PostgreSQL + Redis; prints a table, writes reports/faults.json, fails if anything is lost.
faults: $(STAMP_DEV)
	$(PY) -m tests.faults $(PYTEST_ARGS)

## Fuzz every /ocpi/ operation of the OpenAPI schema with schemathesis (tests/fuzz): fails on any
## HTTP 5xx, answer without an envelope or state change by a refused request; reports/fuzz.json.
fuzz: $(STAMP_DEV)
	$(PY) -m tests.fuzz $(FUZZ_ARGS)

## The benchmarks (benchmarks/, DESIGN §9): every scenario, hub and baseline alternated in one
## run, on PostgreSQL and Redis (the CI services unless DATABASE_URL / REDIS_URL are set);
## writes reports/bench.json and prints the table. BENCH_ARGS="--only S3,S4" or "--quick".
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/ocpi_hub_bench
BENCH_REDIS_URL ?= redis://127.0.0.1:6379/8
bench: $(STAMP_DEV)
	@# S0 and S1 load the servers with wrk (Debian's package) when it is there, else with httpx
	@# threads (benchmarks/loadgen.py says which in its output): installed when missing and it can.
	@command -v wrk >/dev/null || \
		{ [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
			{ apt-get install -y wrk || { apt-get update && apt-get install -y wrk; }; }; } || \
		echo "make bench: wrk missing and not installable here: S0/S1 load with httpx threads"
	DATABASE_URL=$${DATABASE_URL:-$(BENCH_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(BENCH_REDIS_URL)} \
		$(PY) -m benchmarks $(BENCH_ARGS)

lint: $(STAMP_DEV)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports

fmt: $(STAMP_DEV)
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

typecheck: $(STAMP_DEV)
	$(PY) -m mypy hub cpo_gateway emsp_gateway settings partners

migrations-check: $(STAMP_DEV)
	DATABASE_URL=sqlite:///:memory: DJANGO_SETTINGS_MODULE=settings.test $(PY) manage.py makemigrations --check --dry-run

schema: $(STAMP_DEV)
	DATABASE_URL=sqlite:///:memory: DJANGO_SETTINGS_MODULE=settings.test $(PY) manage.py spectacular --validate --fail-on-warn --file /dev/null

ci: lint migrations-check schema test

## Rewrite the lock files from pyproject.toml, keeping current pins where they still fit
## (LOCK_ARGS=--upgrade, or --upgrade-package NAME, moves them on). The dev lock is
## constrained by the run lock, so both install the same runtime versions.
lock: $(STAMP_DEV)
	$(VENV)/bin/pip-compile $(PIP_COMPILE_FLAGS) $(LOCK_ARGS) --output-file $(LOCK_RUN) pyproject.toml
	$(VENV)/bin/pip-compile $(PIP_COMPILE_FLAGS) $(LOCK_ARGS) --extra dev --constraint $(LOCK_RUN) \
		--output-file $(LOCK_DEV) pyproject.toml

## Known vulnerabilities in the locked versions (pip-audit against PyPI's advisory data; needs
## the network). Audits the lock files, not the venv, so it says what the image and CI install.
## --strict (the default) also fails when a package could not be audited (advisory service
## unreachable); AUDIT_STRICT= fails on vulnerabilities only and lists what was skipped.
AUDIT_STRICT ?= --strict
audit: $(STAMP_DEV)
	$(VENV)/bin/pip-audit --progress-spinner off --disable-pip --require-hashes $(AUDIT_STRICT) -r $(LOCK_RUN)
	$(VENV)/bin/pip-audit --progress-spinner off --disable-pip --require-hashes $(AUDIT_STRICT) -r $(LOCK_DEV)

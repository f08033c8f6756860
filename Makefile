# scopes-arena: every target installs what it needs first, so each works on a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(shell command -v uv 2>/dev/null)
IMPL ?= fastapi
PORT ?= 8000

.DEFAULT_GOAL := help
.PHONY: help install lock test test-live test-units lint format conformance fuzz bench bench-smoke compare reference readme-table serve cluster instructions valgrind-deps browser-deps wrk-deps postgres-deps nginx-deps node-deps clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(BIN)/uv:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python >= 3.11 is required (found $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv

$(VENV)/.installed: $(BIN)/uv requirements.lock pyproject.toml
	$(BIN)/uv pip sync --quiet --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@touch $@

install: $(VENV)/.installed ## Create .venv and install the project with its dev tools (idempotent)

lock: $(BIN)/uv ## Re-resolve requirements.lock from pyproject.toml
	$(BIN)/uv pip compile --quiet --python $(BIN)/python --group dev --generate-hashes \
		--no-header --universal -o requirements.lock pyproject.toml

test: install browser-deps wrk-deps postgres-deps nginx-deps node-deps valgrind-deps ## Everything, in two streams at once: the suite live (SQLite; fastapi on PostgreSQL too) then in-process what live cannot show | unit, browser, fuzz, bench-smoke, cluster tests
	@echo "make test: two streams at once, their lines interleaved: [live] the suite against every implementation under uvicorn, then in-process only the checks a live server cannot show; [tests] pytest tests/"
	@set -o pipefail; \
	( PYTHONUNBUFFERED=1 $(MAKE) --no-print-directory test-live 2>&1 | sed -u 's/^/[live]  /' ) & live=$$!; \
	( PYTHONUNBUFFERED=1 $(MAKE) --no-print-directory test-units 2>&1 | sed -u 's/^/[tests] /' ) & units=$$!; \
	wait $$live; live_status=$$?; wait $$units; units_status=$$?; \
	echo "make test: [live] exit $$live_status, [tests] exit $$units_status"; \
	[ $$live_status = 0 ] && [ $$units_status = 0 ]

# The two streams of make test (each also runs alone). A live check that passed is not run
# again in-process (--covered-by); the live runs serve with a 3 s request timeout, which the
# LIMIT checks wait out once per implementation.
test-live: install postgres-deps
	$(BIN)/python -m conformance --serve-all --request-timeout 3 --report-dir reports/test-live
	$(BIN)/python -m conformance --serve-all --request-timeout 3 --postgres --impl fastapi --profile tutorial --report-dir reports/test-live-postgres
	$(BIN)/python -m pytest conformance -p no:cacheprovider --covered-by reports/test-live/conformance.json --durations=10

test-units: install browser-deps wrk-deps postgres-deps nginx-deps node-deps valgrind-deps
	SCOPES_ARENA_REQUIRE_POSTGRES=1 SCOPES_ARENA_REQUIRE_NGINX=1 SCOPES_ARENA_REQUIRE_NODE=1 SCOPES_ARENA_REQUIRE_VALGRIND=1 $(BIN)/python -m pytest tests -p no:cacheprovider --durations=25

lint: install ## ruff check, ruff format --check, mypy --strict on core and adapters
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

conformance: install ## Run the suite against every implementation under uvicorn; print the matrix
	$(BIN)/python -m conformance --serve-all

fuzz: install ## schemathesis with every check and phase against every implementation
	$(BIN)/python -m conformance.fuzz

bench: install wrk-deps postgres-deps ## Every implementation vs bare framework, wiring ceiling, raw ASGI (+core): reads, logins, mixed, soak (~40 min)
	$(BIN)/python -m bench $(BENCH_ARGS)

instructions: install valgrind-deps ## Instructions per request (valgrind's callgrind, load-independent) of every bare, guard and implementation rung [INSTRUCTIONS_ARGS="--only guard-starlette ..."]
	$(BIN)/python -m bench.instructions $(INSTRUCTIONS_ARGS)

bench-smoke: install wrk-deps ## The benchmark in ~1 min (1 s runs, raw baselines + one ladder) into reports/bench-smoke.*: does it run, is every answer right
	$(BIN)/python -m bench --smoke $(BENCH_ARGS)

compare: install ## reports/index.html: reruns stale conformance/fuzz reports (bench only with BENCH=1), prints its path
	$(BIN)/python -m compare $(if $(BENCH),--bench) $(COMPARE_ARGS)

reference: install wrk-deps postgres-deps ## Refresh compare/reference/ (the page's default results): every report, the full bench, then copy with date, machine, commit (~50 min)
	$(BIN)/python -m compare --bench $(COMPARE_ARGS)
	$(BIN)/python -m compare --save-reference

readme-table: install ## Rewrite README.md's comparison table from the reports (between its compare markers)
	$(BIN)/python -m compare --readme README.md

serve: install ## Serve IMPL=<name> (scopes-arena serve --help lists them) [PORT=8000] with the demo users (ARENA_DEMO_USERS=0: without)
	ARENA_DEMO_USERS=$${ARENA_DEMO_USERS-1} $(BIN)/scopes-arena serve $(IMPL) --port $(PORT)

cluster: install postgres-deps nginx-deps ## PostgreSQL, every implementation (WORKERS=N each), nginx in front (round-robin); Ctrl-C stops all
	$(BIN)/python -m deploy.cluster $(if $(WORKERS),--workers $(WORKERS)) $(CLUSTER_ARGS)

browser-deps: ## Install Debian's chromium for the /docs browser test (root with apt only)
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing chromium (Debian package) for the browser test"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
		|| echo "could not install chromium: the browser test will be skipped"; \
	else echo "chromium is not installed and cannot be installed here (needs root and apt): the browser test will be skipped"; fi

node-deps: ## Install Debian's nodejs for the outside implementation's test (tests/outsider/node; root with apt only)
	@if command -v node >/dev/null 2>&1 || command -v nodejs >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing nodejs (Debian package) for the outside implementation's test"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs >/dev/null) \
		|| echo "could not install nodejs: the Node outsider test will fail under make test (skipped by plain pytest)"; \
	else echo "node is not installed and cannot be installed here (needs root and apt): the Node outsider test will fail under make test (skipped by plain pytest)"; fi

valgrind-deps: ## Install Debian's valgrind for make instructions and its test (root with apt only)
	@if command -v valgrind >/dev/null 2>&1 && command -v callgrind_control >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing valgrind (Debian package) for make instructions"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null) \
		|| echo "could not install valgrind: make instructions cannot run, and its test will fail under make test (skipped by plain pytest)"; \
	else echo "valgrind is not installed and cannot be installed here (needs root and apt): make instructions cannot run, and its test will fail under make test (skipped by plain pytest)"; fi

wrk-deps: ## Install Debian's wrk for the benchmark (root with apt only)
	@if command -v wrk >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing wrk (Debian package) for the benchmark"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null) \
		|| echo "could not install wrk: the benchmark cannot run (its smoke test will be skipped)"; \
	else echo "wrk is not installed and cannot be installed here (needs root and apt): the benchmark cannot run (its smoke test will be skipped)"; fi

postgres-deps: ## Install Debian's PostgreSQL server for the PostgreSQL tests, bench and cluster (root with apt only)
	@if command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing postgresql (Debian package) for the PostgreSQL tests"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) \
		|| echo "could not install postgresql: the PostgreSQL tests will fail under make test (skipped by plain pytest)"; \
	else echo "PostgreSQL is not installed and cannot be installed here (needs root and apt): the PostgreSQL tests will fail under make test (skipped by plain pytest)"; fi

nginx-deps: ## Install Debian's nginx for make cluster and the cluster test (root with apt only; its service is never used)
	@if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing nginx (Debian package) for make cluster and the cluster test"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null) \
		|| echo "could not install nginx: make cluster cannot run and the cluster test will fail under make test (skipped by plain pytest)"; \
	else echo "nginx is not installed and cannot be installed here (needs root and apt): make cluster cannot run and the cluster test will fail under make test (skipped by plain pytest)"; fi

clean: ## Remove the virtualenv, reports, caches and local data
	rm -rf $(VENV) reports var .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

# Baton: two commands on a fresh machine with Python 3.11+ and make.
#   make run    create the environment, install, start NATS + the services (Ctrl-C stops)
#   make test   create the environment, install, run the whole test suite
#   make lock   move every dependency to the newest version the pyproject files allow
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The lock: the exact version of every third-party package, for every extra. uv.lock is
# uv's (with hashes; `uv sync` reads it); requirements.lock is the same pins for pip, which
# every install here and in deploy/Dockerfile takes as constraints. Both come from `make lock`.
LOCK   := requirements.lock
UV_VERSION := 0.13.9
UPGRADE ?= --upgrade

.PHONY: install run test bench lock secrets clean

$(STAMP): $(LOCK) pyproject.toml shared/pyproject.toml services/intake/pyproject.toml services/delivery/pyproject.toml services/followup/pyproject.toml services/notify/pyproject.toml services/console/pyproject.toml ops/pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Baton needs Python 3.11+ (set PYTHON=python3.x)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e shared -e services/intake -e services/delivery -e services/followup -e services/notify -e services/console -e ops -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python deploy/embedded/run.py

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

BENCH_STAMP := $(VENV)/.installed-bench

$(BENCH_STAMP): $(STAMP) $(LOCK) pyproject.toml
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e ".[bench]"
	@touch $(BENCH_STAMP)

# make bench                       quick run (100,000-event stream), a table and bench/results/latest.json
# make bench BENCH_ARGS=--full     the 1,000,000-event stream (see README, Figures)
bench: $(BENCH_STAMP)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# make secrets: deploy/.env for docker compose, every secret a fresh random value (see README)
secrets:
	$(PYTHON) deploy/make-secrets

# make lock            every dependency to the newest version the pyproject files allow
# make lock UPGRADE=   only what a changed pyproject file needs (after adding a dependency)
# Then `make install` brings .venv to the new pins; commit uv.lock and requirements.lock.
lock:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"
	$(BIN)/uv lock $(UPGRADE)
	$(BIN)/uv export --frozen --all-extras --no-emit-workspace --no-hashes --quiet --output-file $(LOCK)

clean:
	rm -rf $(VENV) var .pytest_cache

# Baton: two commands on a fresh machine with Python 3.11+ and make.
#   make run    create the environment, install, start NATS + the services (Ctrl-C stops)
#   make test   create the environment, install, run the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test bench clean

$(STAMP): pyproject.toml shared/pyproject.toml services/intake/pyproject.toml services/delivery/pyproject.toml services/followup/pyproject.toml services/console/pyproject.toml ops/pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Baton needs Python 3.11+ (set PYTHON=python3.x)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e shared -e services/intake -e services/delivery -e services/followup -e services/console -e ops -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python deploy/embedded/run.py

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

BENCH_STAMP := $(VENV)/.installed-bench

$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	@touch $(BENCH_STAMP)

# make bench                       quick run (100,000-event stream), a table and bench/results/latest.json
# make bench BENCH_ARGS=--full     the 1,000,000-event stream (see README, Figures)
bench: $(BENCH_STAMP)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache

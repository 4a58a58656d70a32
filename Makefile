# The two commands: `make run` and `make test`. Both set everything up first.
VENV ?= .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: run test setup services install migrate bench lint clean

run: setup  ## set up, then run the gateway and all workers (Ctrl-C stops them all)
	$(VENV)/bin/honcho start -f Procfile

test: setup  ## set up, then run the whole suite against real PostgreSQL and RabbitMQ
	$(PY) -m pytest $(PYTEST_ARGS)

bench: setup $(VENV)/.installed-bench  ## benchmarks with their baselines, written to bench/results/
	@bash bench/setup.sh
	$(PY) -m bench

$(VENV)/.installed-bench: pyproject.toml
	$(PY) -m pip install -q -e '.[dev,bench]'
	@touch $@

setup: services install migrate

services:
	@bash scripts/services.sh

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@

migrate: install
	$(VENV)/bin/itemx migrate

lint: install
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info

# make test   unit, integration and acceptance tests (bootstraps .venv on first use)
# make paper  run what is not cached and build the reproduction report
# make bench  the speed and memory benchmarks (writes bench/results.json)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
REPRO := $(VENV)/bin/repro

.PHONY: test unit paper bench lint clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test,dask]'
	touch $@

test: $(VENV)/.installed
	$(PY) -m pytest -q -p no:cacheprovider

unit: $(VENV)/.installed
	$(PY) -m pytest -q -p no:cacheprovider tests/unit

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check repro tests bench

paper: $(VENV)/.installed
	$(REPRO) paper

bench: $(VENV)/.installed
	$(PY) bench/bench_run.py

clean:
	rm -rf results paper/build

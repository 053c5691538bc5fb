# make test   every tier below at once (bootstraps .venv on first use); one tier at a time:
#   make unit          pure functions, no training (seconds)
#   make integration   small specs end to end: CLI, cache, sweeps, faults (minutes)
#   make acceptance    published numbers and upstream's fingerprints (runs every experiment)
#   make paper-test    the real report with real TeX (runs every experiment and sweep)
# make paper  run what is not cached, check every published number, build paper/build/main.pdf
# make bench  the speed and memory benchmarks (writes bench/results.json)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
REPRO := $(VENV)/bin/repro

.PHONY: test unit integration acceptance paper-test paper bench lint typecheck clean lock

$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -c requirements.lock -e '.[test,dask]'
	touch $@

# Re-pin every dependency from pyproject.toml's ranges (see the head of requirements.lock).
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install -q --upgrade pip && .venv-lock/bin/pip install -q -e '.[test,dask]'
	{ sed -n '1,/^# make test/p' requirements.lock; .venv-lock/bin/pip freeze --exclude-editable | grep -v '^-e'; } > requirements.lock.new
	mv requirements.lock.new requirements.lock && rm -rf .venv-lock

# Two pytest workers: the tests of the shared results (the report's build, the acceptance tests;
# tests/conftest.py) on one, every other test beside them on the other.
test: $(VENV)/.installed
	$(PY) -m pytest -q -p no:cacheprovider -n 2 --durations=15

unit: $(VENV)/.installed
	$(PY) -m pytest -q -p no:cacheprovider tests/unit

integration: $(VENV)/.installed
	$(PY) -m pytest -q -p no:cacheprovider -n 2 tests/integration

acceptance: $(VENV)/.installed
	$(PY) -m pytest -q -p no:cacheprovider tests/acceptance

paper-test: $(VENV)/.installed
	$(PY) -m pytest -q -p no:cacheprovider tests/paper

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check repro tests bench

# mypy over repro/ (settings in pyproject.toml); CI requires zero errors
typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy

paper: $(VENV)/.installed
	@command -v pdflatex >/dev/null && command -v latexmk >/dev/null || { \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && apt-get install -y -qq --no-install-recommends texlive-latex-base \
	      texlive-latex-recommended texlive-pictures texlive-science texlive-fonts-recommended lmodern latexmk; \
	  else echo "make paper needs TeX Live: apt-get install texlive-latex-base texlive-latex-recommended texlive-pictures texlive-science texlive-fonts-recommended lmodern latexmk"; exit 1; fi; }
	$(REPRO) paper

bench: $(VENV)/.installed
	$(PY) bench/bench_run.py

clean:
	rm -rf results paper/build

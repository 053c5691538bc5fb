# make test   unit, integration and acceptance tests (bootstraps .venv on first use)
# make paper  run what is not cached, check every published number, build paper/build/main.pdf
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

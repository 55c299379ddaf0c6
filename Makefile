# Two commands for a newcomer: `make lab` (the course in JupyterLab) and `make test` (every test).
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install lab test

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# The CPU build of torch first: an unpinned torch would pull a multi-GB CUDA build.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

install: $(VENV)/.installed

lab: install
	$(VENV)/bin/jupyter lab notebooks/

test: install
	$(PY) -m pytest

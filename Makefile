# Two commands for a newcomer: `make lab` (the course in JupyterLab) and `make test` (every test).
# For the edit-run loop: `make check` (unit tests and doctests; no notebooks, browser or slow tests) and
# `make lint` (ruff).
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install lab test check lint slides

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# The CPU build of torch first (an unpinned torch from PyPI is the multi-GB CUDA build on Linux):
	# PyTorch's CPU index when it answers within 10 s, else the default index (tools/install_torch.py).
	$(PY) tools/install_torch.py
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

install: $(VENV)/.installed

# Jupyter refuses to run as root ("Running as root is not recommended"), which is what one is in a
# container: there, and only there, allow it. LAB_ARGS passes more options (e.g. --port=8899 --no-browser).
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
LAB_ARGS ?=
lab: install
	$(VENV)/bin/jupyter lab $(ROOT_FLAG) $(LAB_ARGS) notebooks/

# One pytest-xdist worker per core (WORKERS=0: one process). --dist loadfile: a file's tests, and a
# notebook's cells (one kernel, in order), run on one worker (not loadgroup: with pytest 9.2 it ignores
# xdist_group marks, pytest-xdist issue 1386); files in the order tests/conftest.py gives, longest first.
WORKERS ?= auto
PYTEST := $(PY) -m pytest -n $(WORKERS) --dist loadfile --no-loadscope-reorder

lint: install
	$(VENV)/bin/ruff check .

# Everything CI runs: lint, then the unit tests, the doctests, the browser tests and every notebook (nbval).
test: lint
	$(PYTEST)

# The fast tier for the edit-run loop: the unit tests and doctests, without the notebooks, the browser
# tests and the tests marked slow (all of which `make test` runs).
check: install
	$(PYTEST) -m 'not browser and not slow' tests latentlab

# Notebook sources are jupytext percent scripts: edit notebooks/NN_name.py, then
# `make notebooks NB=NN_name.py` (a lab: NB=labs/NN_name_lab.py; plain `make notebooks`: all) syncs and
# executes the .ipynb.
NB ?= $(notdir $(wildcard notebooks/[0-9][0-9]_*.py)) $(patsubst notebooks/%,%,$(wildcard notebooks/labs/[0-9][0-9]_*.py) $(wildcard notebooks/solutions/[0-9][0-9]_*.py))
.PHONY: notebooks
notebooks: install
	cd notebooks && for nb in $(NB); do \
	  ../$(VENV)/bin/jupytext --quiet --sync $$nb && \
	  ../$(VENV)/bin/jupyter nbconvert --log-level WARN --to notebook --execute --inplace \
	    --ExecutePreprocessor.timeout=600 $${nb%.py}.ipynb || exit 1; \
	done

# One reveal.js deck per lecture, built by nbconvert from the executed lecture notebook (its slide
# metadata comes from tools/slide_tags.py): build/slides/NN_name.slides.html. Open one in a browser
# (reveal.js loads from its CDN); `s` shows the speaker view. One nbconvert for all the lectures (one
# process start instead of eleven, 4 s instead of 40); it stops with an error at the first that fails.
SLIDES ?= build/slides
slides: install
	@mkdir -p $(SLIDES)
	$(VENV)/bin/jupyter nbconvert --log-level WARN --to slides --SlidesExporter.reveal_scroll=True \
	  --output-dir $(SLIDES) notebooks/[0-9][0-9]_*.ipynb

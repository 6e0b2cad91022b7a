# One entry point. `make run` and `make test` set everything up on a fresh machine.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: research install debs run datasets test demo lint bench lab live clean

# torch first and alone, so pip takes the local CPU build (see ../shared/STACK.md),
# then the rest pinned exactly by constraints.txt (what was tested).
$(STAMP): requirements.txt constraints.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -r requirements.txt -c constraints.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

# `make run`: the main leagues here (dvc repro); `make run DATASET=nba`: a shipped configuration
# (configs/<name>.yaml: main, extra, nba, nhl) in its own copy, build/datasets/<name>
DATASET ?=
run: install
	$(if $(DATASET),$(PY) pipelines/dataset.py $(DATASET),dvc repro)

datasets: install
	$(PY) pipelines/dataset.py extra nba nhl --parallel

research: run  # issue 17's variants through the train stage's walk-forward: reports/research/variants.md
	$(PY) pipelines/research.py

# Debian packages the tests run for real: headless Chromium (drift reports, plots, the dashboard) and
# redis-server (Redis Streams); installed with apt-get when run as root
debs:
	@missing=""; command -v chromium >/dev/null 2>&1 || missing="chromium"; \
	  command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	  [ -z "$$missing" ] || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; } || \
	  echo "not installed:$$missing (the tests that need it skip; in CI they fail)"

test: install debs
	$(PY) -m pytest

demo: install
	$(PY) pipelines/demo.py

lint: install
	ruff check a1lab tests pipelines bench

bench: install
	for b in bench/bench_*.py; do $(PY) $$b || exit 1; done

# replay 2025/26 through the live loop with the registered model (after `make run`)
live: install
	a1lab live replay | a1lab live run --source - --out data/live/predictions.jsonl -v

# JupyterLab on 127.0.0.1 (notebooks run as opened: they find the project from notebooks/); root needs --allow-root.
# Its kernels get the pipeline runner's CPU code paths (run_notebook.BASELINE_CPU), so they give dvc repro's floats.
lab: install
	$(PY) -c "import os, sys; sys.path.insert(0, 'pipelines'); import run_notebook; run_notebook.baseline_cpu(); \
	os.execvp('jupyter', sys.argv[1:])" jupyter lab --ip=127.0.0.1 --no-browser $(if $(filter 0,$(shell id -u)),--allow-root,)

clean:
	rm -rf $(VENV)

# One entry point. `make run` and `make test` set everything up on a fresh machine.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: help exp research rolling install lock debs run datasets test test-fast demo lint bench lab live docs clean

help:  ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 12

# torch first and alone, so pip takes the local CPU build (see ../shared/STACK.md), then a1lab with every
# extra, pinned exactly by constraints.txt (the lock `make lock` generates from pyproject.toml: what was tested).
EXTRAS := lab,live,compute,dev,docs
$(STAMP): constraints.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -c constraints.txt -e ".[$(EXTRAS)]"
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install the pinned stack

lock: install  ## regenerate constraints.txt from pyproject.toml (pip-compile; pins kept where they still fit)
	$(VENV)/bin/pip-compile --all-extras --strip-extras --quiet --no-emit-index-url --no-emit-find-links \
	  --output-file constraints.txt pyproject.toml

# `make run`: the main leagues here (dvc repro); `make run DATASET=nba`: the data set of datasets/nba/
# (its config.yaml over params.yaml), run in that folder, which keeps its own lock, metrics and reports
DATASET ?=
# DVC's closing advice (git add dvc.lock, autostage, dvc push) is left out: the outputs are committed by choice
DVC_ADVICE := ^(To track the changes with git|To enable auto staging|Use .dvc push.)|^[[:space:]]+(git add |dvc config core.autostage)
run: install  ## dvc repro (DATASET=<name>: the data set of datasets/<name>/, run in that folder)
	$(if $(DATASET),$(PY) pipelines/dataset.py $(DATASET),bash -o pipefail -c 'dvc repro 2>&1 | grep --line-buffered -v -E "$(DVC_ADVICE)" | cat -s' \
	  && printf '\nWhere to look:\n  dvc metrics show                 one row per model beside the market\n  reports/notebooks/*.html         each stage'"'"'s executed notebook\n  reports/drift/index.html         drift reports\n  metrics/*.json                   every figure\n  make docs                        the README'"'"'s tables and the docs site from them\n')

datasets: install  ## the shipped data sets other than the main one and the demo
	$(PY) pipelines/dataset.py europe extra main-close nba nhl premier-lineup --parallel

exp: install  ## the experiments in one table of 120 columns: RPS per model, gap share, the params that differ
	$(PY) pipelines/experiments.py

research: run  ## the research variants through the train stage's walk-forward: reports/research/
	$(PY) pipelines/research.py

# every season from the third on a test season (DATASET=<name>: that data set's folder, after its run)
rolling: install  ## the rolling-origin evaluation: reports/research/rolling.md (DATASET=<name>: its own)
	$(PY) pipelines/rolling.py --parallel $(if $(DATASET),--workspace datasets/$(DATASET) --out reports/research/$(DATASET),)

# Debian packages the tests run for real: headless Chromium (drift reports, plots, the dashboard) and
# redis-server (Redis Streams); installed with apt-get when run as root
debs:
	@missing=""; command -v chromium >/dev/null 2>&1 || missing="chromium"; \
	  command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	  [ -z "$$missing" ] || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; } || \
	  echo "not installed:$$missing (the tests that need it skip; in CI they fail)"

# two pytest processes, each test file on one of them (its module fixtures built once): the pipeline and process
# tests leave a core idle much of the time. More processes would each build the session's real-data fixtures.
PYTEST := $(PY) -m pytest -n 2 --dist loadfile
test: install debs  ## the whole suite, both tiers
	$(PYTEST)

test-fast: install  ## the unit tier (tests/unit)
	$(PYTEST) tests/unit

demo: install  ## the pipeline offline on the synthetic league, in datasets/demo/
	$(PY) pipelines/dataset.py demo

lint: install  ## ruff
	ruff check a1lab tests pipelines bench

bench: install  ## the benchmarks (figures to reports/bench/*.json)
	for b in bench/bench_*.py; do $(PY) $$b || exit 1; done

# replay 2025/26 through the live loop with the registered model (after `make run`)
live: install  ## replay the newest season through the live loop
	a1lab live replay | a1lab live run --source - --out data/live/predictions.jsonl -v

# JupyterLab on 127.0.0.1 (notebooks run as opened: they find the project from notebooks/); root needs --allow-root.
# Its kernels get the pipeline's CPU code paths (a1lab.cpu.BASELINE_CPU), so they give dvc repro's floats.
PORT ?= 8888
TOKEN ?=
lab: install  ## JupyterLab on 127.0.0.1 (PORT=8888 its port; TOKEN=... its token, empty: a generated one)
	$(PY) -c "import os, sys; from a1lab.cpu import baseline_cpu; baseline_cpu(); \
	os.execvp('jupyter', sys.argv[1:])" jupyter lab --ip=127.0.0.1 --port=$(PORT) --no-browser \
	$(if $(TOKEN),--IdentityProvider.token=$(TOKEN),) $(if $(filter 0,$(shell id -u)),--allow-root,)

docs: install  ## regenerate the figure pages, then build the docs site into build/site (offline)
	$(PY) pipelines/docs.py
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir build/site

clean:  ## remove .venv
	rm -rf $(VENV)

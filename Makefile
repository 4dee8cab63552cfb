# Music Flamingo pipeline. `make run` and `make test` set up everything they need, idempotently.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
# postgresql: the production-storage test starts a throw-away cluster; chromium: the browser test.
APT_PACKAGES := fluidsynth timgm6mb-soundfont fluid-soundfont-gm espeak-ng ffmpeg libsndfile1 sox postgresql chromium
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Reinstall python packages only when the dependency list changes.
PY_STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml 2>/dev/null | md5sum | cut -c1-12)
APT_STAMP := .cache/.apt-installed-$(shell echo $(APT_PACKAGES) | md5sum | cut -c1-8)
# Playwright drives Debian's chromium (tests/dagster_project/test_browser.py); it must never download browsers.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: help setup apt run test test-slow test-all ui bench clean dvc-setup

help:  ## show the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(APT_STAMP):
	@mkdir -p .cache
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "apt: installing$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; fi
	@rm -f .cache/.apt-installed*; touch $@

apt: $(APT_STAMP)  ## install the Debian packages (fluidsynth, soundfonts, espeak-ng, ffmpeg)

$(PY_STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# The CPU torch wheel lies on local disk; pinning it first keeps the CUDA build out.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q numpy==2.4.6 setuptools wheel
	# vamp's build needs numpy at build time: no build isolation.
	$(BIN)/pip install -q --no-build-isolation vamp==1.1.0
	$(BIN)/pip install -q -e '.[test]'
	# dagster-postgres 0.29.27 (the newest) pins dagster 1.13.27; its code works with 1.13.28
	# (tests/dagster_project/test_postgres.py proves it), so it goes in without its dependency pins.
	$(BIN)/pip install -q --no-deps dagster-postgres==0.29.27
	$(BIN)/pip install -q --no-deps basic-pitch==0.4.0  # note evidence (mir/notes.py); its pins force TensorFlow
	@rm -f $(VENV)/.installed-*; touch $@

setup: apt $(PY_STAMP) dvc-setup  ## create .venv and install everything (idempotent)

dvc-setup: $(PY_STAMP)
	@test -f .dvc/config || $(BIN)/dvc init -q
	@mkdir -p .dvc-remote

run: setup  ## run the whole pipeline on the embedded default, then dvc push
	$(BIN)/musicflamingo run --push

test: setup  ## run the default test suite (< 20 min on 2 cores)
	$(BIN)/python -m pytest -q -x --timeout=900

test-slow: setup  ## run only the slow tests (DeepSpeed ZeRO-2 on CPU with its op build)
	$(BIN)/python -m pytest -q -m slow --timeout=1800

test-all: setup  ## run every test
	$(BIN)/python -m pytest -q -m "slow or not slow" --timeout=1800

ui: setup  ## start Dagster (webserver + daemon) and the MLflow UI on 127.0.0.1
	$(BIN)/python -m musicflamingo.ui

bench: setup  ## print the benchmark figures
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:  ## remove generated data, models, caches and local service state (keeps .venv and DeepSpeed's op build)
	rm -rf data models reports metrics .dagster mlflow.db mlartifacts mlruns .dvc/cache .dvc/tmp .dvc-remote dvc.lock
	rm -rf batches reports/screenshots
	find .cache -mindepth 1 -maxdepth 1 ! -name torch_extensions ! -name '.apt-installed*' -exec rm -rf {} +

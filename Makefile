# slcc developer entry points. Everything Python runs from the venv in .venv.
#   make test    - venv + engine (dockerd, buildx, registry, test base image) + full test suite
#   make unit    - unit tests only, no engine needed
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.stamp
ENGINE := bash slcc/resources/engine.sh
BASE_IMAGES := bash slcc/resources/base-images.sh

.PHONY: shellcheck all setup engine serve-deps engine-status engine-down base-debian test unit demo bench lint clean

all: test

# Byte-compile slcc after every setup: with PYTHONDONTWRITEBYTECODE set (as on some CI machines)
# Python never writes .pyc files itself, and every slcc run would compile its modules again.
setup: $(STAMP)
	@$(PY) -m compileall -q slcc

# Reinstall only when pyproject.toml changed since the last install.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,lint,serve]'
	@touch $(STAMP)

# Emulation (QEMU for linux/arm64 on x86_64) is for multi-platform flavors; without it only
# those builds and tests fail, so a failure here is a warning.
engine:
	$(ENGINE) up
	-bash slcc/resources/emulation.sh up
	$(BASE_IMAGES) busybox

# chromium and a private PostgreSQL cluster for the `slcc serve` tests (idempotent)
serve-deps:
	bash slcc/resources/serve-deps.sh up

engine-status:
	$(ENGINE) status

engine-down:
	$(ENGINE) down

base-debian:
	$(BASE_IMAGES) debian

test: setup engine serve-deps
	$(PY) -m pytest -q --cov=slcc --cov-report=term:skip-covered tests

unit: setup
	$(PY) -m pytest -q tests/unit

demo: setup engine base-debian
	$(VENV)/bin/slcc build python3

# Every row in one run (docs/benchmarks.md); e.g. make bench BENCH_ARGS="--no-prune --reps 5".
bench: setup engine
	$(PY) tests/benchmarks/run.py $(BENCH_ARGS)

lint: setup shellcheck
	$(VENV)/bin/ruff check slcc tests
	$(VENV)/bin/mypy
	shellcheck --severity=warning slcc/resources/*.sh

# Debian's shellcheck, installed when missing (root on Debian/Ubuntu, like `make engine`).
shellcheck:
	@command -v shellcheck >/dev/null 2>&1 || apt-get install -y -q shellcheck >/dev/null 2>&1 \
		|| (apt-get update -q >/dev/null && apt-get install -y -q shellcheck >/dev/null) \
		|| { echo "make lint: shellcheck is missing and could not be installed (apt-get install shellcheck)" >&2; exit 1; }

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

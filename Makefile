# demoforge: two commands on a fresh machine.
#   make demo   set up .venv and run the built-in end-to-end job
#   make test   set up .venv and run the test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
export MUJOCO_GL ?= egl

.PHONY: setup demo test test-oldest bench docs clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $@

demo: setup
	$(VENV)/bin/demoforge demo

test: setup
	$(VENV)/bin/ruff check src tests benchmarks
	$(PY) -m pytest -n 2 -q

# The oldest MuJoCo demoforge supports, in its own environment (CI runs this after `make test`).
OLDEST_MUJOCO := 3.3.0
test-oldest:
	$(PYTHON) -m venv .venv-oldest
	.venv-oldest/bin/python -m pip install --quiet --upgrade pip
	.venv-oldest/bin/python -m pip install --quiet "mujoco==$(OLDEST_MUJOCO)" -e ".[dev]"
	.venv-oldest/bin/python -m pytest -n 2 -q -m "not slow"

docs: setup
	$(VENV)/bin/typer demoforge.cli utils docs --name demoforge --output docs/cli.md

bench: setup
	$(PY) benchmarks/run.py --out docs/benchmarks.md

clean:
	rm -rf $(VENV) .venv-oldest runs .pytest_cache

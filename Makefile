# demoforge: two commands on a fresh machine.
#   make demo   set up .venv and run the built-in end-to-end job
#   make test   set up .venv and run the test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
export MUJOCO_GL ?= egl

.PHONY: setup demo test bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $@

demo: setup
	$(VENV)/bin/demoforge demo

test: setup
	$(PY) -m pytest -n 2 -q

bench: setup
	$(PY) benchmarks/run.py --out docs/benchmarks.md

clean:
	rm -rf $(VENV) runs .pytest_cache

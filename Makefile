# demoforge: two commands on a fresh machine.
#   make demo   set up .venv and run the built-in end-to-end job
#   make test   set up .venv and run the test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
export MUJOCO_GL ?= egl

.PHONY: setup demo test test-fast test-oldest bench docs clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml package.json package-lock.json
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	npm ci --no-audit --no-fund --silent  # IWER (WebXR emulation) for the teleop page's browser tests
	$(VENV)/bin/demoforge assets install  # real robots' and kitchens' model files from pinned wheels (robosuite, gymnasium-robotics; MIT)
	@touch $@

demo: setup
	$(VENV)/bin/demoforge demo --overwrite

test: setup
	$(VENV)/bin/ruff check src tests benchmarks
	$(PY) -m pytest -n 2 -q --durations=15

# The inner loop (about a minute on 2 cores): the core of demoforge. Pose math, output rules, controller,
# robots, layers and the generator's protocol, generation on stack (run folder, HDF5 layout, resume),
# exact replay, bad input. `make test` runs everything, these included.
FAST_TESTS := tests/test_geometry.py tests/test_outputs.py tests/test_controller.py tests/test_robot.py \
	tests/test_layers.py tests/test_generation.py tests/test_replay_check.py tests/test_bad_input.py \
	tests/test_run_folder.py
test-fast: setup
	$(VENV)/bin/ruff check src tests benchmarks
	$(PY) -m pytest -n 2 -q $(FAST_TESTS) -m "not slow and not abuse" -k "$(FAST_SKIP)"
# Of the bad-input matrix (every damage x every command), the inner loop keeps generate and replay; of the
# hand-edit cases of replay --check, the actions; `make test` runs them all.
FAST_SKIP := not fuzz and not annotate_leaves and not bad_annotation_file and not annotation_file_that_is \
	and not ((bad_content or unreadable_input_file) and (annotate or render or export or video)) \
	and not (hand_edit and datagen_info)

# The oldest MuJoCo demoforge supports, in its own environment (CI runs this after `make test`).
OLDEST_MUJOCO := 3.3.0
test-oldest:
	$(PYTHON) -m venv .venv-oldest
	.venv-oldest/bin/python -m pip install --quiet --upgrade pip
	.venv-oldest/bin/python -m pip install --quiet "mujoco==$(OLDEST_MUJOCO)" -e ".[dev]"
	.venv-oldest/bin/demoforge assets install
	.venv-oldest/bin/python -m pytest -n 2 -q -m "not slow and not abuse"

docs: setup
	$(VENV)/bin/typer demoforge.cli utils docs --name demoforge --output docs/cli.md

bench: setup
	$(PY) benchmarks/run.py --out docs/benchmarks.md

clean:
	rm -rf $(VENV) .venv-oldest runs .pytest_cache

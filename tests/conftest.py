"""Shared fixtures: real source demos and a real generated run, made once per test process."""

from __future__ import annotations

from pathlib import Path

import pytest

import demoforge as df
from demoforge.runner.run_folder import RunStats


@pytest.fixture(scope="session")
def stack_sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sources") / "stack_src.hdf5"
    df.record_sources("stack", num=6, out=path, seed=0)
    return path


@pytest.fixture(scope="session")
def stack_run(tmp_path_factory: pytest.TempPathFactory, stack_sources: Path) -> tuple[Path, RunStats]:
    out = tmp_path_factory.mktemp("runs") / "stack"
    cfg = df.GenerateConfig(task="stack", source=str(stack_sources), num_demos=6, max_attempts=30, variation="D1", seed=3)
    stats = df.generate(cfg, out)
    return out, stats


@pytest.fixture(scope="session")
def mixed_run(tmp_path_factory: pytest.TempPathFactory, stack_sources: Path) -> tuple[Path, RunStats]:
    """A run with both kept demos and failed attempts (strong action noise at D2; seed 4 fails on MuJoCo 3.3 and 4)."""
    out = tmp_path_factory.mktemp("runs") / "mixed"
    cfg = df.GenerateConfig(
        task="stack", source=str(stack_sources), num_demos=3, max_attempts=8, variation="D2", seed=4, action_noise=0.3
    )
    stats = df.generate(cfg, out)
    assert 0 < stats.successes < stats.attempts, stats
    return out, stats

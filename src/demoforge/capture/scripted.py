"""Source demos from a task's scripted expert: noisy, human-like, and in the same file format as teleoperation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from demoforge.data.demo import Demo
from demoforge.data.hdf5 import DatasetWriter
from demoforge.rollout.episode import record_expert
from demoforge.sim.robot import load_robot
from demoforge.tasks import get_task
from demoforge.rollout.world import env_args_for, make_world


def record_sources(
    task_name: str,
    num: int,
    out: str | Path,
    seed: int = 0,
    variation: str = "D0",
    robot: str | None = None,
    on_demo: Callable[[Demo, int], None] | None = None,
    overwrite: bool = True,
) -> tuple[Path, int]:
    """Record ``num`` successful expert demos to ``out``; returns the path and the number of tries it took.

    Failed expert runs are discarded, as a person would discard a botched teleoperation. Without
    ``overwrite``, a file that appears at ``out`` meanwhile is not replaced.
    """
    task = get_task(task_name)
    task.variation(variation)
    world = make_world(task, load_robot(robot or task.robot))
    tries = 0
    with DatasetWriter(out, env_args_for(world, variation), replace=overwrite) as writer:
        while writer.count < num:
            if tries >= 5 * num + 10:
                raise RuntimeError(f"the {task_name} expert succeeded only {writer.count} times in {tries} tries")
            demo = record_expert(world, np.random.default_rng([seed, tries]), variation)
            demo.meta.update(seed=seed, attempt=tries, expert="scripted")
            tries += 1
            if demo.success:
                writer.add(demo)
            if on_demo is not None:
                on_demo(demo, writer.count)
    return Path(out), tries

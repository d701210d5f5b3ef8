"""``demoforge task check``: build a task's world and reset it in every variation, before any demo is made.

What a task file's author wants to know in seconds: the file is valid, its world compiles with the robot,
every variation can be sampled (objects apart and within reach), and its signals and success can be read
in that world. What it finds is returned as data for the CLI to print.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from demoforge.rollout.world import make_world
from demoforge.sim.robot import load_robot
from demoforge.tasks import get_task
from demoforge.tasks.base import Task


@dataclass(frozen=True)
class VariationCheck:
    name: str
    resets: int  # resets drawn, each checked for objects interpenetrating
    overlapping: int  # of them, starts with objects interpenetrating (a scene would redraw them)
    success_at_start: int  # of them, starts where success already holds (a task that is solved at reset)


@dataclass(frozen=True)
class TaskCheck:
    task: Task
    robot: str
    bodies: int  # in the compiled world
    dof: int
    variations: tuple[VariationCheck, ...]


def check_task(ref: str, robot: str | None = None, resets: int = 20, seed: int = 0) -> TaskCheck:
    """Load ``ref``, build its world (with ``robot`` or the task's own) and draw ``resets`` starts per variation."""
    task = get_task(ref)
    world = make_world(task, load_robot(robot) if robot else None)
    env = world.env
    rng = np.random.default_rng(seed)
    found = []
    for name in task.variations:
        overlapping = solved = 0
        for _ in range(resets):
            task.reset(env, rng, name)
            overlapping += not task.start_is_valid(env)
            task.signals(env)  # every predicate is read once: a runtime mistake shows here, not mid-generation
            solved += bool(task.success(env))
        found.append(VariationCheck(name, resets, overlapping, solved))
    return TaskCheck(task, env.robot.name, int(env.model.nbody), int(env.model.nv), tuple(found))

"""Build the simulated world for a task: base scene + task objects, compiled once per process."""

from __future__ import annotations

from dataclasses import dataclass

from demoforge.sim.env import SimEnv
from demoforge.sim.robot import PANDA, RobotConfig
from demoforge.sim.scene import PhysicsSettings, base_scene, compile_scene
from demoforge.tasks.base import Task


@dataclass
class World:
    """A ready environment for one task and the exact MJCF it was compiled from."""

    env: SimEnv
    task: Task
    model_xml: str


def make_world(task: Task, robot: RobotConfig = PANDA, physics: PhysicsSettings = PhysicsSettings()) -> World:
    spec = base_scene(robot, physics)
    task.build(spec)
    model, xml = compile_scene(spec)
    return World(SimEnv(model, robot, physics), task, xml)

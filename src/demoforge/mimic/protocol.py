"""What the generator may ask of a simulated world, and nothing more.

``mimic/`` reads end-effector and object poses, object extents and symmetry, grasp state, success and
the termination signals, and steps per-arm targets through an episode that records itself. It never
touches MuJoCo, the robot's controller or the task's internals, so another backend (a humanoid, a
robosuite environment) plugs in by implementing these two protocols; ``rollout.world.World`` and
``rollout.episode.Recorder`` are demoforge's own. Subtasks, objects and ``success_hold_steps`` are the
task's declarations (plain data on ``world.task``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import numpy as np

from demoforge.data.demo import Demo
from demoforge.tasks.base import Task


class Episode(Protocol):
    """An episode being executed and recorded, one control step at a time."""

    t: int  # control steps taken
    signals: Mapping[str, np.ndarray]  # termination signals per step so far, by name

    @property
    def full(self) -> bool:
        """No room for another step (the task's step limit)."""
        ...

    @property
    def unstable(self) -> bool:
        """The physics blew up."""
        ...

    def step(self, world_T_target: np.ndarray, gripper: float | np.ndarray, noise: np.ndarray | None = None) -> bool:
        """One control step toward the target pose(s) ((4, 4) or (arms, 4, 4)) with the end-effector
        command(s); ``noise`` is added to the normalised action. False when it could not be taken."""
        ...

    def succeeded(self) -> bool:
        """The task's success held over its final ``success_hold_steps``."""
        ...

    def finish(self, **meta: object) -> Demo:
        """The recorded demo, with ``meta`` attached."""
        ...


class GenerationWorld(Protocol):
    """A world the generator can run attempts in."""

    task: Task

    @property
    def arm_names(self) -> list[str]:
        """The robot's arms, in action order."""
        ...

    @property
    def eef_dim(self) -> int:
        """Width of each arm's end-effector command: 1 for a gripper, one per actuator for a hand (-1 open)."""
        ...

    @property
    def substeps(self) -> int:
        """Physics steps per control step (for the statistics)."""
        ...

    def reset(self, rng: np.random.Generator, variation: str) -> None:
        """Robot home, objects at a fresh sample of ``variation``; DemoforgeError if no valid placement exists."""
        ...

    def start_is_valid(self) -> bool:
        """No objects interpenetrate at the start (a sampled scene may make it impossible)."""
        ...

    def eef_pose(self, arm: int = 0) -> np.ndarray:
        """``world_T_eef`` of an arm."""
        ...

    def object_pose(self, name: str) -> np.ndarray:
        """``world_T_object``, symmetric objects folded to the frame nearest the world's yaw."""
        ...

    def object_extent(self, name: str) -> tuple[float, float]:
        """(bottom, top) z of an object in its own frame, as simulated."""
        ...

    def symmetry_order(self, name: str) -> int:
        """n-fold yaw symmetry of an object as simulated (0: any yaw)."""
        ...

    def is_grasping(self, name: str, arm: int = 0) -> bool:
        """The arm holds the object."""
        ...

    def success(self) -> bool:
        """The task is solved in the current state."""
        ...

    def failure_reason(self) -> str:
        """Why the current state is a failure, when the task can say more ("" if not)."""
        ...

    def episode(self, cameras: list[str], image_size: int, depth: bool, segmentation: bool,
                max_steps: int | None = None) -> Episode:
        """Start recording an episode from the current state, rendering ``cameras`` into its observations; it is
        full after ``max_steps`` control steps (default: the task's horizon)."""
        ...

"""``stack``: put cube_a (4 cm, red) on cube_b (5 cm, green)."""

from __future__ import annotations

import mujoco
import numpy as np

from demoforge.sim.env import SimEnv
from demoforge.tasks.base import ExpertStream, Subtask, Task, box_placement
from demoforge.tasks.motion import Motion, pick_and_place
from demoforge.tasks.objects import add_box_object, on_top_pose

CUBE_HALF = {"cube_a": 0.02, "cube_b": 0.025, "cube_c": 0.0225}
CUBE_RGBA = {"cube_a": (0.85, 0.15, 0.12, 1), "cube_b": (0.15, 0.7, 0.2, 1), "cube_c": (0.15, 0.3, 0.85, 1)}


def add_cubes(spec: mujoco.MjSpec, names: tuple[str, ...]) -> None:
    """The named cubes (sizes and colours from ``CUBE_HALF`` / ``CUBE_RGBA``) as free bodies."""
    for name in names:
        half = CUBE_HALF[name]
        add_box_object(spec, name, (half, half, half), CUBE_RGBA[name])


def cube_half(env: SimEnv, name: str) -> float:
    """Half edge of a cube as simulated (scenes may scale it)."""
    return env.half_height(f"{name}_geom")


def resting_on(env: SimEnv, top: str, bottom: str, top_pose: np.ndarray, bottom_pose: np.ndarray) -> bool:
    """``top`` cube sits on ``bottom``: touching, above it, centred within the bottom's half-size, not held."""
    dz = top_pose[2, 3] - bottom_pose[2, 3]
    expected = cube_half(env, top) + cube_half(env, bottom)
    centred = np.linalg.norm(top_pose[:2, 3] - bottom_pose[:2, 3]) < env.half_width(f"{bottom}_geom")
    return (
        centred
        and abs(dz - expected) < 0.01
        and env.in_contact(env.body_geoms(top), env.body_geoms(bottom))
        and not env.in_contact(env.finger_geom_ids, env.body_geoms(top))
    )


def stack_onto(motion: Motion, env: SimEnv, task: Task, held: str, base: str) -> ExpertStream:
    """Pick ``held`` and set it down centred on ``base``."""

    def goal() -> np.ndarray:
        held_pose, base_pose = task.object_pose(env, held), task.object_pose(env, base)
        return on_top_pose(env, held_pose, base_pose, cube_half(env, base) + cube_half(env, held), motion.arm)

    yield from pick_and_place(motion, env, held, lambda n: task.object_pose(env, n), goal, place_clearance=0.008)


class Stack(Task):
    name = "stack"
    description = "stack the red cube on the green cube"
    objects = ("cube_a", "cube_b")
    subtasks = (
        Subtask("grasp_cube_a", object="cube_a", signal="grasp_cube_a"),
        Subtask("place_on_cube_b", object="cube_b", signal=None, held="cube_a", anchor="top"),
    )
    variations = {
        "D0": {"cube_a": box_placement(0.55, 0.0, 0.08, 0.08), "cube_b": box_placement(0.55, 0.0, 0.08, 0.08)},
        "D1": {"cube_a": box_placement(0.55, 0.0, 0.2, 0.25), "cube_b": box_placement(0.55, 0.0, 0.2, 0.25)},
        "D2": {"cube_a": box_placement(0.55, 0.0, 0.25, 0.35), "cube_b": box_placement(0.55, 0.0, 0.25, 0.35)},
    }
    symmetry = {"cube_a": 4, "cube_b": 4}
    scalable = {"cube_a": "block", "cube_b": "block"}
    min_separation = 0.1
    max_steps = 400

    def build(self, spec: mujoco.MjSpec) -> None:
        add_cubes(spec, self.objects)

    def signals(self, env: SimEnv) -> dict[str, bool]:
        return {"grasp_cube_a": env.is_grasping("cube_a")}

    def success(self, env: SimEnv) -> bool:
        return resting_on(env, "cube_a", "cube_b", env.body_pose("cube_a"), env.body_pose("cube_b"))

    def expert(self, env: SimEnv, rng: np.random.Generator) -> ExpertStream:
        motion = Motion(env, rng)
        yield from stack_onto(motion, env, self, "cube_a", "cube_b")
        yield from motion.pause(int(rng.integers(3, 8)))

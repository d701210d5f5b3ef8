"""``stack_three``: cube_a (4 cm, red) on cube_b (5 cm, green), then cube_c (4.5 cm, blue) on cube_a."""

from __future__ import annotations

import mujoco
import numpy as np

from demoforge.sim.env import SimEnv
from demoforge.tasks.base import ExpertStream, Subtask, Task, box_placement
from demoforge.tasks.motion import Motion, pick, place_carefully
from demoforge.tasks.objects import on_top_pose
from demoforge.tasks.stack import add_cubes, cube_half, resting_on


def stack_carefully(motion: Motion, env: SimEnv, task: Task, held: str, base: str) -> ExpertStream:
    """Pick ``held`` and set it on ``base``, pausing before each descent so a lagging arm cannot knock the tower.

    Lifts higher than ``stack`` does: the carried cube must clear a two-cube tower on the way.
    """
    pose = lambda name: task.object_pose(env, name)  # noqa: E731
    goal = lambda: on_top_pose(env, pose(held), pose(base), cube_half(env, base) + cube_half(env, held))  # noqa: E731
    yield from pick(motion, held, pose, lift=(0.11, 0.15), settle=True)
    yield from place_carefully(motion, goal)


class StackThree(Task):
    name = "stack_three"
    description = "stack the red cube on the green cube, then the blue cube on the red cube"
    objects = ("cube_a", "cube_b", "cube_c")
    subtasks = (
        Subtask("grasp_cube_a", object="cube_a", signal="grasp_cube_a"),
        Subtask("place_a_on_b", object="cube_b", signal="a_on_b", held="cube_a", anchor="top"),
        Subtask("grasp_cube_c", object="cube_c", signal="grasp_cube_c"),
        Subtask("place_c_on_a", object="cube_a", signal=None, held="cube_c", anchor="top"),
    )
    # D0 is a little wider than stack's +-8 cm so three cubes 10 cm apart are not forced into its corners.
    variations = {
        name: {cube: box_placement(0.55, 0.0, hx, hy) for cube in ("cube_a", "cube_b", "cube_c")}
        for name, (hx, hy) in {"D0": (0.1, 0.1), "D1": (0.2, 0.25), "D2": (0.25, 0.35)}.items()
    }
    symmetry = {"cube_a": 4, "cube_b": 4, "cube_c": 4}
    scalable = {"cube_a": "block", "cube_b": "block", "cube_c": "block"}
    min_separation = 0.1
    max_steps = 700

    def build(self, spec: mujoco.MjSpec) -> None:
        add_cubes(spec, self.objects)

    def _a_on_b(self, env: SimEnv) -> bool:
        return resting_on(env, "cube_a", "cube_b", env.body_pose("cube_a"), env.body_pose("cube_b"))

    def signals(self, env: SimEnv) -> dict[str, bool]:
        return {
            "grasp_cube_a": env.is_grasping("cube_a"),
            "a_on_b": self._a_on_b(env),
            "grasp_cube_c": env.is_grasping("cube_c"),
        }

    def success(self, env: SimEnv) -> bool:
        c_on_a = resting_on(env, "cube_c", "cube_a", env.body_pose("cube_c"), env.body_pose("cube_a"))
        return c_on_a and self._a_on_b(env)

    def expert(self, env: SimEnv, rng: np.random.Generator) -> ExpertStream:
        motion = Motion(env, rng)
        yield from stack_carefully(motion, env, self, "cube_a", "cube_b")
        yield from stack_carefully(motion, env, self, "cube_c", "cube_a")
        yield from motion.pause(int(rng.integers(3, 8)))

"""``turn_on_stove``: turn a burner's knob on (RoboCasa's TurnOnStove, on the kitchen's cooktop).

A two-burner cooktop (sim/stove.py, 30 x 52 cm, 8 kg) stands on the counter facing the robot. Its left knob
is the one to turn: success is that knob at least 70 degrees on (of its 270), let go of. The expert comes
down over the knob with the fingers across its grip, closes them, turns the wrist about the knob's axis by
95 to 125 degrees (the knob slips back a little in the fingers), lets go and lifts the hand away.
"""

from __future__ import annotations

import mujoco
import numpy as np

from demoforge import geometry as geo
from demoforge.sim.env import SimEnv
from demoforge.sim.stove import stove_size, stove_spec
from demoforge.tasks.base import ExpertStream, Subtask, Task, facing_robot
from demoforge.tasks.motion import GRIPPER_DOWN, Motion, grip_at

KNOB = "stove_knob_0"  # the left knob, seen from the front
HINGE = f"{KNOB}_hinge"
ON = 1.2  # radians: the burner counts as on from here
STOVE_KG = 8.0
GRIP_HEIGHT = 0.021  # metres from the knob's origin to where the fingers close on its grip


class TurnOnStove(Task):
    name = "turn_on_stove"
    description = "turn on the left burner of the stove"
    objects = ("stove", KNOB)  # the knob is the stove's, reported for its pose
    symmetry = {KNOB: 2}  # its grip is the same turned half a turn
    subtasks = (
        Subtask("grasp_knob", object=KNOB, signal="grasp_knob"),
        Subtask("turn_knob", object=KNOB, signal=None),
    )
    variations = {"D0": {"stove": facing_robot(0.62, 0.05, 0.02, 0.02, 0.05)},  # the cooktop's base centre
                  "D1": {"stove": facing_robot(0.62, 0.05, 0.06, 0.12, 0.25)},
                  "D2": {"stove": facing_robot(0.62, 0.05, 0.08, 0.18, 0.45)}}
    reach = (0.3, 0.85)
    max_steps = 300

    def build(self, spec: mujoco.MjSpec) -> None:
        body = spec.worldbody.add_frame().attach_body(stove_spec(2).body("stove"), "stove_", "")
        body.name = "stove"
        body.add_freejoint(name="stove_joint")
        half_x, half_y, _ = stove_size(2)
        body.add_geom(name="stove_ballast", type=mujoco.mjtGeom.mjGEOM_BOX, size=[half_x - 0.02, half_y - 0.02, 0.004],
                      pos=[0.0, 0.0, 0.004], mass=STOVE_KG, contype=0, conaffinity=0, group=4)

    def placement_boxes(self, variation: str) -> list[tuple[float, float, float, float]]:
        """The cooktop and the way the hand comes to its knobs."""
        placement = self.variation(variation)["stove"]
        return [(placement.x[0] - 0.4, placement.x[1] + 0.3, placement.y[0] - 0.3, placement.y[1] + 0.3)]

    def knob_angle(self, env: SimEnv) -> float:
        return float(env.data.qpos[env.model.joint(HINGE).qposadr[0]])

    def signals(self, env: SimEnv) -> dict[str, bool]:
        return {"grasp_knob": env.is_grasping(KNOB)}

    def success(self, env: SimEnv) -> bool:
        return self.knob_angle(env) >= ON and not env.in_contact(env.finger_geom_ids, env.body_geoms(KNOB))

    def failure_reason(self, env: SimEnv) -> str:
        if self.knob_angle(env) < ON:
            return f"knob at {np.degrees(self.knob_angle(env)):.0f} of {np.degrees(ON):.0f} degrees"
        return "knob still held"

    def knob_grasp(self, env: SimEnv, turn: float) -> np.ndarray:
        """Gripper pointing down at the grip's middle, fingers closing across it; of the two such yaws, the
        one that leaves the wrist the most room for ``turn`` radians more."""
        knob = env.body_pose(KNOB)
        across = knob[:3, 0]  # the grip's narrow side
        yaw = float(np.arctan2(across[1], across[0])) - np.pi / 2  # fingers close along the gripper's y
        now = env.eef_pose()
        now_yaw = float(np.arctan2(now[1, 0], now[0, 0]))
        middle = now_yaw - turn / 2  # the turn then swings the wrist evenly about where it is now
        if abs(_wrap(yaw + np.pi - middle)) < abs(_wrap(yaw - middle)):
            yaw += np.pi
        return geo.make_pose(knob[:3, 3] + [0.0, 0.0, GRIP_HEIGHT], geo.yaw_mat(yaw) @ GRIPPER_DOWN)

    def expert(self, env: SimEnv, rng: np.random.Generator) -> ExpertStream:
        motion = Motion(env, rng)
        turn = float(rng.uniform(np.radians(95), np.radians(125)))  # the knob slips back some of it
        yield from grip_at(motion, lambda: self.knob_grasp(env, turn), float(rng.uniform(0.07, 0.11)))
        start = motion.target.copy()
        for angle in np.linspace(0.0, turn, int(rng.integers(14, 22)))[1:]:  # about the knob's own axis
            motion.target = geo.make_pose(start[:3, 3], geo.yaw_mat(angle) @ start[:3, :3])
            yield motion.emit(motion.target)
        yield from motion.pause(int(rng.integers(2, 5)))
        yield from motion.grip(-1.0)
        yield from motion.lift(float(rng.uniform(0.08, 0.12)), speed=0.7)
        yield from motion.pause(int(rng.integers(3, 7)))


def _wrap(angle: float) -> float:
    return float((angle + np.pi) % (2 * np.pi) - np.pi)

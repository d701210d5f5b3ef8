"""``close_door``: push the open door of a microwave shut (RoboCasa's CloseDoor on the Franka Kitchen's microwave).

The microwave (sim/appliances.py) stands on the counter facing the robot, its door open at the start (23 to
46 degrees; wider, it would touch the robot). It weighs 12 kg, as a real one does, so a push on the door turns
the door rather than sliding the microwave. Success is the door's hinge within 4.5 degrees of shut. The expert closes the
gripper into a blunt pusher, comes to the outside of the door near its free edge and sweeps it round
the hinge, as a person does with the back of a hand.
"""

from __future__ import annotations

import mujoco
import numpy as np

from demoforge import geometry as geo
from demoforge.sim.appliances import appliance_spec
from demoforge.sim.env import SimEnv
from demoforge.sim.spec_edit import subtree_spec_geoms
from demoforge.tasks.base import ExpertStream, Subtask, Task, facing_robot
from demoforge.tasks.motion import GRIPPER_DOWN, Motion

HINGE = "microwave_door_hinge"
SHUT = -0.08  # rad: the door counts as closed from here to its stop at 0 (open is negative, to -2.09)
BALLAST_KG = 8.7  # on top of the pack's 3.3 kg of parts: a 12 kg microwave
DOOR_OUTSIDE_Y = -0.05  # the door's outer face in the door's frame (its handle side), metres
PUSH_ALONG = (0.24, 0.33)  # metres from the hinge along the door where the push lands: the door is 0.52 wide and
# its handle, 0.475 out, sticks 8 cm out of it, so the hand (19 cm long) pushes beside the handle
PUSH_HEIGHT = (-0.06, 0.02)  # metres from the door's middle
DOOR_HALF_HEIGHT = 0.185
OPENINGS = {"D0": (-0.7, -0.6), "D1": (-0.8, -0.5), "D2": (-0.8, -0.4)}  # initial door angle, rad (more: it hits the robot)


class CloseDoor(Task):
    name = "close_door"
    description = "close the microwave door"
    objects = ("microwave", "microwave_door")  # the door is the microwave's, reported for its pose
    subtasks = (
        Subtask("reach_door", object="microwave_door", signal="touch_door"),
        Subtask("push_door_shut", object="microwave", signal=None),
    )
    # the microwave's base centre, its back clear of a kitchen's backsplash (nearer the robot, its open door
    # leaves the hand too little room to come round it)
    variations = {"D0": {"microwave": facing_robot(0.71, -0.12, 0.01, 0.01, 0.03)},
                  "D1": {"microwave": facing_robot(0.71, -0.12, 0.02, 0.05, 0.12)},
                  "D2": {"microwave": facing_robot(0.71, -0.12, 0.03, 0.08, 0.2)}}
    reach = (0.3, 0.95)  # of the microwave's centre; its door swings out towards the robot
    max_steps = 400

    def build(self, spec: mujoco.MjSpec) -> None:
        body = spec.worldbody.add_frame().attach_body(appliance_spec("microwave").body("microroot"), "microwave_", "")
        body.name = "microwave"
        body.add_freejoint(name="microwave_joint")
        body.add_geom(name="microwave_ballast", type=mujoco.mjtGeom.mjGEOM_BOX, size=[0.25, 0.15, 0.02],
                      pos=[0.0, 0.0, 0.03], mass=BALLAST_KG, contype=0, conaffinity=0, group=4,
                      material="microwave_micro_black")  # named: the body's class names it unprefixed
        for geom in subtree_spec_geoms(body):  # MuJoCo's default contact softness: the pack's lets a free body sink
            if geom.contype or geom.conaffinity:
                geom.solimp[:3], geom.solref[:2], geom.margin = [0.9, 0.95, 0.001], [0.02, 1.0], 0.0
        spec.body("microwave_microdoorroot").name = "microwave_door"
        spec.joint("microwave_microwave").name = HINGE

    def placement_boxes(self, variation: str) -> list[tuple[float, float, float, float]]:
        """The microwave's footprint and the sweep of its door towards the robot, plus the hand's way there:
        where a scene must not put distractors."""
        (x0, x1), (y0, y1) = (self.variation(variation)["microwave"].x, self.variation(variation)["microwave"].y)
        return [(x0 - 0.6, x1 + 0.3, y0 - 0.4, y1 + 0.5)]

    def reset(self, env: SimEnv, rng: np.random.Generator, variation: str = "D0") -> None:
        """The microwave placed by ``variation``, its door opened by a fresh draw."""
        super().reset(env, rng, variation)
        env.data.qpos[env.model.joint(HINGE).qposadr[0]] = rng.uniform(*OPENINGS[variation])
        mujoco.mj_forward(env.model, env.data)

    def door_angle(self, env: SimEnv) -> float:
        return float(env.data.qpos[env.model.joint(HINGE).qposadr[0]])

    def signals(self, env: SimEnv) -> dict[str, bool]:
        return {"touch_door": env.in_contact(np.flatnonzero(env.robot_geom_mask), env.body_geoms("microwave_door"))}

    def success(self, env: SimEnv) -> bool:
        return self.door_angle(env) >= SHUT

    def failure_reason(self, env: SimEnv) -> str:
        return f"door open by {np.degrees(-self.door_angle(env)):.0f} degrees"

    def expert(self, env: SimEnv, rng: np.random.Generator) -> ExpertStream:
        """Close the fingers, come to the outside of the door near its free edge, sweep it shut round the
        hinge, let go of it and back away."""
        motion = Motion(env, rng)
        along, height = float(rng.uniform(*PUSH_ALONG)), float(rng.uniform(*PUSH_HEIGHT))
        door = env.body_pose("microwave_door")
        start = self.door_angle(env)

        def push(angle: float, gap: float) -> np.ndarray:
            """Gripper pose touching the door's outside (``gap`` metres off it) with the door at ``angle``."""
            turned = door @ geo.make_pose(np.zeros(3), geo.yaw_mat(angle - start))
            point = turned[:3, :3] @ [along, DOOR_OUTSIDE_Y - gap, height] + turned[:3, 3]
            across = turned[:3, 0]  # the hand's long side along the door
            yaw = np.arctan2(across[0], -across[1])
            return geo.make_pose(point, geo.yaw_mat(yaw) @ GRIPPER_DOWN)

        yield from motion.grip(1.0, steps=int(rng.integers(4, 8)))
        clear = DOOR_HALF_HEIGHT - height + float(rng.uniform(0.08, 0.12))  # over the door's top edge
        yield from motion.lift(max(0.0, door[2, 3] + clear - motion.target[2, 3]))
        above = push(start, float(rng.uniform(0.1, 0.12)))
        above[2, 3] += clear
        yield from motion.move(above)
        yield from motion.move(push(start, 0.1), speed=0.6)
        yield from motion.settle()
        yield from motion.move(push(start, 0.0), speed=0.3, precise=True)
        sweep = np.linspace(start, 0.1, int(rng.integers(24, 34)))  # past shut: pressed against its stop
        for angle in sweep[1:]:
            motion.target = push(angle, -0.015)
            yield motion.emit(motion.target)
        yield from motion.pause(int(rng.integers(2, 5)))
        back = motion.target.copy()
        back[:3, 3] -= 0.08 * env.body_pose("microwave")[:3, 1]  # back out of the way: along the microwave's -y
        back[2, 3] += 0.04
        yield from motion.move(back, speed=0.6)
        yield from motion.pause(int(rng.integers(4, 8)))


"""Small model pieces tasks compose into a scene: free objects with a canonical frame at their centre."""

from __future__ import annotations

import mujoco
import numpy as np

from demoforge import geometry as geo
from demoforge.sim.env import SimEnv
from demoforge.sim.scene import WORLD_CONAFFINITY, WORLD_CONTYPE

OBJECT_FRICTION = (1.0, 0.005, 0.0001)


def add_free_body(spec: mujoco.MjSpec, name: str) -> mujoco.MjsBody:
    """A body named after the object with a free joint ``<name>_joint``."""
    body = spec.worldbody.add_body(name=name)
    body.add_freejoint(name=f"{name}_joint")
    return body


def add_box_geom(
    body: mujoco.MjsBody, name: str, half: tuple[float, ...], pos: tuple[float, ...],
    rgba: tuple[float, ...], friction: tuple[float, ...], **inertia: float,
) -> None:
    """A world-colliding box geom with torsional friction (condim 4), as the gripper pads have: one piece of
    a composite object (a nut, a peg, a bin)."""
    body.add_geom(
        name=name, type=mujoco.mjtGeom.mjGEOM_BOX, size=list(half), pos=list(pos), rgba=list(rgba),
        friction=list(friction), contype=WORLD_CONTYPE, conaffinity=WORLD_CONAFFINITY, condim=4, **inertia,
    )


def add_box_object(
    spec: mujoco.MjSpec, name: str, half_size: tuple[float, float, float], rgba: tuple[float, ...], density: float = 600.0
) -> mujoco.MjsBody:
    body = add_free_body(spec, name)
    body.add_geom(
        name=f"{name}_geom", type=mujoco.mjtGeom.mjGEOM_BOX, size=list(half_size), rgba=list(rgba),
        density=density, friction=list(OBJECT_FRICTION), contype=WORLD_CONTYPE, conaffinity=WORLD_CONAFFINITY,
        condim=4,
    )
    return body


def place_pose(env: SimEnv, world_T_held_now: np.ndarray, world_T_held_goal: np.ndarray, arm: int = 0) -> np.ndarray:
    """End-effector pose (of ``arm``) that moves a held object from its current pose to ``world_T_held_goal``.

    The same object-centric relation the generator uses: the grasp (eef relative to object) is kept.
    """
    return world_T_held_goal @ geo.invert(world_T_held_now) @ env.eef_pose(arm)


def upright_cube_rotation(world_T_held: np.ndarray, world_T_ref: np.ndarray) -> np.ndarray:
    """Least turn that sets a held cube flat and square to ``world_T_ref``, whichever face is down.

    A cube knocked onto its side while being grasped is still a cube: levelling its most vertical axis
    (rather than its own z) keeps the gripper pointing down instead of rolling it by 90 degrees.
    """
    rot = world_T_held[:3, :3]
    k = int(np.argmax(np.abs(rot[2])))
    up = rot[:, k] * np.sign(rot[2, k])
    axis = np.cross(up, [0.0, 0.0, 1.0])
    angle = float(np.arctan2(np.linalg.norm(axis), up[2]))
    level = geo.axisangle_to_mat(axis / max(np.linalg.norm(axis), 1e-12) * angle) @ rot
    side = level[:, (k + 1) % 3]
    heading = np.arctan2(side[1], side[0])
    ref = np.arctan2(world_T_ref[1, 0], world_T_ref[0, 0])
    step = np.pi / 2
    delta = (ref - heading + step / 2) % step - step / 2
    return geo.yaw_mat(delta) @ level


def on_top_pose(
    env: SimEnv, world_T_held: np.ndarray, world_T_base: np.ndarray, height: float, arm: int = 0
) -> np.ndarray:
    """End-effector pose that sets a held cube ``height`` above ``world_T_base``'s centre, flat and square to it."""
    target = geo.make_pose(world_T_base[:3, 3] + [0.0, 0.0, height], upright_cube_rotation(world_T_held, world_T_base))
    return place_pose(env, world_T_held, target, arm)

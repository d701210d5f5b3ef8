"""A model recorded in another simulator (robosuite), seen through a demoforge task's object names.

A task's signals and success (``grasped``, ``on`` ...) ask a ``SimEnv`` about bodies, geoms and contacts
by the task's names. ``RecordedWorld`` answers the same questions on the recording's own model, set to
each recorded state, with the names mapped (``cube_a`` -> ``cubeA_main``): the imported demo is then
annotated by the task's own definitions, on the contacts that really happened in the recording.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from demoforge import geometry as geo
from demoforge.errors import DemoforgeError
from demoforge.sim.env import subtree_geoms


@dataclass
class RecordedArm:
    """What tasks read of an arm: its base pose (world frame of the recording) and its fingers' grasp groups."""

    world_T_base: np.ndarray
    grasp_groups: list[frozenset[int]]
    finger_geom_ids: np.ndarray


class RecordedWorld:
    """The part of ``SimEnv`` that task signals read, on a recorded model; objects by the task's names."""

    def __init__(self, model: mujoco.MjModel, bodies: dict[str, str], eef_site: str, fingers: tuple[str, ...],
                 base_body: str, table_z: float) -> None:
        self.model, self.data = model, mujoco.MjData(model)
        self.bodies = {name: model.body(body).id for name, body in bodies.items()}
        self.eef_site = model.site(eef_site).id
        groups = [frozenset(_colliding(model, subtree_geoms(model, f)).tolist()) for f in fingers]
        if not all(groups):
            raise DemoforgeError(f"finger bodies {', '.join(fingers)} have no colliding geoms")
        self.base_body = model.body(base_body).id
        mujoco.mj_kinematics(model, self.data)
        arm = RecordedArm(self.body_pose_by_id(self.base_body), groups, np.array(sorted(set().union(*groups)), dtype=int))
        self.arms = [arm]
        self.finger_geom_ids = arm.finger_geom_ids
        self.world_T_base = arm.world_T_base
        self.table_z = table_z
        self._main_geom = {name: self._main(body) for name, body in self.bodies.items()}
        self.dropped: list[str] = []  # attributes removed from the recording's MJCF to load it here

    def _main(self, body: int) -> int:
        """A body's largest colliding geom: what ``<object>_geom`` means in demoforge's own models."""
        geoms = _colliding(self.model, subtree_geoms(self.model, self.model.body(body).name))
        if not len(geoms):
            raise DemoforgeError(f"body {self.model.body(body).name!r} has no colliding geom")
        return int(max(geoms, key=lambda g: float(self.model.geom_rbound[g])))

    def set_state(self, qpos: np.ndarray, qvel: np.ndarray) -> None:
        self.data.qpos[:], self.data.qvel[:] = qpos, qvel
        mujoco.mj_forward(self.model, self.data)
        self.world_T_base = self.arms[0].world_T_base = self.body_pose_by_id(self.base_body)

    # ---- the SimEnv questions tasks ask -------------------------------------------------------------
    def _body_id(self, name: str) -> int:
        if name not in self.bodies:
            raise DemoforgeError(f"the task reads body {name!r}, which the object map does not give")
        return self.bodies[name]

    def _geom_id(self, geom: str) -> int:
        name = geom.removesuffix("_geom")
        if geom == name or name not in self._main_geom:
            raise DemoforgeError(f"the task reads geom {geom!r}, which a recording has no counterpart of")
        return self._main_geom[name]

    def eef_pose(self, arm: int = 0) -> np.ndarray:
        return geo.make_pose(self.data.site_xpos[self.eef_site], self.data.site_xmat[self.eef_site].reshape(3, 3))

    def body_pose_by_id(self, body: int) -> np.ndarray:
        return geo.make_pose(self.data.xpos[body], self.data.xmat[body].reshape(3, 3))

    def body_pose(self, body: str) -> np.ndarray:
        return self.body_pose_by_id(self._body_id(body))

    def body_position(self, body: str) -> np.ndarray:
        return self.data.xpos[self._body_id(body)].copy()

    def has_geom(self, name: str) -> bool:
        return name.removesuffix("_geom") in self._main_geom and name.endswith("_geom")

    def geom_id(self, name: str) -> int | None:
        return self._geom_id(name) if self.has_geom(name) else None

    def half_height(self, geom: str) -> float:
        g = self._geom_id(geom)
        cylinder = int(self.model.geom_type[g]) == int(mujoco.mjtGeom.mjGEOM_CYLINDER)
        return float(self.model.geom_size[g, 1 if cylinder else 2])

    def half_width(self, geom: str) -> float:
        g = self._geom_id(geom)
        size = self.model.geom_size[g]
        cylinder = int(self.model.geom_type[g]) == int(mujoco.mjtGeom.mjGEOM_CYLINDER)
        return float(size[0] if cylinder else min(size[0], size[1]))

    def yaw_symmetry(self, geom: str) -> int:
        g = self._geom_id(geom)
        if int(self.model.geom_type[g]) in (int(mujoco.mjtGeom.mjGEOM_CYLINDER), int(mujoco.mjtGeom.mjGEOM_SPHERE)):
            return 0
        size = self.model.geom_size[g]
        return 4 if abs(size[0] - size[1]) < 1e-6 else 2

    def body_geoms(self, body: str) -> np.ndarray:
        return subtree_geoms(self.model, self.model.body(self._body_id(body)).name)

    def in_contact(self, geoms_a: np.ndarray, geoms_b: np.ndarray) -> bool:
        a, b = set(np.asarray(geoms_a).tolist()), set(np.asarray(geoms_b).tolist())
        for g0, g1 in self.data.contact.geom[: self.data.ncon].tolist():
            if (g0 in a and g1 in b) or (g1 in a and g0 in b):
                return True
        return False

    def geoms_touching(self, body: str) -> set[int]:
        mine, touching = set(self.body_geoms(body).tolist()), set()
        for g0, g1 in self.data.contact.geom[: self.data.ncon].tolist():
            if g0 in mine:
                touching.add(g1)
            if g1 in mine:
                touching.add(g0)
        return touching

    def grasps(self, touching: set[int], arm: int = 0) -> bool:
        return all(not group.isdisjoint(touching) for group in self.arms[arm].grasp_groups)

    def is_grasping(self, body: str, arm: int = 0) -> bool:
        return self.grasps(self.geoms_touching(body), arm)


def _colliding(model: mujoco.MjModel, geoms: np.ndarray) -> np.ndarray:
    return np.array([g for g in geoms if model.geom_contype[g] or model.geom_conaffinity[g]], dtype=int)

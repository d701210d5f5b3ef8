"""A compiled scene with a robot in it: read poses, apply 7-D actions, step physics, save and restore state.

Plain functions of ``MjModel`` / ``MjData`` underneath; the only per-step Python work is one IK solve.
"""

from __future__ import annotations

import math

import mujoco
import numpy as np

from demoforge import geometry as geo
from demoforge.errors import DemoforgeError
from demoforge.sim.controller import DiffIK, action_to_target, index_or_slice
from demoforge.sim.robot import ArmConfig, RobotConfig
from demoforge.sim.scene import PhysicsSettings

STATE_SPEC = mujoco.mjtState.mjSTATE_FULLPHYSICS


class Arm:
    """One arm's handles in a compiled model (joints, actuators, gripper, end-effector site) and its IK servo."""

    def __init__(self, model: mujoco.MjModel, config: ArmConfig) -> None:
        self.config = config
        self.name = config.name
        joint = lambda n: _lookup(model, "joint", n, config)  # noqa: E731
        actuator = lambda n: _lookup(model, "actuator", n, config)  # noqa: E731
        joint_ids = np.array([joint(j) for j in config.arm_joints])
        self.qpos_adr = model.jnt_qposadr[joint_ids].copy()
        self.dof_adr = model.jnt_dofadr[joint_ids].copy()
        self.act_ids = np.array([actuator(a) for a in config.arm_actuators])
        self.grip_act_ids = np.array([actuator(a) for a in config.gripper_actuators], dtype=int)
        grip_joint_ids = np.array([joint(j) for j in config.gripper_joints], dtype=int)
        self.grip_qpos_adr = model.jnt_qposadr[grip_joint_ids].copy()
        self.grip_dof_adr = model.jnt_dofadr[grip_joint_ids].copy()
        self.grip_open = np.asarray(config.gripper_open, dtype=float)
        self.grip_closed = np.asarray(config.gripper_closed, dtype=float)
        self.finger_geom_ids = np.array([_lookup(model, "geom", g, config) for g in config.finger_geoms])
        groups = config.grasp_groups or [[g] for g in config.finger_geoms]
        self.grasp_groups = [frozenset(_lookup(model, "geom", g, config) for g in group) for group in groups]
        self.eef_site_id = _lookup(model, "site", config.eef_site, config)
        self.q_home = np.asarray(config.home_qpos, dtype=float)
        self.hand = config.eef_kind == "dexterous_hand"  # one command per actuator, not one for the gripper
        self.base_body_id = (int(model.body_parentid[model.jnt_bodyid[joint_ids[0]]]) if config.base_body is None
                             else _lookup(model, "body", config.base_body, config))
        self.ik = DiffIK(model, self.eef_site_id, self.qpos_adr, self.dof_adr, self.q_home, config.ik_joint_cost)
        # What the controller writes every step, as slices where the ids are consecutive.
        self.qpos_index = index_or_slice(self.qpos_adr)
        self.act_index = index_or_slice(self.act_ids)
        self.grip_act_index = index_or_slice(self.grip_act_ids)
        self.grip_span = self.grip_closed - self.grip_open
        self.grip_open_span = list(zip(self.grip_open.tolist(), self.grip_span.tolist()))  # as floats, per actuator
        self.world_T_base = np.eye(4)  # set at every reset


class DataViews:
    """The MjData arrays read or written every control step, as views made once: each attribute read of an
    MjData builds a new array, a microsecond or more per read when the caches are cold after a physics step."""

    __slots__ = ("data", "qpos", "ctrl", "xpos", "xmat", "site_xpos", "site_xmat", "warning_counts")

    def __init__(self, data: mujoco.MjData) -> None:
        self.data = data
        self.qpos, self.ctrl = data.qpos, data.ctrl
        self.xpos, self.xmat = data.xpos, data.xmat
        self.site_xpos, self.site_xmat = data.site_xpos, data.site_xmat
        self.warning_counts = data.warning.number


class SimEnv:
    """One MuJoCo model + data, the robot's arms in it, and a 20 Hz delta-pose controller per arm.

    The first arm's handles are also plain attributes (``eef_site_id``, ``arm_qpos_adr``, ...), so
    single-arm code reads them without an index; ``arms`` holds every arm in action order.
    """

    def __init__(self, model: mujoco.MjModel, robot: RobotConfig, physics: PhysicsSettings = PhysicsSettings()) -> None:
        self.model = model
        self.data = mujoco.MjData(model)
        self.robot = robot
        self.physics = physics
        self.substeps = max(1, int(round(1.0 / (physics.control_hz * model.opt.timestep))))
        self.arms = [Arm(model, arm) for arm in robot.arms]
        # each arm's columns of the action vector (its 6 pose columns, then its end-effector's)
        self.action_parts = [slice(part["pose"][0], part["eef"][1]) for part in robot.action_layout()]
        first = self.arms[0]
        self.arm_qpos_adr, self.arm_dof_adr, self.arm_act_ids = first.qpos_adr, first.dof_adr, first.act_ids
        self.grip_act_ids, self.grip_qpos_adr, self.grip_dof_adr = first.grip_act_ids, first.grip_qpos_adr, first.grip_dof_adr
        self.grip_open, self.grip_closed = first.grip_open, first.grip_closed
        self.eef_site_id, self.q_home, self.ik = first.eef_site_id, first.q_home, first.ik
        self.base_body_id = first.base_body_id
        # Fingers of every arm: "not held" means no arm touches it.
        self.finger_geom_ids = np.concatenate([arm.finger_geom_ids for arm in self.arms])
        self.state_size = mujoco.mj_stateSize(model, STATE_SPEC)
        self._body_geoms: dict[str, np.ndarray] = {}
        self._body_ids: dict[tuple[str, ...], np.ndarray] = {}
        self._geom_sets: dict[bytes, frozenset[int]] = {}
        self._body_geom_sets: dict[str, frozenset[int]] = {}
        self._geom_kinds: dict[str, tuple[int, bool]] = {}
        self._finger_sets = [frozenset(arm.finger_geom_ids.tolist()) for arm in self.arms]
        self._ids: dict[tuple[str, str], int] = {}  # (kind, name) -> id: name lookups cost microseconds per step
        self._bad_warnings = [int(w) for w in (
            mujoco.mjtWarning.mjWARN_BADQACC, mujoco.mjtWarning.mjWARN_BADQPOS, mujoco.mjtWarning.mjWARN_BADQVEL
        )]
        self._views: DataViews | None = None
        self.robot_geom_mask = np.zeros(model.ngeom, dtype=bool)
        world_geoms = np.flatnonzero(model.geom_bodyid == 0)
        for arm in self.arms:
            self.robot_geom_mask[self.body_geoms(model.body(arm.base_body_id).name)] = True
            # a fixed base drawn on the world (sim/panda.py: MuJoCo 3.3 refuses a massless body with meshes)
            prefix = arm.config.element_prefix or arm.config.prefix
            self.robot_geom_mask[[g for g in world_geoms if model.geom(g).name.startswith(prefix)]] = True
        self.reset()

    # ---- state -------------------------------------------------------------------------------
    def reset(self) -> None:
        """Robot at home with the grippers open; objects wherever the model puts them."""
        mujoco.mj_resetData(self.model, self.data)
        for arm in self.arms:
            self.data.qpos[arm.qpos_adr] = arm.q_home
            self.data.qpos[arm.grip_qpos_adr] = arm.grip_open[: len(arm.grip_qpos_adr)]
            self.data.ctrl[arm.act_ids] = arm.q_home
            self.data.ctrl[arm.grip_act_ids] = arm.grip_open
        mujoco.mj_forward(self.model, self.data)
        for arm in self.arms:
            arm.world_T_base = self.body_pose_by_id(arm.base_body_id)
        self.world_T_base = self.arms[0].world_T_base
        # An arm is mounted on the work surface; a humanoid's base stands ``body_pos`` above that mount.
        self.table_z = float(self.world_T_base[2, 3]) - self.robot.body_pos[2]

    def get_state(self) -> np.ndarray:
        state = np.empty(self.state_size)
        mujoco.mj_getState(self.model, self.data, state, STATE_SPEC)
        return state

    def set_state(self, state: np.ndarray) -> None:
        """Restore a full physics state; warm-start is cleared so replays follow the same solver path."""
        mujoco.mj_setState(self.model, self.data, np.asarray(state, dtype=float), STATE_SPEC)
        self.data.qacc_warmstart[:] = 0.0
        mujoco.mj_forward(self.model, self.data)

    # ---- reading -----------------------------------------------------------------------------
    @property
    def views(self) -> DataViews:
        """Views of this env's hot MjData arrays (remade when ``data`` was replaced, copied or unpickled: a copy's
        views own their memory, no longer MuJoCo's)."""
        views = self._views
        if views is None or views.data is not self.data or views.qpos.base is None:
            views = self._views = DataViews(self.data)
        return views

    def eef_pose(self, arm: int = 0) -> np.ndarray:
        """``world_T_eef``: pose of an arm's end-effector site."""
        site, views = self.arms[arm].eef_site_id, self.views
        return geo.make_pose(views.site_xpos[site], views.site_xmat[site].reshape(3, 3))

    def body_pose_by_id(self, body_id: int) -> np.ndarray:
        views = self.views
        return geo.make_pose(views.xpos[body_id], views.xmat[body_id].reshape(3, 3))

    def body_pose(self, body: str) -> np.ndarray:
        return self.body_pose_by_id(self._id("body", body))

    def body_position(self, body: str) -> np.ndarray:
        """A body's world position (a copy): the translation of ``body_pose`` without building the 4x4."""
        return self.views.xpos[self._id("body", body)].copy()

    def _id(self, kind: str, name: str) -> int:
        """Id of a named model element (cached; KeyError as MuJoCo's own lookup for an unknown name)."""
        key = (kind, name)
        found = self._ids.get(key)
        if found is None:
            found = self._ids[key] = int(getattr(self.model, kind)(name).id)
        return found

    def has_geom(self, name: str) -> bool:
        return mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_GEOM, name) >= 0

    def geom_id(self, name: str) -> int | None:
        """Id of a named geom, None if there is none."""
        found = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_GEOM, name)
        return found if found >= 0 else None

    def arm_qpos(self) -> np.ndarray:
        return self.data.qpos[self.arm_qpos_adr].copy()

    def gripper_qpos(self) -> np.ndarray:
        return self.data.qpos[self.grip_qpos_adr].copy()

    def body_geoms(self, body: str) -> np.ndarray:
        """Geom ids of a body and all its descendants (cached)."""
        if body not in self._body_geoms:
            self._body_geoms[body] = subtree_geoms(self.model, body)
        return self._body_geoms[body]

    def body_ids(self, names: tuple[str, ...]) -> np.ndarray:
        """Body ids for a fixed tuple of names (cached: tasks read many bodies every control step)."""
        ids = self._body_ids.get(names)
        if ids is None:
            ids = self._body_ids[names] = np.array([self.model.body(name).id for name in names], dtype=int)
        return ids

    def rest_height(self, body: str) -> float:
        """Height of a body's origin above the surface it stands on upright (from its geoms' sizes)."""
        return -vertical_extent(self.model, body)[0]

    def half_height(self, geom: str) -> float:
        """Half height of a box or cylinder geom as simulated (scenes may resize task objects)."""
        g, cylinder = self._geom_kind(geom)
        return float(self.model.geom_size[g, 1 if cylinder else 2])

    def half_width(self, geom: str) -> float:
        """Smallest horizontal half extent of a box or cylinder geom (how far off-centre something can rest on it)."""
        g, cylinder = self._geom_kind(geom)
        size = self.model.geom_size[g]
        if cylinder:
            return float(size[0])
        return float(min(size[0], size[1]))

    def _geom_kind(self, geom: str) -> tuple[int, bool]:
        """(id, is a cylinder) of a named geom (cached: tasks ask for sizes every step; sizes are read live)."""
        found = self._geom_kinds.get(geom)
        if found is None:
            g = self._id("geom", geom)
            found = self._geom_kinds[geom] = (g, int(self.model.geom_type[g]) == int(mujoco.mjtGeom.mjGEOM_CYLINDER))
        return found

    def yaw_symmetry(self, geom: str) -> int:
        """n-fold symmetry about z of a box (4 if square, else 2), cylinder or sphere (0: any yaw) geom."""
        g = self._id("geom", geom)
        if int(self.model.geom_type[g]) in (int(mujoco.mjtGeom.mjGEOM_CYLINDER), int(mujoco.mjtGeom.mjGEOM_SPHERE)):
            return 0
        size = self.model.geom_size[g]
        return 4 if abs(size[0] - size[1]) < 1e-6 else 2

    def _geom_set(self, geoms: np.ndarray) -> frozenset[int]:
        """``geoms`` as a set of ints (cached: contact queries run every step, over a handful of contacts)."""
        key = np.asarray(geoms, dtype=np.int64).tobytes()
        found = self._geom_sets.get(key)
        if found is None:
            found = self._geom_sets[key] = frozenset(np.asarray(geoms, dtype=np.int64).tolist())
        return found

    def in_contact(self, geoms_a: np.ndarray, geoms_b: np.ndarray) -> bool:
        """Whether any geom of ``geoms_a`` touches any geom of ``geoms_b`` right now."""
        ncon = self.data.ncon
        if ncon == 0:
            return False
        in_a, in_b = self._geom_set(geoms_a), self._geom_set(geoms_b)
        # A plain loop over the few contacts: a dozen numpy calls per query cost more than the loop.
        for g0, g1 in self.data.contact.geom[:ncon].tolist():
            if (g0 in in_a and g1 in in_b) or (g1 in in_a and g0 in in_b):
                return True
        return False

    def geoms_touching(self, body: str) -> set[int]:
        """Ids of the geoms in contact with a body (or its descendants) right now: one pass over the contacts,
        for tasks that ask several questions about one object each step."""
        touching: set[int] = set()
        ncon = self.data.ncon
        if ncon == 0:
            return touching
        in_body = self._body_geom_sets.get(body)
        if in_body is None:
            in_body = self._body_geom_sets[body] = frozenset(self.body_geoms(body).tolist())
        for g0, g1 in self.data.contact.geom[:ncon].tolist():
            if g0 in in_body:
                touching.add(g1)
            if g1 in in_body:
                touching.add(g0)
        return touching

    def fingers(self, arm: int = 0) -> frozenset[int]:
        """Geom ids of an arm's fingers."""
        return self._finger_sets[arm]

    def is_grasping(self, body: str, arm: int = 0) -> bool:
        """Every grasp group of an arm touches the body: both fingers of a gripper, a hand's thumb and a finger."""
        return self.grasps(self.geoms_touching(body), arm)

    def grasps(self, touching: set[int], arm: int = 0) -> bool:
        """Whether geoms ``touching`` something (``geoms_touching``) make a grasp by ``arm``: every grasp group
        among them."""
        return all(not group.isdisjoint(touching) for group in self.arms[arm].grasp_groups)

    def unstable(self) -> bool:
        """Physics blew up: MuJoCo flagged a bad acceleration/state or the state is not finite."""
        views = self.views
        counts = views.warning_counts.tolist()
        if any(counts[w] > 0 for w in self._bad_warnings):
            return True
        return not all(map(math.isfinite, views.qpos.tolist()))  # np.isfinite's answer, at half its cost per step

    # ---- acting ------------------------------------------------------------------------------
    def apply_target(self, world_T_target: np.ndarray, gripper: float | np.ndarray, arm: int = 0) -> None:
        """Set an arm's actuator controls so it servos toward ``world_T_target`` (no physics step); ``gripper``
        is one command in [-1, 1] for a gripper, one per actuator for a hand (-1 open, +1 closed)."""
        a, views = self.arms[arm], self.views
        views.ctrl[a.act_index] = a.ik.solve(views.qpos[a.qpos_index], world_T_target)
        if a.hand:
            g = (np.clip(gripper, -1.0, 1.0) + 1.0) * 0.5
            views.ctrl[a.grip_act_index] = a.grip_open + g * a.grip_span
            return
        g = (min(max(gripper, -1.0), 1.0) + 1.0) * 0.5
        # grip_open + g * grip_span, element by element in floats (the same IEEE operations as numpy's)
        views.ctrl[a.grip_act_index] = [low + g * span for low, span in a.grip_open_span]

    def step(self, action: np.ndarray) -> np.ndarray:
        """Execute one normalised action (per arm in arm order: 6 for the pose, then the end-effector's 1 for a
        gripper or one per actuator for a hand) for one control period.

        Returns the world target pose used: (4, 4) for one arm, (arms, 4, 4) for more.
        """
        action = np.clip(action, -1.0, 1.0)
        if len(self.arms) == 1:
            target = action_to_target(self.eef_pose(), self.world_T_base, action)
            self.apply_target(target, self.eef_command(action), 0)
            self.step_physics()
            return target
        targets = np.empty((len(self.arms), 4, 4))
        for i, part in enumerate(self.split_action(action)):
            targets[i] = action_to_target(self.eef_pose(i), self.arms[i].world_T_base, part)
            self.apply_target(targets[i], self.eef_command(part, i), i)
        self.step_physics()
        return targets

    def eef_command(self, arm_action: np.ndarray, arm: int = 0) -> float | np.ndarray:
        """The end-effector part of one arm's action, as ``apply_target`` takes it (a float for a gripper)."""
        return arm_action[6:] if self.arms[arm].hand else float(arm_action[6])

    def split_action(self, action: np.ndarray) -> list[np.ndarray]:
        """An action vector as one action per arm (its 6 pose columns and its end-effector's)."""
        return [action[s] for s in self.action_parts]

    def step_physics(self, nstep: int | None = None) -> None:
        """One control period of physics (or ``nstep`` substeps of it); body and site poses are then current
        (contacts are one substep old). Parts that add up to a period give the same bits as one call."""
        mujoco.mj_step(self.model, self.data, nstep=self.substeps if nstep is None else nstep)
        mujoco.mj_kinematics(self.model, self.data)


def subtree_geoms(model: mujoco.MjModel, body: str) -> np.ndarray:
    """Geom ids of a body and all its descendants."""
    root = model.body(body).id
    return np.array(
        [g for g in range(model.ngeom) if _is_descendant(model, int(model.geom_bodyid[g]), root)], dtype=int
    )


def vertical_extent(model: mujoco.MjModel, body: str) -> tuple[float, float]:
    """(bottom, top) z of a body's geoms in its own frame, the body upright (a colliding mesh: its box, turned as
    the geom is; a drawn-only one: its bounding sphere). Only geoms that collide count when there are any (a
    drawn-only mesh does not hold anything up); a geom of a child body (a door) is offset by the child's position."""
    kinds = mujoco.mjtGeom
    bottoms, tops = [], []
    geoms = subtree_geoms(model, body)
    colliding = [g for g in geoms if model.geom_contype[g] or model.geom_conaffinity[g]]
    root = model.body(body).id
    for g in colliding or geoms:
        kind, size = int(model.geom_type[g]), model.geom_size[g]
        if kind == int(kinds.mjGEOM_MESH) and colliding:
            low, high = _mesh_z_range(model, g)
            z = model.geom_pos[g, 2] + _height_in(model, int(model.geom_bodyid[g]), root)
            bottoms.append(z + low)
            tops.append(z + high)
            continue
        if kind == int(kinds.mjGEOM_SPHERE):
            half = size[0]
        elif kind in (int(kinds.mjGEOM_BOX), int(kinds.mjGEOM_ELLIPSOID)):
            half = size[2]
        elif kind == int(kinds.mjGEOM_CYLINDER):
            half = size[1]
        elif kind == int(kinds.mjGEOM_CAPSULE):
            half = size[1] + size[0]
        else:
            half = model.geom_rbound[g]
        z = model.geom_pos[g, 2] + _height_in(model, int(model.geom_bodyid[g]), root)
        bottoms.append(z - half)
        tops.append(z + half)
    return float(min(bottoms)), float(max(tops))


def _mesh_z_range(model: mujoco.MjModel, geom: int) -> tuple[float, float]:
    """(lowest, highest) z of a mesh geom's box (MuJoCo's ``geom_aabb``, in the geom's frame) in its body's frame,
    about the geom's origin: MuJoCo turns a mesh geom to its principal axes, so the box is turned back."""
    centre, half = model.geom_aabb[geom, :3], model.geom_aabb[geom, 3:]
    corners = centre + half * np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=float)
    rot = np.zeros(9)
    mujoco.mju_quat2Mat(rot, model.geom_quat[geom])
    zs = corners @ rot.reshape(3, 3)[2]
    return float(zs.min()), float(zs.max())


def _height_in(model: mujoco.MjModel, body: int, root: int) -> float:
    """z of ``body``'s origin in ``root``'s frame, along the chain of child offsets (0 for ``root`` itself)."""
    z = 0.0
    while body != root:
        z += float(model.body_pos[body, 2])
        body = int(model.body_parentid[body])
    return z


def _lookup(model: mujoco.MjModel, kind: str, name: str, arm: ArmConfig) -> int:
    """Id of an arm's element in the composed scene, or an error naming the arm's file and the element."""
    try:
        return int(getattr(model, kind)(arm.names_prefix + name).id)
    except KeyError:
        where = arm.mjcf or "the robot's body"
        raise DemoforgeError(f"{where}: arm {arm.name!r} has no {kind} named {name!r}") from None


def _is_descendant(model: mujoco.MjModel, body: int, root: int) -> bool:
    while True:
        if body == root:
            return True
        if body == 0:
            return False
        body = int(model.body_parentid[body])

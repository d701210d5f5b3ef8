"""The delta-pose action and the differential-IK controller that executes it.

Per arm, action ``[dx, dy, dz, rx, ry, rz, eef...]`` in [-1, 1] (robosuite's OSC_POSE convention):
position delta = ``a[:3] * POS_SCALE`` metres and rotation delta = ``a[3:6] * ROT_SCALE`` radians
(axis-angle), both in the robot base frame and applied to the *measured* end-effector pose;
then the end-effector command: a gripper's one number (-1 open, +1 closed) or a hand's one per actuator
(-1 at its open end, +1 at its closed end). The controller is stateless: the joint command depends only on the
physics state and the action, so a demo replays from its stored states alone.
"""

from __future__ import annotations

import mujoco
import numpy as np

from demoforge import geometry as geo

POS_SCALE = 0.05  # metres per unit action
ROT_SCALE = 0.5  # radians per unit action
_BOTTOM_ROW = np.array([0.0, 0.0, 0.0, 1.0])


def action_to_target(
    world_T_eef: np.ndarray, world_T_base: np.ndarray, action: np.ndarray, out: np.ndarray | None = None
) -> np.ndarray:
    """Absolute target pose (world frame) that ``action`` asks for from the measured pose (into ``out`` if given)."""
    base_rot = world_T_base[:3, :3]
    target = np.eye(4) if out is None else out
    target[3] = _BOTTOM_ROW
    target[:3, 3] = world_T_eef[:3, 3] + base_rot @ (action[:3] * POS_SCALE)
    delta_world = base_rot @ geo.axisangle_to_mat(action[3:6] * ROT_SCALE) @ base_rot.T
    target[:3, :3] = delta_world @ world_T_eef[:3, :3]
    return target


def target_to_action(
    world_T_eef: np.ndarray, world_T_base: np.ndarray, world_T_target: np.ndarray, gripper: float | np.ndarray,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Unclipped normalised action that moves the measured pose to ``world_T_target`` (inverse of the above;
    into ``out``, 6 numbers plus the end-effector command's, if given). ``gripper`` is one number for a
    gripper, one per actuator for a hand."""
    base_rot = world_T_base[:3, :3]
    action = np.empty(6 + np.size(gripper)) if out is None else out
    action[:3] = base_rot.T @ (world_T_target[:3, 3] - world_T_eef[:3, 3]) / POS_SCALE
    delta_world = world_T_target[:3, :3] @ world_T_eef[:3, :3].T
    action[3:6] = geo.mat_to_axisangle(base_rot.T @ delta_world @ base_rot) / ROT_SCALE
    action[6:] = gripper
    return action


class ArmActions:
    """``target_to_action`` and ``action_to_target`` of one arm in preallocated buffers, for the recorder's every step.

    The same numpy and MuJoCo operations, on operands of the same layouts, as the two functions above (so
    the same bits); only their temporaries and Python layers are gone.
    """

    def __init__(self) -> None:
        self._base: np.ndarray | None = None  # the world_T_base the rotation views are of
        self._vec3 = np.empty(3)
        self._out3 = np.empty(3)
        self._rotvec = np.empty(3)
        self._vel = np.empty(3)
        self._quat = np.empty(4)
        self._rot9 = np.empty(9)
        self._rot = self._rot9.reshape(3, 3)
        self._a = np.empty((3, 3))
        self._b = np.empty((3, 3))
        self._c = np.empty((3, 3))
        self._c9 = self._c.reshape(9)

    def _base_rot(self, world_T_base: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if world_T_base is not self._base:
            self._base = world_T_base
            self._rot_b = world_T_base[:3, :3]
            self._rot_b_t = self._rot_b.T
        return self._rot_b, self._rot_b_t

    def target_to_action(
        self, world_T_eef: np.ndarray, world_T_base: np.ndarray, world_T_target: np.ndarray,
        gripper: float | np.ndarray, out: np.ndarray,
    ) -> np.ndarray:
        """``target_to_action(...)`` into ``out`` (6 numbers plus the end-effector command's)."""
        base_rot, base_rot_t = self._base_rot(world_T_base)
        np.subtract(world_T_target[:3, 3], world_T_eef[:3, 3], out=self._vec3)
        np.matmul(base_rot_t, self._vec3, out=self._out3)
        np.divide(self._out3, POS_SCALE, out=out[:3])
        np.matmul(world_T_target[:3, :3], world_T_eef[:3, :3].T, out=self._a)  # delta_world
        np.matmul(base_rot_t, self._a, out=self._b)
        np.matmul(self._b, base_rot, out=self._c)
        mujoco.mju_mat2Quat(self._quat, self._c9)  # geo.mat_to_axisangle
        mujoco.mju_quat2Vel(self._vel, self._quat, 1.0)
        np.divide(self._vel, ROT_SCALE, out=out[3:6])
        out[6:] = gripper
        return out

    def action_to_target(
        self, world_T_eef: np.ndarray, world_T_base: np.ndarray, action: np.ndarray, out: np.ndarray
    ) -> np.ndarray:
        """``action_to_target(...)`` into ``out`` (4, 4)."""
        base_rot, base_rot_t = self._base_rot(world_T_base)
        out[3] = _BOTTOM_ROW
        np.multiply(action[:3], POS_SCALE, out=self._vec3)
        np.matmul(base_rot, self._vec3, out=self._out3)
        np.add(world_T_eef[:3, 3], self._out3, out=out[:3, 3])
        np.multiply(action[3:6], ROT_SCALE, out=self._rotvec)
        geo.axisangle_to_quat(self._quat, self._rotvec)  # geo.axisangle_to_mat
        mujoco.mju_quat2Mat(self._rot9, self._quat)
        np.matmul(base_rot, self._rot, out=self._a)
        np.matmul(self._a, base_rot_t, out=self._b)  # delta_world
        np.matmul(self._b, world_T_eef[:3, :3], out=self._c)
        out[:3, :3] = self._c
        return out


def target_to_abs_action(world_T_base: np.ndarray, world_T_target: np.ndarray, eef_command: np.ndarray) -> np.ndarray:
    """``actions_abs`` rows (..., 6 + k): target position (m) and axis-angle (rad) in the base frame, then the
    end-effector command (..., k) as it is in the normalised action."""
    base_T_target = geo.invert(world_T_base) @ world_T_target
    rotvec = geo.mat_to_axisangle(base_T_target[..., :3, :3])
    return np.concatenate([base_T_target[..., :3, 3], rotvec, np.asarray(eef_command, dtype=float)], axis=-1)


def per_arm_commands(gripper: float | np.ndarray, arms: int, eef_dim: int) -> np.ndarray:
    """Every arm's end-effector command as (arms, eef_dim): one value is every arm's (and every actuator's),
    (arms,) one per arm (a gripper's), (arms, eef_dim) as given (a hand's per-actuator targets)."""
    g = np.asarray(gripper, dtype=float)
    if g.ndim == 1 and len(g) == arms and arms > 1:
        g = g[:, None]  # one value per arm, not one per actuator
    return np.broadcast_to(g, (arms, eef_dim))


def index_or_slice(ids: np.ndarray) -> np.ndarray | slice:
    """A slice for consecutive ids (reads and writes through it skip numpy's fancy indexing), else the ids."""
    ids = np.asarray(ids, dtype=int)
    if len(ids) and np.array_equal(ids, np.arange(ids[0], ids[0] + len(ids))):
        return slice(int(ids[0]), int(ids[0]) + len(ids))
    return ids


try:  # the gufunc behind np.linalg.solve (LAPACK gesv, the same bits) without its per-call checks: 6 of its 9 us
    from numpy.linalg._umath_linalg import solve as _gesv
except ImportError:  # pragma: no cover - numpy moved it
    _gesv = None


def _solve(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    if _gesv is None:  # pragma: no cover
        out[:] = np.linalg.solve(a, b)
        return out
    return _gesv(a, b, signature="dd->d", out=out)


class DiffIK:
    """Weighted damped least-squares IK from the measured joints to a target site pose, with a home-posture null space.

    Runs on its own ``MjData`` so the simulation state is never touched; a few Newton steps per
    control step reach sub-millimetre accuracy for the small per-step motions of a 20 Hz controller.
    Joint costs resolve redundancy: on the Panda, joint 3 shares joint 1's axis whenever joint 2 is
    near zero, and splitting a motion between the two makes their torque-limited servos fight.
    It runs every control step, so it works in preallocated buffers (the arithmetic is that of the
    plain numpy expressions in the comments, operation for operation).
    """

    def __init__(
        self,
        model: mujoco.MjModel,
        site_id: int,
        qpos_adr: np.ndarray,
        dof_adr: np.ndarray,
        q_home: np.ndarray,
        joint_cost: np.ndarray | None = None,
        iterations: int = 1,
        damping: float = 1e-3,
        nullspace_gain: float = 0.1,
    ) -> None:
        self._args = (model, site_id, qpos_adr, dof_adr, q_home, joint_cost, iterations, damping, nullspace_gain)
        self.model = model
        self.data = mujoco.MjData(model)
        self.site_id = site_id
        self.qpos_adr = qpos_adr
        self.dof_adr = dof_adr
        self.q_home = q_home
        # Weighted least squares: a costlier joint moves less when the arm is redundant.
        self.inv_cost = 1.0 / (np.ones(len(dof_adr)) if joint_cost is None else np.asarray(joint_cost, dtype=float))
        self.iterations = iterations
        self.damping_eye = damping * np.eye(6)
        self.nullspace_gain = nullspace_gain
        joint_ids = model.dof_jntid[dof_adr]
        self.q_low = model.jnt_range[joint_ids, 0] + 1e-3
        self.q_high = model.jnt_range[joint_ids, 1] - 1e-3
        # Buffers, and views made once into them and into this solver's own MjData (the hot loop then indexes
        # nothing). Views do not survive a copy, so copies and pickles are made afresh (``__reduce__``).
        n = len(dof_adr)
        data = self.data
        self._qpos, self._qpos_index = data.qpos, index_or_slice(qpos_adr)
        self._site_pos = data.site_xpos[site_id]
        self._site_mat = data.site_xmat[site_id]
        self._site_rot = self._site_mat.reshape(3, 3)
        self._jac_full = np.zeros((6, model.nv))  # mj_jacSite writes translation rows 0-2, rotation rows 3-5
        self._jacp, self._jacr = self._jac_full[:3], self._jac_full[3:]
        dof_index = index_or_slice(dof_adr)
        self._jac_arm = self._jac_full[:, dof_index] if isinstance(dof_index, slice) else None
        self._dof_index = dof_index
        self._jac = np.zeros((6, n))
        self._jac_t = self._jac.T
        self._jac_w = np.zeros((6, n))
        self._jjt = np.zeros((6, 6))
        self._pinv_t = np.zeros((6, n))  # solve(jjt, jac_w); the pseudo-inverse is its transpose
        self._pinv = self._pinv_t.T
        self._err = np.zeros(6)
        self._err_pos, self._err_rot = self._err[:3], self._err[3:]
        self._quat_cur = np.zeros(4)
        self._quat_target = np.zeros(4)
        self._rot_target = np.zeros(9)
        self._rot_target_33 = self._rot_target.reshape(3, 3)
        self._local = np.zeros(3)
        self._bias = np.zeros(n)
        self._jac_bias = np.zeros(6)
        self._step = np.zeros(n)

    def __reduce__(self) -> tuple:
        return (DiffIK, self._args)

    def solve(self, q_start: np.ndarray, world_T_target: np.ndarray) -> np.ndarray:
        """Joint positions that put the site at ``world_T_target``, starting from ``q_start``."""
        model, data = self.model, self.data
        q = q_start.copy()
        self._rot_target_33[:] = world_T_target[:3, :3]
        mujoco.mju_mat2Quat(self._quat_target, self._rot_target)
        jac, jac_w, err, bias, step, jac_bias = self._jac, self._jac_w, self._err, self._bias, self._step, self._jac_bias
        for _ in range(self.iterations):
            self._qpos[self._qpos_index] = q
            mujoco.mj_kinematics(model, data)
            mujoco.mj_comPos(model, data)
            mujoco.mj_jacSite(model, data, self._jacp, self._jacr, self.site_id)
            jac[:] = self._jac_full[:, self._dof_index] if self._jac_arm is None else self._jac_arm
            np.subtract(world_T_target[:3, 3], self._site_pos, out=self._err_pos)
            mujoco.mju_mat2Quat(self._quat_cur, self._site_mat)
            mujoco.mju_subQuat(self._local, self._quat_target, self._quat_cur)
            np.matmul(self._site_rot, self._local, out=self._err_rot)
            # Weighted damped least squares for the task, plus a pull toward home in the null space:
            #   jac_pinv = solve(jac_w @ jac.T + damping_eye, jac_w).T,  jac_w = jac * inv_cost
            #   q += jac_pinv @ (err - jac @ bias) + bias,  bias = nullspace_gain * (q_home - q)
            np.multiply(jac, self.inv_cost, out=jac_w)
            np.matmul(jac_w, self._jac_t, out=self._jjt)
            np.add(self._jjt, self.damping_eye, out=self._jjt)
            _solve(self._jjt, jac_w, self._pinv_t)
            np.subtract(self.q_home, q, out=bias)
            np.multiply(self.nullspace_gain, bias, out=bias)
            np.matmul(jac, bias, out=jac_bias)
            np.subtract(err, jac_bias, out=jac_bias)
            np.matmul(self._pinv, jac_bias, out=step)
            np.add(step, bias, out=step)
            q += step
            np.maximum(q, self.q_low, out=q)  # np.clip(q, q_low, q_high), without its Python layers
            np.minimum(q, self.q_high, out=q)
        return q

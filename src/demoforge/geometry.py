"""SE(3) on 4x4 homogeneous numpy arrays.

Poses are float64 (4, 4) matrices; names say which way they map (``world_T_eef`` maps eef-frame
points to the world frame). Quaternions are MuJoCo order (w, x, y, z); scipy's (x, y, z, w) order
is converted here and nowhere else.
"""

from __future__ import annotations

import math

import mujoco
import numpy as np
from scipy.spatial.transform import Rotation, Slerp

__all__ = [
    "make_pose",
    "invert",
    "pose_pos",
    "pose_rot",
    "quat_to_mat",
    "mat_to_quat",
    "wxyz_to_xyzw",
    "xyzw_to_wxyz",
    "axisangle_to_mat",
    "axisangle_to_quat",
    "mat_to_axisangle",
    "pose_to_quat",
    "pose_from_pos_quat",
    "interpolate_poses",
    "pose_error",
    "yaw_mat",
]


_IDENTITY = np.eye(4)
_IDENTITY.flags.writeable = False


def make_pose(pos: np.ndarray, rot: np.ndarray | None = None) -> np.ndarray:
    """A 4x4 pose from a position (3,) and a rotation matrix (3, 3) (identity if omitted)."""
    pose = _IDENTITY.copy()  # copying a constant is several times faster than np.eye (poses are made every step)
    pose[:3, 3] = pos
    if rot is not None:
        pose[:3, :3] = rot
    return pose


def make_poses(pos: np.ndarray, rot: np.ndarray) -> np.ndarray:
    """(N, 4, 4) poses from positions (N, 3) and rotation matrices (N, 3, 3)."""
    out = np.tile(_IDENTITY, (len(pos), 1, 1))
    out[:, :3, :3] = rot
    out[:, :3, 3] = pos
    return out


def invert(a_T_b: np.ndarray) -> np.ndarray:
    """``b_T_a`` from ``a_T_b`` using the rigid-transform structure (no general matrix inverse)."""
    rot_t = a_T_b[..., :3, :3].swapaxes(-1, -2)
    out = np.zeros_like(a_T_b)
    out[..., :3, :3] = rot_t
    out[..., :3, 3] = -np.einsum("...ij,...j->...i", rot_t, a_T_b[..., :3, 3])
    out[..., 3, 3] = 1.0
    return out


def pose_pos(pose: np.ndarray) -> np.ndarray:
    return pose[..., :3, 3]


def pose_rot(pose: np.ndarray) -> np.ndarray:
    return pose[..., :3, :3]


def wxyz_to_xyzw(quat: np.ndarray) -> np.ndarray:
    return np.roll(quat, -1, axis=-1)


def xyzw_to_wxyz(quat: np.ndarray) -> np.ndarray:
    return np.roll(quat, 1, axis=-1)


def quat_to_mat(quat_wxyz: np.ndarray) -> np.ndarray:
    """Rotation matrix (..., 3, 3) from MuJoCo-order quaternion(s)."""
    return Rotation.from_quat(wxyz_to_xyzw(np.asarray(quat_wxyz, dtype=float))).as_matrix()


def mat_to_quat(rot: np.ndarray) -> np.ndarray:
    """MuJoCo-order quaternion(s) with non-negative w (a canonical sign for storage)."""
    quat = xyzw_to_wxyz(Rotation.from_matrix(rot).as_quat())
    return quat * np.where(quat[..., :1] < 0, -1.0, 1.0)


def axisangle_to_mat(rotvec: np.ndarray) -> np.ndarray:
    """Rotation matrix from an axis-angle vector (axis * angle, radians)."""
    rotvec = np.asarray(rotvec, dtype=float)
    if rotvec.ndim > 1:
        return Rotation.from_rotvec(rotvec).as_matrix()
    quat = np.empty(4)
    axisangle_to_quat(quat, rotvec)
    mat = np.empty(9)
    mujoco.mju_quat2Mat(mat, quat)
    return mat.reshape(3, 3)


def mat_to_axisangle(rot: np.ndarray) -> np.ndarray:
    """Axis-angle vector (axis * angle, angle in [0, pi]) of a rotation matrix."""
    rot = np.asarray(rot, dtype=float)
    if rot.ndim > 2:
        return Rotation.from_matrix(rot).as_rotvec()
    quat = np.empty(4)
    mujoco.mju_mat2Quat(quat, rot.reshape(9))
    vel = np.empty(3)
    mujoco.mju_quat2Vel(vel, quat, 1.0)
    return vel


def axisangle_to_quat(out: np.ndarray, rotvec: np.ndarray) -> None:
    """MuJoCo-order unit quaternion of an axis-angle vector (1-D), into ``out`` (4,)."""
    angle = math.sqrt(rotvec @ rotvec)  # IEEE sqrt is correctly rounded: the same bits as np.sqrt, without its overhead
    if angle < 1e-12:
        out[:] = (1.0, 0.5 * rotvec[0], 0.5 * rotvec[1], 0.5 * rotvec[2])
        out /= np.sqrt(out @ out)
        return
    mujoco.mju_axisAngle2Quat(out, rotvec / angle, angle)


def pose_to_quat(pose: np.ndarray) -> np.ndarray:
    return mat_to_quat(pose[..., :3, :3])


def pose_from_pos_quat(pos: np.ndarray, quat_wxyz: np.ndarray) -> np.ndarray:
    return make_pose(pos, quat_to_mat(quat_wxyz))


def yaw_mat(yaw: float) -> np.ndarray:
    """Rotation by ``yaw`` radians about +z."""
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def interpolate_poses(start: np.ndarray, end: np.ndarray, num: int) -> np.ndarray:
    """``num`` poses strictly after ``start`` up to and including ``end``: linear in position, slerp in rotation."""
    if num < 1:
        return np.zeros((0, 4, 4))
    fractions = np.arange(1, num + 1) / num
    key_rots = Rotation.from_matrix(np.stack([start[:3, :3], end[:3, :3]]))
    rots = Slerp([0.0, 1.0], key_rots)(fractions).as_matrix()
    return make_poses(start[:3, 3] + fractions[:, None] * (end[:3, 3] - start[:3, 3]), rots)


def pose_error(world_T_current: np.ndarray, world_T_target: np.ndarray) -> tuple[float, float]:
    """(position error in metres, rotation error in radians) between two poses."""
    pos_err = float(np.linalg.norm(world_T_target[:3, 3] - world_T_current[:3, 3]))
    rel = world_T_current[:3, :3].T @ world_T_target[:3, :3]
    cos = np.clip((np.trace(rel) - 1.0) / 2.0, -1.0, 1.0)
    return pos_err, float(np.arccos(cos))

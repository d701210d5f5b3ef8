"""Policy inputs from stored observations: continuous rotations and object positions relative to the hand.

The stored ``obs`` keep robosuite's conventions (quaternions in (x, y, z, w) order, object poses in
the world frame). Two things in them hurt a network: a quaternion and its negation are the same
rotation, so a top-down gripper (w near 0) flips sign between nearly equal poses; and where an
object is *relative to the hand* is what decides the next motion. So every quaternion becomes the
first two columns of its rotation matrix (continuous, Zhou et al. 2019), and every object also
contributes its position minus each end-effector position.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

EEF_POS = "robot0_eef_pos"
OBJECT = "object"
OBJECT_WIDTH = 7  # per object in obs/object: position (3), quaternion (x, y, z, w)


def rotation_6d(quat_xyzw: np.ndarray) -> np.ndarray:
    """(T, 4) quaternions (x, y, z, w) -> (T, 6): the first two columns of the rotation matrices."""
    mats = Rotation.from_quat(quat_xyzw).as_matrix()
    return mats[:, :, :2].transpose(0, 2, 1).reshape(len(quat_xyzw), 6)


def _objects(obs: dict[str, np.ndarray]) -> list[np.ndarray]:
    block = obs[OBJECT].reshape(len(obs[OBJECT]), -1)
    if block.shape[1] % OBJECT_WIDTH:
        raise ValueError(f"obs/object has width {block.shape[1]}, expected a multiple of {OBJECT_WIDTH}")
    return np.split(block, block.shape[1] // OBJECT_WIDTH, axis=1)


def features(obs: dict[str, np.ndarray], keys: tuple[str, ...]) -> np.ndarray:
    """(T, D) float32 policy input from the ``keys`` of an obs dict (each (T, ...)), in order.

    ``*_quat`` keys become 6-D rotations; ``object`` becomes, per object, position, 6-D rotation and its
    position relative to every end effector among the keys (``robot0_eef_pos``, ``robot1_eef_pos``: each
    hand needs where the object is for it); other keys pass through flattened.
    """
    parts = []
    hands = [k for k in keys if k.endswith(EEF_POS.removeprefix("robot0"))]  # robot0_eef_pos, robot1_eef_pos ...
    for key in keys:
        value = obs[key].reshape(len(obs[key]), -1)
        if key.endswith("_quat"):
            parts.append(rotation_6d(value))
        elif key == OBJECT:
            for pose in _objects(obs):
                parts += [pose[:, :3], rotation_6d(pose[:, 3:])]
                parts += [pose[:, :3] - obs[hand] for hand in hands]  # where it is for each hand
        else:
            parts.append(value)
    return np.concatenate(parts, axis=1).astype(np.float32)

"""The names inside a dataset, in one place: action width, observation keys of cameras, camera aliases.

Readers and writers of every layer take names from here instead of spelling them, so a key is
changed (or a second arm's added) in one file. docs/formats.md documents each.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ACTION_DIM = 7  # one arm with a gripper: [dx, dy, dz, rx, ry, rz, gripper] (sim/controller.py: units, frames)
POSE_COLUMNS = ("dx", "dy", "dz", "rx", "ry", "rz")  # each arm's first six action columns
ABS_POSE_COLUMNS = ("x", "y", "z", "rx", "ry", "rz")  # each arm's first six actions_abs columns


def eef_mask(arms: int, eef_dim: int) -> np.ndarray:
    """Boolean mask of an action's end-effector columns (per arm 6 pose columns, then ``eef_dim``): action
    noise goes on the pose only, and a policy's chunk past a demo's end holds these."""
    return np.tile(np.r_[np.zeros(6, dtype=bool), np.ones(eef_dim, dtype=bool)], arms)


@dataclass(frozen=True)
class ArmColumns:
    """One arm's part of the action vector, as ``env_args.env_kwargs.action_layout`` stores it."""

    arm: str  # right, left; arm0 for a single arm
    prefix: str  # obs key prefix: robot0_, robot1_
    start: int  # first column (its pose); the end-effector command follows at start + 6
    eef_names: tuple[str, ...] = ("gripper",)  # end-effector columns: a gripper's one, a hand's actuators
    joints: tuple[str, ...] = ()  # arm joints, base to tip (obs <prefix>joint_pos), when the file says
    finger_joints: tuple[str, ...] = ()  # the end-effector's joints (obs <prefix>gripper_qpos), when the file says

    @property
    def eef_dim(self) -> int:
        return len(self.eef_names)


@dataclass(frozen=True)
class ActionLayout:
    """Which action columns are whose; files before ``action_layout`` was stored hold one arm with a gripper."""

    arms: tuple[ArmColumns, ...]

    @property
    def width(self) -> int:
        return sum(6 + arm.eef_dim for arm in self.arms)

    @property
    def eef_dim(self) -> int:
        """Every arm's end-effector width (the same for all: ``datagen_info/gripper_action`` is (T, arms, k))."""
        return self.arms[0].eef_dim

    def eef_mask(self) -> np.ndarray:
        return eef_mask(len(self.arms), self.eef_dim)

    @classmethod
    def from_env_args(cls, env_args: dict) -> ActionLayout:
        raw = (env_args.get("env_kwargs") or {}).get("action_layout") if isinstance(env_args, dict) else None
        if not isinstance(raw, list) or not raw or not all(isinstance(a, dict) for a in raw):
            return cls((ArmColumns("arm0", "robot0_", 0),))
        arms, start = [], 0
        for i, a in enumerate(raw):
            eef = a.get("eef") if isinstance(a.get("eef"), list) and len(a["eef"]) == 2 else [start + 6, start + 7]
            width = max(1, int(eef[1]) - int(eef[0]))
            names = a.get("eef_names") if isinstance(a.get("eef_names"), list) else None
            names = tuple(str(n) for n in names) if names and len(names) == width else (
                ("gripper",) if width == 1 else tuple(f"eef_{j}" for j in range(width)))
            joints, fingers = (tuple(str(j) for j in a[key]) if isinstance(a.get(key), list) else ()
                               for key in ("joints", "finger_joints"))
            arms.append(ArmColumns(str(a.get("arm", f"arm{i}")), str(a.get("prefix", f"robot{i}_")), start, names,
                                   joints, fingers))
            start += 6 + width
        return cls(tuple(arms))

# Short camera names a user may type, and the camera they mean (robosuite names the wrist camera this way).
CAMERA_ALIASES = {"wrist": "robot0_eye_in_hand", "eye_in_hand": "robot0_eye_in_hand"}

IMAGE, DEPTH, SEGMENTATION = "image", "depth", "segmentation_instance"  # per-camera observation channels


def camera_key(camera: str, channel: str = IMAGE) -> str:
    """``obs/<key>`` of a camera channel: ``agentview_image``, ``agentview_depth``, ..."""
    return f"{camera}_{channel}"


def resolve_alias(camera: str) -> str:
    """The stored camera name behind a short name (``wrist`` -> ``robot0_eye_in_hand``)."""
    return CAMERA_ALIASES.get(camera, camera)

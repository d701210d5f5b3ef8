"""The dataset's features: what info.json declares, and one episode's columns in exactly that form.

Kept side by side so the declared dtypes and shapes and the values written under them cannot drift apart.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from demoforge.data.demo import Demo
from demoforge.data.lerobot.layout import _Layout
from demoforge.data.keys import ABS_POSE_COLUMNS, POSE_COLUMNS
from demoforge.data.lerobot.spec import video_key


def _features(layout: _Layout, fps: int) -> dict[str, dict[str, Any]]:
    """info.json ``features``: dtype, shape, names of every column (and of every video)."""
    state_names, joint_names, action_names, absolute_names = [], [], [], []
    for arm in layout.arms:  # per arm in action order; names carry the arm beyond one arm (right_eef_pos_x)
        p = layout.arm_label(arm)
        state_names += [f"{p}eef_pos_{a}" for a in "xyz"] + [f"{p}eef_quat_{a}" for a in "xyzw"]
        state_names += [f"{p}{n}" for n in _names(arm.finger_joints, "gripper_qpos", layout.gripper_dim)]
        joint_names += [f"{p}{n}" for n in _names(arm.joints, "joint_pos", layout.joint_dim)]
        action_names += [f"{p}{n}" for n in (*POSE_COLUMNS, *arm.eef_names)]
        absolute_names += [f"{p}{n}" for n in (*ABS_POSE_COLUMNS, *arm.eef_names)]
    features: dict[str, dict[str, Any]] = {
        "observation.state": _vec(state_names),
    }
    if layout.joint_dim:
        features["observation.joint_pos"] = _vec(joint_names)
    if layout.object_dim:
        pose = [f"pos_{a}" for a in "xyz"] + [f"quat_{a}" for a in "xyzw"]
        features["observation.environment_state"] = _vec([f"{o}_{p}" for o in layout.object_names for p in pose])
    features["action"] = _vec(action_names)
    features["absolute_action"] = _vec(absolute_names)
    features["next.reward"] = {"dtype": "float32", "shape": [1], "names": None}
    features["next.done"] = {"dtype": "bool", "shape": [1], "names": None}
    for cam in layout.cameras:
        h, w = layout.image_hw[cam]
        features[video_key(cam)] = {
            "dtype": "video",
            "shape": [h, w, 3],
            "names": ["height", "width", "channels"],
            "info": {
                "video.height": h,
                "video.width": w,
                "video.codec": "h264",
                "video.pix_fmt": "yuv420p",
                "video.is_depth_map": False,
                "video.fps": fps,
                "video.channels": 3,
                "has_audio": False,
            },
        }
    features["timestamp"] = {"dtype": "float32", "shape": [1], "names": None}
    for key in ("frame_index", "episode_index", "index", "task_index"):
        features[key] = {"dtype": "int64", "shape": [1], "names": None}
    return features


def _names(known: tuple[str, ...], key: str, width: int) -> list[str]:
    """Column names of an obs key: the joints' own names when the file lists them, else ``<key>_<i>``."""
    return list(known) if len(known) == width else [f"{key}_{i}" for i in range(width)]


def _vec(names: list[str]) -> dict[str, Any]:
    return {"dtype": "float32", "shape": [len(names)], "names": names}


def _frame_columns(demo: Demo, layout: _Layout, episode: int, start: int, fps: int) -> dict[str, np.ndarray]:
    """The Parquet columns of one episode, as numpy arrays in the dtypes the features declare."""
    T = len(demo)
    obs = demo.obs
    steps = np.arange(T, dtype=np.int64)
    prefixes = [arm.prefix for arm in layout.arms]
    state = np.concatenate([obs[f"{p}{k}"] for p in prefixes for k in ("eef_pos", "eef_quat", "gripper_qpos")], axis=1)
    columns = {"observation.state": state.astype(np.float32)}
    if layout.joint_dim:
        joints = np.concatenate([obs[f"{p}joint_pos"].reshape(T, -1) for p in prefixes], axis=1)
        columns["observation.joint_pos"] = joints.astype(np.float32)
    if layout.object_dim:
        columns["observation.environment_state"] = obs["object"].reshape(T, -1).astype(np.float32)
    columns["action"] = demo.actions.astype(np.float32)
    columns["absolute_action"] = demo.actions_abs.astype(np.float32)
    columns["next.reward"] = demo.rewards.reshape(T).astype(np.float32)
    columns["next.done"] = demo.dones.reshape(T).astype(bool)
    columns["timestamp"] = (steps / fps).astype(np.float32)
    columns["frame_index"] = steps
    columns["episode_index"] = np.full(T, episode, dtype=np.int64)
    columns["index"] = start + steps
    columns["task_index"] = np.zeros(T, dtype=np.int64)
    return columns


def _arrow_type(pa: Any, feature: dict[str, Any]) -> Any:
    scalar = {"float32": pa.float32(), "int64": pa.int64(), "bool": pa.bool_()}[feature["dtype"]]
    shape = feature["shape"]
    return scalar if shape == [1] else pa.list_(scalar, shape[0])  # LeRobot: (1,) is a plain value


def _arrow_column(pa: Any, values: np.ndarray, arrow_type: Any) -> Any:
    if isinstance(arrow_type, pa.FixedSizeListType):
        flat = pa.array(values.reshape(-1), type=arrow_type.value_type)
        return pa.FixedSizeListArray.from_arrays(flat, arrow_type.list_size)
    return pa.array(values.reshape(-1), type=arrow_type)

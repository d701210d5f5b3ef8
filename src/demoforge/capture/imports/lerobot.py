"""``demoforge import lerobot``: a LeRobot v3.0 dataset with end-effector and object poses, as source demos.

What a LeRobot dataset holds per frame is what the generator needs, save the subtask signals: the
end-effector pose (``observation.state``: ``eef_pos_*``, ``eef_quat_*`` in x, y, z, w order), the objects'
poses (``observation.environment_state``: ``<object>_pos_*``, ``<object>_quat_*``), the action (its
``gripper`` column is the gripper command) and, if present, the absolute target (``absolute_action``).
The signals come from the task's own definitions, read in demoforge's world set to each frame: the
objects where the frame has them, the arm by its joint positions when the dataset names the robot's
joints (``observation.joint_pos``, as demoforge's exports do), else by inverse kinematics to the
end-effector pose; the fingers by their recorded positions, else by the gripper command. A demoforge
export imported back gives its source demos again (to float32 precision). Poses are taken to be in
demoforge's world frame.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import mujoco
import numpy as np

from demoforge import geometry as geo
from demoforge.capture.imports.common import (
    ImportedTrack, check_map, held_at_end, import_world, parse_map, read_task, write_imported,
)
from demoforge.errors import DemoforgeError, InputFileError
from demoforge.rollout.world import World
from demoforge.sim.controller import action_to_target
from demoforge.sim.scene import set_free_body_pose
from demoforge.tasks.base import fold_symmetry

IK_ROUNDS = 40  # Newton steps per frame for the arm pose when the dataset has no joint positions


def import_lerobot(
    folder: Path, task_ref: str, out: Path, mapping: str | None = None, robot: str | None = None,
    overwrite: bool = False, on_demo: Callable[[str, bool], None] | None = None,
) -> tuple[Path, list[ImportedTrack]]:
    """Import every episode of the LeRobot dataset at ``folder`` as a source of ``task_ref``."""
    task, world = import_world(task_ref, out, robot, overwrite, "lerobot")
    info = _info(folder)
    features = info["features"]
    columns = _read_frames(folder)
    state_names = _names(folder, features, "observation.state")
    env_names = _names(folder, features, "observation.environment_state") if "observation.environment_state" in features else []
    recorded_objects = list(dict.fromkeys(n.rsplit("_", 2)[0] for n in env_names if n.rsplit("_", 2)[1:2] in (["pos"], ["quat"])))
    wanted = parse_map(mapping) or {o: o for o in recorded_objects if o in task.objects}
    for theirs in wanted:
        if theirs not in recorded_objects:
            raise DemoforgeError(f"--map names {theirs!r}, but {folder} has no poses of it (objects: "
                                 f"{', '.join(recorded_objects) or 'none'})")
    check_map(wanted, task.objects, task.name, str(folder), recorded_objects)
    pick = _picker(folder, features)
    eef_pos = pick("observation.state", [f"eef_pos_{a}" for a in "xyz"])
    eef_quat = pick("observation.state", [f"eef_quat_{a}" for a in "xyzw"])
    action_names = _names(folder, features, "action")
    if len(action_names) != 7:
        raise InputFileError(folder / "meta/info.json", f"action has {len(action_names)} columns; expected 7 (delta pose "
                             "and gripper: one arm with a gripper)", field="features.action")
    arm = world.env.arms[0]
    joints = _names(folder, features, "observation.joint_pos") if "observation.joint_pos" in columns else []
    use_joints = joints == list(arm.config.arm_joints)
    # the fingers' recorded positions, in the robot's order, when the dataset names them all
    fingers = list(arm.config.gripper_joints) if set(arm.config.gripper_joints) <= set(state_names) else []
    if "absolute_action" in columns and len(_names(folder, features, "absolute_action")) != 7:
        raise InputFileError(folder / "meta/info.json", "absolute_action needs 7 columns (position, axis-angle, "
                             "gripper)", field="features.absolute_action")
    if "observation.environment_state" not in columns:
        raise InputFileError(folder, "has no observation.environment_state column: object poses are needed")
    episodes = columns["episode_index"]
    tracks = []
    for episode in np.unique(episodes):
        rows = np.flatnonzero(episodes == episode)
        rows = rows[np.argsort(columns["frame_index"][rows])]
        frame = {key: value[rows] for key, value in columns.items()}
        obj_poses = {ours: _poses(frame, pick, theirs) for theirs, ours in wanted.items()}
        track = _episode(world, task, frame, pick, eef_pos, eef_quat, obj_poses, use_joints, fingers)
        track.meta = {"imported_from": str(folder), "imported_demo": f"episode_{int(episode)}",
                      "states_of": "demoforge (kinematic: set from each frame, velocities zero)"}
        tracks.append(track)
        if on_demo is not None:
            on_demo(f"episode_{int(episode)}", held_at_end(track.success, task.success_hold_steps))
    imported = {"format": "lerobot", "file": str(folder), "codebase_version": info.get("codebase_version"),
                "robot_type": info.get("robot_type"), "map": wanted, "joints": "recorded" if use_joints else "inverse kinematics"}
    return write_imported(out, world, tracks, imported, replace=overwrite), tracks


def _info(folder: Path) -> dict:
    path = folder / "meta" / "info.json"
    if not path.is_file():
        raise InputFileError(folder, "is not a LeRobot dataset (no meta/info.json)")
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputFileError(path, f"is not readable JSON ({exc})") from None
    if not isinstance(info, dict) or not isinstance(info.get("features"), dict):
        raise InputFileError(path, "has no features table", field="features")
    if info.get("codebase_version") != "v3.0":
        raise InputFileError(path, f"codebase_version {info.get('codebase_version')!r}; demoforge reads v3.0",
                             field="codebase_version")
    return info


def _names(folder: Path, features: dict, key: str) -> list[str]:
    feature = features.get(key)
    names = feature.get("names") if isinstance(feature, dict) else None
    if isinstance(names, dict):  # LeRobot also writes {"motors": [...]}
        names = next(iter(names.values()), None)
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise InputFileError(folder / "meta/info.json", "needs a list of column names", field=f"features.{key}.names")
    return names


def _read_frames(folder: Path) -> dict[str, np.ndarray]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DemoforgeError("import lerobot needs pyarrow: pip install 'demoforge[lerobot]'") from None
    files = sorted((folder / "data").glob("chunk-*/file-*.parquet"))
    if not files:
        raise InputFileError(folder, "has no data/chunk-*/file-*.parquet")
    tables = []
    for file in files:
        try:
            tables.append(pq.read_table(file))
        except Exception as exc:  # pyarrow raises several kinds for a damaged file
            raise InputFileError(file, f"is not a readable Parquet file ({exc})") from None
    columns: dict[str, np.ndarray] = {}
    for name in tables[0].column_names:
        parts = [t.column(name).to_numpy(zero_copy_only=False) if name in t.column_names else None for t in tables]
        if any(p is None for p in parts):
            raise InputFileError(files[0].parent, f"column {name!r} is not in every data file")
        columns[name] = np.concatenate([np.stack(p) if p.dtype == object else p for p in parts])
    for needed in ("episode_index", "frame_index", "observation.state", "action"):
        if needed not in columns:
            raise InputFileError(files[0], f"has no column {needed!r}")
    return columns


def _picker(folder: Path, features: dict) -> Callable[..., np.ndarray]:
    """``pick(feature, names)`` -> the indices of named columns in a feature, or a clear error."""

    def pick(feature: str, wanted: list[str]) -> np.ndarray:
        names = _names(folder, features, feature)
        missing = [w for w in wanted if w not in names]
        if missing:
            raise InputFileError(folder / "meta/info.json", f"has no column(s) {', '.join(missing)}",
                                 field=f"features.{feature}.names")
        return np.array([names.index(w) for w in wanted])

    return pick


def _poses(frame: dict, pick: Callable, theirs: str) -> np.ndarray:
    env_state = frame["observation.environment_state"].astype(np.float64)
    pos = env_state[:, pick("observation.environment_state", [f"{theirs}_pos_{a}" for a in "xyz"])]
    quat = env_state[:, pick("observation.environment_state", [f"{theirs}_quat_{a}" for a in "xyzw"])]
    return _pose_rows(pos, quat)


def _pose_rows(pos: np.ndarray, quat_xyzw: np.ndarray) -> np.ndarray:
    quat = geo.xyzw_to_wxyz(quat_xyzw)
    quat = quat / np.linalg.norm(quat, axis=1, keepdims=True)  # float32 storage: back to unit length
    return geo.make_poses(pos, geo.quat_to_mat(quat))


def _episode(world: World, task: object, frame: dict, pick: Callable, eef_pos: np.ndarray, eef_quat: np.ndarray,
             obj_poses: dict[str, np.ndarray], use_joints: bool, fingers: list[str]) -> ImportedTrack:
    env = world.env
    state = frame["observation.state"].astype(np.float64)
    actions = frame["action"].astype(np.float64)
    T = len(actions)
    eef = _pose_rows(state[:, eef_pos], state[:, eef_quat])
    gripper = np.clip(actions[:, 6:7], -1.0, 1.0)
    base = env.world_T_base
    if "absolute_action" in frame:  # the executed target: position and axis-angle in the base frame
        absolute = frame["absolute_action"].astype(np.float64)
        target = base @ geo.make_poses(absolute[:, :3], geo.axisangle_to_mat(absolute[:, 3:6]))
    else:
        target = np.stack([action_to_target(eef[t], base, np.clip(actions[t], -1, 1)) for t in range(T)])
    arm = env.arms[0]
    joints = frame["observation.joint_pos"].astype(np.float64) if use_joints else None
    finger_cols = pick("observation.state", fingers) if fingers else None
    signals = {name: np.zeros(T, dtype=np.int8) for name in task.signal_names}
    success = np.zeros(T, dtype=bool)
    states = np.zeros((T, env.state_size))
    env.reset()
    q = arm.q_home.copy()
    for t in range(T):
        if joints is not None:
            q = joints[t]
        else:
            for _ in range(IK_ROUNDS):
                q = arm.ik.solve(q, eef[t])
        env.data.qpos[arm.qpos_adr] = q
        if finger_cols is not None:
            env.data.qpos[arm.grip_qpos_adr] = state[t, finger_cols]
        else:  # from the command: open .. closed, as the actuators would drive them
            g = (gripper[t, 0] + 1.0) / 2.0
            env.data.qpos[arm.grip_qpos_adr] = (arm.grip_open + g * arm.grip_span)[: len(arm.grip_qpos_adr)]
        for name, poses in obj_poses.items():
            set_free_body_pose(env.model, env.data, name, poses[t])
        env.data.qvel[:] = 0.0
        mujoco.mj_forward(env.model, env.data)
        values, success[t] = read_task(task, env)
        for name, value in values.items():
            signals[name][t] = value
        states[t] = env.get_state()
    for name, poses in obj_poses.items():  # folded by the object's symmetry, as demoforge's own sources are
        poses[:] = fold_symmetry(poses, task.symmetry_order(env, name))
    return ImportedTrack(eef, target, gripper, obj_poses, signals, success, actions, states, world.model_xml)

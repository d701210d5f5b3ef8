"""Write ``datagen_info`` into a source file by re-reading its stored states.

Works for any demo file with ``states``, ``actions`` and a ``model_file`` (demoforge's own, and
imports once they land): poses and termination signals are recomputed in the stored model, and
user boundaries (``--annotations``) replace the signals where given.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np

from demoforge.data.demo import DatagenInfo, Demo
from demoforge.data.hdf5 import read_demos, read_env_args, write_datagen
from demoforge.errors import DemoforgeError
from demoforge.outputs import Fingerprint, array_bytes, atomic_file, ensure_space
from demoforge.mimic.segments import load_annotations, signals_from_boundaries, source_boundaries, validate_boundaries
from demoforge.sim.controller import action_to_target, target_to_action
from demoforge.tasks import get_task
from demoforge.capture.imports.common import imported_format
from demoforge.tasks.base import Task
from demoforge.rollout.world import env_for_demo, has_body


# A stored step counts as recorded with these states when its eef_pose is within POSE_TOL (m, and rotation
# matrix entries) of the recomputed one, and a stored target as the one behind an action when it yields
# the action within ACTION_TOL (normalised units): both far above rounding (~1e-14), far below any real change.
POSE_TOL = 1e-9
ACTION_TOL = 1e-9


def compute_datagen(demo: Demo, task: Task, robot: str | None = None) -> DatagenInfo:
    """Per-step poses and signals of ``demo``, recomputed from its states in its own model.

    The target pose is the intent behind an action, and clipping (5 cm, 0.5 rad a step) and action noise
    hide it: the actions do not determine it. So a stored target is kept where it was recorded with these
    states (its step's eef_pose matches) or yields the stored action, which makes annotation idempotent;
    any other step gets the target its clipped action executes.
    """
    env = env_for_demo(demo, robot)
    for name in task.objects:
        if not has_body(env.model, name):
            raise DemoforgeError(f"demo {demo.meta.get('name', '?')}: its model has no body {name!r} for task {task.name!r}")
    T, A = len(demo), len(env.arms)
    actions = np.clip(demo.actions, -1.0, 1.0)
    eef = np.zeros((T, A, 4, 4))
    target = np.zeros((T, A, 4, 4))
    parts = env.action_parts
    gripper = np.stack([actions[:, part][:, 6:] for part in parts], axis=1)  # (T, arms, k)
    objects = {name: np.zeros((T, 4, 4)) for name in task.objects}
    signals = {name: np.zeros(T, dtype=np.int8) for name in task.signal_names}
    stored = [demo.datagen.arm(a) for a in range(A)]
    for t in range(T):
        env.set_state(demo.states[t])
        for a, arm in enumerate(env.arms):
            eef[t, a] = env.eef_pose(a)
            action = actions[t, parts[a]]
            recorded = np.allclose(stored[a].eef_pose[t], eef[t, a], rtol=0.0, atol=POSE_TOL)
            if _is_pose(stored[a].target_pose[t]) and (
                recorded or _yields_action(eef[t, a], arm.world_T_base, stored[a].target_pose[t], action)
            ):
                target[t, a] = stored[a].target_pose[t]
            else:
                target[t, a] = action_to_target(eef[t, a], arm.world_T_base, action)
        for name in task.objects:
            objects[name][t] = task.object_pose(env, name)
        for name, value in task.signals(env).items():
            signals[name][t] = value
    for a in range(A):
        keep = np.clip(stored[a].gripper_action, -1.0, 1.0) == gripper[:, a]
        gripper[:, a][keep] = stored[a].gripper_action[keep]
    one = 0 if A == 1 else slice(None)  # one arm: robomimic's shapes, no arm axis
    return DatagenInfo(eef[:, one], target[:, one], gripper[:, one], objects, signals)


def _yields_action(world_T_eef: np.ndarray, world_T_base: np.ndarray, world_T_target: np.ndarray, action: np.ndarray) -> bool:
    """Whether the recorder, aiming at ``world_T_target`` without noise, would have sent ``action`` (pose part)."""
    aimed = np.clip(target_to_action(world_T_eef, world_T_base, world_T_target, 0.0), -1.0, 1.0)
    return bool(np.all(np.abs(aimed[:6] - action[:6]) <= ACTION_TOL))


def _is_pose(m: np.ndarray) -> bool:
    """A finite rigid transform (a missing datagen_info reads as zeros)."""
    rot = m[:3, :3]
    return bool(
        np.all(np.isfinite(m)) and np.array_equal(m[3], [0.0, 0.0, 0.0, 1.0])
        and np.allclose(rot @ rot.T, np.eye(3), atol=1e-6)
    )


def annotate_file(
    path: str | Path,
    task_name: str,
    annotations: str | Path | None = None,
    out: str | Path | None = None,
    robot: str | None = None,
    replace: bool = True,
) -> tuple[Path, list[list[int]]]:
    """Write fresh ``datagen_info`` into ``out`` (default: in place, atomically); returns boundaries per demo.

    Without ``replace``, an ``out`` that appeared meanwhile is not replaced.
    """
    path = Path(path)
    out = Path(out) if out else path
    read_at = Fingerprint.of(path)  # in place, the result replaces only the very file that was read
    task = get_task(task_name)
    user = load_annotations(annotations, task) if annotations else None
    # A robosuite import's states are of the recording's model, which demoforge does not simulate: its poses were
    # computed at import and stay; only the subtask boundaries can be set again, by hand.
    foreign = imported_format(read_env_args(path)) == "robomimic"
    if foreign and user is None:
        raise DemoforgeError(f"{path}: imported from a robosuite recording, whose poses and signals were computed at "
                             "import; pass --annotations to set its subtask boundaries, or import it again")
    demos = read_demos(path, require_datagen=foreign)
    if user is not None:
        unknown = sorted(set(user) - {d.meta["name"] for d in demos})
        if unknown:
            raise DemoforgeError(f"{annotations}: demos {unknown} are not in {path}")
    for demo in demos:
        if not foreign:
            demo.datagen = compute_datagen(demo, task, robot)
        name = demo.meta["name"]
        if user is not None and name in user:
            bounds = validate_boundaries(user[name], len(demo), task, f"{annotations} [{name}]")
            demo.datagen.subtask_term_signals.update(signals_from_boundaries(bounds, len(demo), task))
    boundaries, _ = source_boundaries(demos, task, label=str(path))
    new_bytes = array_bytes(a for d in demos for a in (d.datagen.eef_pose, d.datagen.target_pose, d.datagen.gripper_action,
                                                       *d.datagen.object_poses.values(),
                                                       *d.datagen.subtask_term_signals.values()))
    with atomic_file(out, replace=replace or out == path, expect=read_at if out == path else None) as tmp:
        ensure_space(out.parent, path.stat().st_size + new_bytes)
        shutil.copyfile(path, tmp)
        with h5py.File(tmp, "r+") as f:
            for demo in demos:
                group = f["data"][demo.meta["name"]]
                if "datagen_info" in group:
                    del group["datagen_info"]
                write_datagen(group, demo.datagen)
    return out, boundaries

"""Replay stored demos: re-simulate from the first state and the actions, or render frames.

Needs nothing but the demo itself: the model comes from its stored MJCF and the controller is
stateless, so ``states[0]`` plus ``actions`` determine every later state. The check re-records the
demo through ``Recorder.act`` (the code that recorded it) and compares every stored array those
determine; see docs/formats.md ("Checking a dataset") for what is compared and the tolerances.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import mujoco
import numpy as np

from demoforge.data.demo import Demo
from demoforge.data.hdf5 import next_obs
from demoforge.rollout.episode import Recorder
from demoforge.errors import DemoforgeError
from demoforge.sim.quality import Quality
from demoforge.sim.render import offscreen_renderer, resolve_cameras
from demoforge.tasks import get_task
from demoforge.tasks.base import Task
from demoforge.rollout.world import World, env_for_demo, has_body

# Continuous arrays: the same MuJoCo build replays bit for bit (error 0); 1e-6 (m, rad, or the
# array's own unit) leaves room for another CPU's or build's rounding, far below any edit that matters.
CONTINUOUS_TOL = 1e-6
# Discrete or copied values (rewards, dones, signals, the gripper command) must match exactly.
EXACT = ("rewards", "dones", "datagen_info/gripper_action", "datagen_info/subtask_term_signals/")
# Stored arrays that states[0] and the actions do not determine, and why.
NOT_DETERMINED = {
    "actions": "the input of the replay",
    "datagen_info/target_pose": "the intent before clipping and action noise: not determined by the actions",
}


@dataclass(frozen=True)
class ArrayCheck:
    """One stored array against its re-simulated value."""

    key: str  # path inside the demo group, e.g. "obs/robot0_eef_pos"
    max_error: float  # largest absolute difference (inf: shapes differ or the replay stopped early)
    tolerance: float
    first_step: int | None  # first step off by more than the tolerance; None when the array matches

    @property
    def ok(self) -> bool:
        return self.first_step is None


@dataclass
class ReplayCheck:
    name: str
    steps: int
    arrays: list[ArrayCheck]
    stored_success: bool
    replayed_success: bool
    not_checked: dict[str, str] = field(default_factory=dict)  # stored key -> why it was not compared

    @property
    def ok(self) -> bool:
        return all(a.ok for a in self.arrays) and self.stored_success == self.replayed_success

    @property
    def max_state_error(self) -> float:
        return next((a.max_error for a in self.arrays if a.key == "states"), 0.0)

    @property
    def first_mismatch(self) -> ArrayCheck | None:
        """The mismatching array whose first bad step comes earliest (listing order breaks ties)."""
        bad = [a for a in self.arrays if not a.ok]
        return min(bad, key=lambda a: a.first_step) if bad else None  # type: ignore[arg-type, return-value]


def check_demo(
    demo: Demo, task_name: str, robot: str | None = None, stored: dict[str, np.ndarray | None] | None = None
) -> ReplayCheck:
    """Re-simulate ``demo`` from ``states[0]`` with its actions; compare every stored array those determine.

    ``stored`` maps keys inside the demo group to their stored arrays (None: present but not read, such
    as images); by default the arrays of ``demo`` itself (``stored_arrays`` reads a file, with next_obs).
    """
    stored = demo_arrays(demo) if stored is None else stored
    replayed, replayed_success = resimulate(demo, task_name, robot)
    fresh = demo_arrays(replayed, with_next_obs=True)
    arrays, skipped = [], {}
    for key, value in stored.items():
        if key in NOT_DETERMINED:
            skipped[key] = NOT_DETERMINED[key]
        elif key not in fresh or value is None:
            skipped[key] = "not re-rendered" if _is_image(key, value) else "not produced by a replay"
        else:
            arrays.append(compare(key, value, fresh[key], 0.0 if key.startswith(EXACT) else CONTINUOUS_TOL))
    hold = get_task(task_name).success_hold_steps
    stored_success = len(demo) >= hold and bool(np.all(demo.rewards[-hold:] > 0))
    return ReplayCheck(demo.meta.get("name", "?"), len(demo), arrays, stored_success, replayed_success, skipped)


def resimulate(demo: Demo, task_name: str, robot: str | None = None) -> tuple[Demo, bool]:
    """The demo as the recorder records it when fed the stored actions, and whether success held at its end.

    Shorter than ``demo`` when the physics became unstable before its last step.
    """
    task = get_task(task_name)
    env = env_for_demo(demo, robot, fallback=task.robot)
    _require_task_objects(env.model, task, demo)
    env.set_state(demo.states[0])
    rec = Recorder(World(env, task, demo.model_file), max_steps=len(demo))
    rec.start()
    actions = np.clip(demo.actions, -1.0, 1.0)
    eef_commands = np.stack([actions[:, part][:, 6:] for part in env.action_parts], axis=1)  # (T, arms, k)
    for t in range(len(demo)):
        if not rec.act(actions[t], demo.datagen.target_pose[t], eef_commands[t]):
            break
    return rec.finish(), rec.succeeded()


def _require_task_objects(model: mujoco.MjModel, task: Task, demo: Demo) -> None:
    """Refuse a demo whose model lacks the task's objects (demos of another task), naming file and bodies."""
    missing = [name for name in task.objects if not has_body(model, name)]
    if missing:
        where = f"{demo.meta.get('file', '?')} [data/{demo.meta.get('name', '?')}/model_file]"
        raise DemoforgeError(
            f"{where}: the model has no bodies {missing} of task {task.name!r}; pass the task it was recorded for (--task)"
        )


def demo_arrays(demo: Demo, with_next_obs: bool = False) -> dict[str, np.ndarray | None]:
    """Every per-step array of ``demo`` by its key in the HDF5 demo group (datagen_info only if it holds poses)."""
    arrays: dict[str, np.ndarray | None] = {
        "actions": demo.actions, "actions_abs": demo.actions_abs, "states": demo.states,
        "rewards": demo.rewards, "dones": demo.dones,
    }
    arrays.update({f"obs/{k}": v for k, v in demo.obs.items()})
    if with_next_obs:
        arrays.update({f"next_obs/{k}": next_obs(v) for k, v in demo.obs.items()})
    info = demo.datagen
    if info.eef_pose[..., 3, 3].any():  # the reader's stand-in for a missing datagen_info is all zeros
        arrays["datagen_info/eef_pose"] = info.eef_pose
        arrays["datagen_info/target_pose"] = info.target_pose
        arrays["datagen_info/gripper_action"] = info.gripper_action
        arrays.update({f"datagen_info/object_poses/{k}": v for k, v in info.object_poses.items()})
        arrays.update({f"datagen_info/subtask_term_signals/{k}": v for k, v in info.subtask_term_signals.items()})
    return arrays


def stored_arrays(path: str | Path, name: str) -> dict[str, np.ndarray | None]:
    """Every dataset of demo ``name`` in ``path`` by key; images (4-D observations) are listed as None, not read."""
    arrays: dict[str, np.ndarray | None] = {}

    def visit(key: str, node: object) -> None:
        if isinstance(node, h5py.Dataset):
            image = node.ndim >= 4 and key.startswith(("obs/", "next_obs/"))  # not per-arm poses (T, arms, 4, 4)
            arrays[key] = None if image else node[()]

    with h5py.File(path, "r") as f:
        f["data"][name].visititems(visit)
    return arrays


def compare(key: str, stored: np.ndarray, replayed: np.ndarray, tolerance: float) -> ArrayCheck:
    """Largest difference and first step beyond ``tolerance``; NaN, other shapes or a short replay count as infinite."""
    try:
        a = np.asarray(stored, dtype=np.float64)
    except (TypeError, ValueError):
        return ArrayCheck(key, float("inf"), tolerance, 0)
    b = np.asarray(replayed, dtype=np.float64)
    n = min(len(a), len(b)) if a.ndim and b.ndim else 0
    if a.shape[1:] != b.shape[1:] or a.ndim == 0:
        return ArrayCheck(key, float("inf"), tolerance, 0)
    err = np.abs(a[:n] - b[:n]).reshape(n, -1)
    err[np.isnan(err)] = np.inf
    per_step = err.max(axis=1) if err.size else np.zeros(n)
    bad = np.flatnonzero(~(per_step <= tolerance))
    first = int(bad[0]) if len(bad) else None
    if len(a) != len(b):  # the replay stopped early (unstable), or the stored array has another length
        return ArrayCheck(key, float("inf"), tolerance, n if first is None else first)
    return ArrayCheck(key, float(per_step.max()) if n else 0.0, tolerance, first)


def describe(keys: Iterable[str]) -> str:
    """Checked keys in a line: 'states, ..., obs (7 keys), datagen_info (eef_pose, object_poses (2), ...)'."""
    keys = set(keys)
    parts = [k for k in ("states", "actions_abs", "rewards", "dones") if k in keys]
    for group in ("obs", "next_obs"):
        n = sum(k.startswith(f"{group}/") for k in keys)
        if n:
            parts.append(f"{group} ({n} keys)")
    info = [k.removeprefix("datagen_info/") for k in ("datagen_info/eef_pose", "datagen_info/gripper_action") if k in keys]
    for group in ("object_poses", "subtask_term_signals"):
        n = sum(k.startswith(f"datagen_info/{group}/") for k in keys)
        if n:
            info.append(f"{group} ({n})")
    if info:
        parts.append(f"datagen_info ({', '.join(info)})")
    return ", ".join(parts) or "nothing"


def describe_skipped(not_checked: dict[str, str]) -> str:
    """Stored keys that were not compared, grouped by reason: images in a count, the rest by name."""
    images = sorted(k for k, why in not_checked.items() if why == "not re-rendered")
    rest = [f"{k} ({why})" for k, why in not_checked.items() if why != "not re-rendered" and k != "actions"]
    if images:
        rest.append(f"{len(images)} image keys not re-rendered ({', '.join(images)})")
    return "; ".join(rest)


def _is_image(key: str, value: np.ndarray | None) -> bool:
    return value is None or (np.ndim(value) >= 4 and key.startswith(("obs/", "next_obs/")))


def render_frames(
    demo: Demo, robot: str | None = None, camera: str = "agentview", width: int = 320, height: int = 240,
    quality: Quality = "fast",
) -> Iterator[np.ndarray]:
    """RGB frames (H, W, 3, uint8) of a demo, one per control step, from its stored states, drawn at ``quality``."""
    env = env_for_demo(demo, robot, quality=quality)
    (camera,) = resolve_cameras(env.model, [camera])
    renderer = offscreen_renderer(env.model, height, width)
    try:
        for state in demo.states:
            env.set_state(state)
            renderer.update_scene(env.data, camera=camera)
            yield renderer.render().copy()
    finally:
        renderer.close()

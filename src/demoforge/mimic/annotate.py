"""Write ``datagen_info`` into a source file by re-reading its stored states.

Works for any demo file with ``states``, ``actions`` and a ``model_file`` (demoforge's own, and
imports once they land): poses and termination signals are recomputed in the stored model, and
user boundaries (``--annotations``) replace the signals where given.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import h5py
import numpy as np

from demoforge.data.demo import DatagenInfo, Demo
from demoforge.data.hdf5 import read_demos, write_datagen
from demoforge.errors import DemoforgeError
from demoforge.mimic.segments import build_source_set, load_annotations, signals_from_boundaries, validate_boundaries
from demoforge.sim.controller import action_to_target
from demoforge.sim.robot import load_robot
from demoforge.tasks import get_task
from demoforge.tasks.base import Task
from demoforge.world import env_for_demo


def compute_datagen(demo: Demo, task: Task, robot: str = "panda") -> DatagenInfo:
    """Per-step poses and signals of ``demo``, recomputed from its states in its own model."""
    env = env_for_demo(demo, load_robot(robot))
    for name in task.objects:
        if not _has_body(env.model, name):
            raise DemoforgeError(f"demo {demo.meta.get('name', '?')}: its model has no body {name!r} for task {task.name!r}")
    T = len(demo)
    eef = np.zeros((T, 4, 4))
    target = np.zeros((T, 4, 4))
    objects = {name: np.zeros((T, 4, 4)) for name in task.objects}
    signals = {name: np.zeros(T, dtype=np.int8) for name in task.signal_names}
    for t in range(T):
        env.set_state(demo.states[t])
        eef[t] = env.eef_pose()
        target[t] = action_to_target(eef[t], env.world_T_base, np.clip(demo.actions[t], -1.0, 1.0))
        for name in task.objects:
            objects[name][t] = task.object_pose(env, name)
        for name, value in task.signals(env).items():
            signals[name][t] = value
    return DatagenInfo(eef, target, np.clip(demo.actions[:, 6:7], -1.0, 1.0), objects, signals)


def _has_body(model: object, name: str) -> bool:
    try:
        model.body(name)  # type: ignore[attr-defined]
    except KeyError:
        return False
    return True


def annotate_file(
    path: str | Path,
    task_name: str,
    annotations: str | Path | None = None,
    out: str | Path | None = None,
    robot: str = "panda",
) -> tuple[Path, list[list[int]]]:
    """Write fresh ``datagen_info`` into ``out`` (default: in place, atomically); returns boundaries per demo."""
    path = Path(path)
    out = Path(out) if out else path
    task = get_task(task_name)
    user = load_annotations(annotations, task) if annotations else None
    demos = read_demos(path, require_datagen=False)
    if user is not None:
        unknown = sorted(set(user) - {d.meta["name"] for d in demos})
        if unknown:
            raise DemoforgeError(f"{annotations}: demos {unknown} are not in {path}")
    for demo in demos:
        demo.datagen = compute_datagen(demo, task, robot)
        name = demo.meta["name"]
        if user is not None and name in user:
            bounds = validate_boundaries(user[name], len(demo), task, f"{annotations} [{name}]")
            demo.datagen.subtask_term_signals.update(signals_from_boundaries(bounds, len(demo), task))
    boundaries = build_source_set(demos, task, label=str(path)).boundaries
    tmp = out.with_name(out.name + ".partial")
    shutil.copyfile(path, tmp)
    try:
        with h5py.File(tmp, "r+") as f:
            for demo in demos:
                group = f["data"][demo.meta["name"]]
                if "datagen_info" in group:
                    del group["datagen_info"]
                write_datagen(group, demo.datagen)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out, boundaries

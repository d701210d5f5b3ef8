"""Camera observations for demos that are already on disk, rendered from their stored states.

Like robomimic's ``dataset_states_to_obs``: generate fast without cameras, then add the images
(and depth, segmentation) any policy needs, on every core. Each demo is rebuilt from its own MJCF,
so the frames equal the ones generation would have rendered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from demoforge.data.hdf5 import demo_names, next_obs, open_dataset, read_demos, read_env_args
from demoforge.errors import DemoforgeError, InputFileError
from demoforge.outputs import Fingerprint, array_bytes, atomic_file, ensure_space
from demoforge.runner.pool import ordered_map, render_worker_bytes
from demoforge.sim.render import check_image_size, frame_bytes, resolve_cameras
from demoforge.tasks import check_task_file_unchanged, get_task, task_ref_of
from demoforge.rollout.world import World, env_for_demo


@dataclass(frozen=True)
class RenderJob:
    """What to render for one demo (pickled to a worker; the worker reads the demo itself)."""

    path: str
    name: str
    task: str
    cameras: tuple[str, ...]
    size: int
    depth: bool = False
    segmentation: bool = False
    robot: str | None = None


def worker_bytes(job: RenderJob) -> int:
    """Peak memory of a worker rendering ``job``: what ``plan_workers`` divides the free memory by."""
    return render_worker_bytes(frame_bytes(len(job.cameras), job.size, job.depth, job.segmentation))


def render_demo_obs(job: RenderJob) -> dict[str, np.ndarray]:
    """Observation arrays (obs key -> (T, ...)) for one stored demo."""
    (demo,) = read_demos(job.path, require_datagen=False, names=[job.name])
    world = World(env_for_demo(demo, job.robot), get_task(job.task), demo.model_file)
    rig = world.camera_rig(list(job.cameras), job.size, job.depth, job.segmentation)
    try:
        T = len(demo)
        obs = {key: np.zeros((T, *shape), dtype=dtype) for key, (shape, dtype) in rig.obs_shapes().items()}
        for t, state in enumerate(demo.states):
            world.env.set_state(state)
            rig.capture(world.env.data, {key: buffer[t] for key, buffer in obs.items()})
        return obs
    finally:
        rig.close()


def add_observations(
    path: str | Path,
    cameras: list[str],
    size: int = 84,
    depth: bool = False,
    segmentation: bool = False,
    out: str | Path | None = None,
    workers: int = 1,
    robot: str | None = None,
    on_demo: Callable[[str], None] | None = None,
    replace: bool = True,
) -> Path:
    """Write ``path`` with camera observations added to every demo to ``out`` (default: in place), atomically.

    Existing observation keys of the same name are replaced; all other content is copied unchanged.
    Without ``replace``, an ``out`` that appeared meanwhile is not replaced; in place, a ``path``
    another process changed meanwhile is not either.
    """
    path = Path(path)
    out = Path(out) if out is not None else path
    read_at = Fingerprint.of(path)  # an in-place update is published only over the very file it read
    if not cameras:
        raise DemoforgeError("no cameras given: pass e.g. --cameras agentview,wrist")
    task = task_ref_of(read_env_args(path))
    if task:
        check_task_file_unchanged(read_env_args(path), task)
    if not task:
        raise InputFileError(path, "has no env_name; cannot tell which task made it", field="data.attrs[env_args]")
    with open_dataset(path) as f:
        names = demo_names(f)
    if not names:
        raise InputFileError(path, "holds no demos", field="data")
    # Unknown cameras or a bad first demo fail here, before any output exists.
    get_task(task)
    (first,) = read_demos(path, require_datagen=False, names=[names[0]])
    model = env_for_demo(first, robot).model
    resolve_cameras(model, cameras)
    check_image_size(model, size, size)
    jobs = [RenderJob(str(path), n, task, tuple(cameras), size, depth, segmentation, robot) for n in names]
    with atomic_file(out, replace=replace or out == path, expect=read_at if out == path else None) as tmp:
        with h5py.File(path, "r") as src, h5py.File(tmp, "w") as dst:
            _copy_except_demos(src, dst)
            results = ordered_map(render_demo_obs, jobs, workers, per_worker_bytes=worker_bytes(jobs[0]))
            for job, obs in zip(jobs, results):
                stored = src["data"][job.name]
                ensure_space(tmp.parent, 2 * array_bytes(obs.values()) + _group_bytes(stored), growing=tmp)
                group = _copy_demo(stored, dst["data"], drop=set(obs))
                for key, value in obs.items():
                    group["obs"].create_dataset(key, data=value)
                    if "next_obs" in group:  # keep robomimic's next_obs in step with obs
                        group["next_obs"].create_dataset(key, data=next_obs(value))
                if on_demo is not None:
                    on_demo(job.name)
    return out


def _group_bytes(group: h5py.Group) -> int:
    datasets: list[h5py.Dataset] = []
    group.visititems(lambda _, node: datasets.append(node) if isinstance(node, h5py.Dataset) else None)
    return array_bytes(datasets)


def _copy_except_demos(src: h5py.File, dst: h5py.File) -> None:
    """Everything but the demo groups (masks, attributes), so the new file stays a complete dataset."""
    dst.attrs.update(src.attrs)
    for key in src:
        if key != "data":
            src.copy(src[key], dst, name=key)
    data = dst.create_group("data")
    data.attrs.update(src["data"].attrs)


def _copy_demo(group: h5py.Group, parent: h5py.Group, drop: set[str]) -> h5py.Group:
    """Copy one demo into ``parent`` without the observation keys in ``drop`` (they are re-rendered)."""
    new = parent.create_group(group.name.rsplit("/", 1)[-1])
    new.attrs.update(group.attrs)
    for key in group:
        if key not in ("obs", "next_obs"):
            group.copy(group[key], new, name=key)
    for part in ("obs", "next_obs"):
        if part in group or part == "obs":
            target = new.create_group(part)
            for key in group.get(part, {}):
                if key not in drop:
                    group[part].copy(group[part][key], target, name=key)
    return new

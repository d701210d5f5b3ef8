"""Run a generation job in this process: attempts in order, demos streamed to disk, stats at the end.

The output folder (docs/formats.md)::

    demos.hdf5   successful demos, robomimic layout, in attempt order
    failed.hdf5  failed attempts, each with meta.reason (if keep_failed)
    config.json  the resolved GenerateConfig plus versions and the source file's hash
    stats.json   attempts, successes, dgr, wall_time_s, physics_steps, control_steps, failures by reason
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import mujoco
import numpy as np

from demoforge import __version__
from demoforge.data.hdf5 import DatasetWriter, read_demos, read_env_args
from demoforge.errors import DemoforgeError
from demoforge.mimic.generate import AttemptResult, GenerateConfig, run_attempt
from demoforge.mimic.segments import build_source_set, load_annotations
from demoforge.scenes.sample import check_family, sample_scene, scene_seed
from demoforge.sim.render import resolve_cameras
from demoforge.sim.robot import load_robot
from demoforge.tasks import get_task
from demoforge.world import env_args_for, make_world

ProgressCallback = Callable[[AttemptResult, dict], None]
MAX_SCENE_RETRIES = 50


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_source_task(source: Path, task_name: str) -> None:
    """Refuse a source file recorded for a different task (its env_args say which)."""
    recorded = read_env_args(source).get("env_name")
    if recorded and recorded != task_name:
        raise DemoforgeError(f"{source}: demos were recorded for task {recorded!r}, not {task_name!r} (--task)")


def generate(cfg: GenerateConfig, out_dir: str | Path, on_attempt: ProgressCallback | None = None) -> dict:
    """Generate ``cfg.num_demos`` successful demos (or stop at the attempt limit); returns the stats."""
    out = Path(out_dir)
    task = get_task(cfg.task)
    source = Path(cfg.source)
    check_source_task(source, cfg.task)
    demos = read_demos(source, require_datagen=True)
    annotations = load_annotations(cfg.annotations, task) if cfg.annotations else None
    sources = build_source_set(demos, task, annotations, label=str(source))
    task.variation(cfg.variation)  # unknown variation -> clear error before any output exists
    if cfg.scenes is not None:
        check_family(cfg.scenes, cfg.variation)
    robot = load_robot(cfg.robot)
    world = make_world(task, robot)
    if cfg.cameras:
        resolve_cameras(world.env.model, cfg.cameras)  # unknown camera -> clear error before any output exists
    out.mkdir(parents=True, exist_ok=True)
    env_args = env_args_for(world, cfg.variation)
    (out / "config.json").write_text(
        json.dumps(
            {
                **cfg.model_dump(mode="json"),
                "source_sha256": file_sha256(source),
                "demoforge_version": __version__,
                "mujoco_version": mujoco.__version__,
                "numpy_version": np.__version__,
            },
            indent=2,
        )
    )
    stats: dict = {"attempts": 0, "successes": 0, "physics_steps": 0, "control_steps": 0, "scenes_rejected": 0}
    failures: Counter[str] = Counter()
    start = time.perf_counter()
    with DatasetWriter(out / "demos.hdf5", env_args) as kept, DatasetWriter(out / "failed.hdf5", env_args) as failed:
        index = 0
        while stats["successes"] < cfg.num_demos and index < cfg.attempt_limit:
            result = run_attempt(world, sources, cfg, index) if cfg.scenes is None else None
            retry = 0
            while result is None or result.rejected:
                if retry >= MAX_SCENE_RETRIES:
                    raise DemoforgeError(
                        f"scene family {cfg.scenes!r} at {cfg.variation}: {MAX_SCENE_RETRIES} scenes in a row were "
                        f"impossible for {cfg.task} ({result.reason if result else 'none tried'})"
                    )
                if result is not None:
                    stats["scenes_rejected"] += 1
                scene = sample_scene(
                    cfg.scenes, cfg.variation, scene_seed(cfg.seed, index, retry), task.objects,
                    task.placement_boxes(cfg.variation), task.scalable, cfg.scene_axes,
                )
                result = run_attempt(make_world(task, robot, scene=scene), sources, cfg, index)
                retry += 1
            index += 1
            stats["attempts"] += 1
            stats["physics_steps"] += result.physics_steps
            stats["control_steps"] += result.control_steps
            if result.success:
                stats["successes"] += 1
                kept.add(result.demo)
            else:
                failures[result.reason] += 1
                if cfg.keep_failed:
                    failed.add(result.demo)
            if on_attempt is not None:
                on_attempt(result, stats)
    if not cfg.keep_failed:
        (out / "failed.hdf5").unlink(missing_ok=True)
    wall = time.perf_counter() - start
    stats.update(
        dgr=stats["successes"] / max(stats["attempts"], 1),
        wall_time_s=wall,
        attempts_per_s=stats["attempts"] / wall if wall > 0 else 0.0,
        failures=dict(sorted(failures.items(), key=lambda kv: -kv[1])),
        task=cfg.task,
        variation=cfg.variation,
        scene_family=cfg.scenes or "default",
        cpu_count=os.cpu_count(),
    )
    (out / "stats.json").write_text(json.dumps(stats, indent=2))
    return stats

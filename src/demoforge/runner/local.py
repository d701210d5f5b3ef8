"""Run a generation job: attempts spread over workers, shards on disk, one merge at the end.

The output folder (docs/formats.md)::

    demos.hdf5   successful demos, robomimic layout, in attempt order
    failed.hdf5  failed attempts, each with meta.reason (if keep_failed)
    config.json  the resolved GenerateConfig plus versions and the source file's hash
    stats.json   attempts, successes, dgr, wall_time_s, physics_steps, control_steps, failures by reason
    .shards/     while running: one file per finished attempt (what ``resume`` continues from)

The dataset is the first ``num_demos`` successes in attempt order, and each attempt depends only on
the config and its index, so it is the same for any number of workers, executor, or interruptions.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import h5py
import mujoco
import numpy as np

from demoforge import __version__
from demoforge.data.hdf5 import DatasetWriter, read_demos, read_env_args
from demoforge.errors import DemoforgeError
from demoforge.mimic.generate import GenerateConfig
from demoforge.mimic.segments import build_source_set, load_annotations
from demoforge.runner.attempts import AttemptSummary
from demoforge.runner.executors import make_executor
from demoforge.runner.shards import DEMO_KEY, SHARD_DIR, finished_attempts, shard_path
from demoforge.scenes.sample import check_family
from demoforge.sim.render import resolve_cameras
from demoforge.sim.robot import load_robot
from demoforge.tasks import get_task
from demoforge.world import env_args_for, make_world

ProgressCallback = Callable[[AttemptSummary, dict], None]
RUN_FILES = ("demos.hdf5", "failed.hdf5", "config.json", "stats.json")
IDENTITY_KEYS = ("source_sha256",)  # besides the GenerateConfig, what makes two runs the same run


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


def validate(cfg: GenerateConfig) -> dict:
    """Check every input before any output exists; returns the run's ``env_args``."""
    task = get_task(cfg.task)
    source = Path(cfg.source)
    check_source_task(source, cfg.task)
    demos = read_demos(source, require_datagen=True)
    annotations = load_annotations(cfg.annotations, task) if cfg.annotations else None
    build_source_set(demos, task, annotations, label=str(source))
    task.variation(cfg.variation)
    if cfg.scenes is not None:
        check_family(cfg.scenes, cfg.variation)
    world = make_world(task, load_robot(cfg.robot))
    if cfg.cameras:
        resolve_cameras(world.env.model, cfg.cameras)
    return env_args_for(world, cfg.variation)


def run_config(cfg: GenerateConfig) -> dict:
    """``config.json``: the config, the source's hash, and the versions that made the data."""
    return {
        **cfg.model_dump(mode="json"),
        "source_sha256": file_sha256(Path(cfg.source)),
        "demoforge_version": __version__,
        "mujoco_version": mujoco.__version__,
        "numpy_version": np.__version__,
    }


def _same_run(saved: dict, wanted: dict) -> list[str]:
    keys = set(GenerateConfig.model_fields) | set(IDENTITY_KEYS)
    return sorted(k for k in keys if saved.get(k) != wanted.get(k))


def prepare_folder(out: Path, config: dict, resume: bool) -> None:
    """Create the run folder, or check that a folder being resumed belongs to this very run."""
    saved_path = out / "config.json"
    if resume and saved_path.exists():
        try:
            saved = json.loads(saved_path.read_text())
        except ValueError:
            raise DemoforgeError(f"{saved_path}: not valid JSON; cannot resume this folder") from None
        differ = _same_run(saved, config)
        if differ:
            raise DemoforgeError(
                f"{out}: belongs to a different run ({', '.join(differ)} differ); use another --out, or --overwrite"
            )
    out.mkdir(parents=True, exist_ok=True)
    tmp = saved_path.with_name("config.json.partial")
    tmp.write_text(json.dumps(config, indent=2))
    os.replace(tmp, saved_path)


def generate(
    cfg: GenerateConfig,
    out_dir: str | Path,
    on_attempt: ProgressCallback | None = None,
    workers: int | None = 1,
    resume: bool = False,
    executor: str = "local",
    address: str | None = None,
) -> dict:
    """Generate ``cfg.num_demos`` successful demos (or stop at the attempt limit); returns the stats.

    With ``resume``, finished attempts found in ``out_dir`` are kept and only the rest are run.
    ``workers=None`` means every core here (local) or every CPU of the cluster (ray).
    """
    out = Path(out_dir)
    env_args = validate(cfg)
    config = run_config(cfg)
    if resume and (out / "stats.json").exists() and (out / "demos.hdf5").exists() and not (out / SHARD_DIR).exists():
        prepare_folder(out, config, resume=True)  # a finished run: only check it is the same one
        return json.loads((out / "stats.json").read_text())
    prepare_folder(out, config, resume)
    shard_dir = out / SHARD_DIR
    shard_dir.mkdir(exist_ok=True)
    done = {i: AttemptSummary(**s) for i, s in finished_attempts(shard_dir).items()} if resume else {}
    if not resume:
        for path in shard_dir.iterdir():
            path.unlink()
    start = time.perf_counter()
    counts = {  # progress so far (all finished attempts, including any past the final stop)
        "attempts": len(done),
        "successes": sum(s.success for s in done.values()),
        "physics_steps": sum(s.physics_steps for s in done.values()),
    }
    stop = _stop_index(done, cfg)
    if stop is None and _frontier(done) < cfg.attempt_limit:
        pool = make_executor(cfg, shard_dir, workers, executor, address)
        try:
            next_index, in_flight = 0, 0
            while stop is None:
                while in_flight < 2 * pool.slots and next_index < cfg.attempt_limit:
                    if next_index not in done:
                        pool.submit(next_index)
                        in_flight += 1
                    next_index += 1
                if in_flight == 0:
                    break
                for summary in pool.results():
                    in_flight -= 1
                    done[summary.index] = summary
                    counts["attempts"] += 1
                    counts["successes"] += summary.success
                    counts["physics_steps"] += summary.physics_steps
                    if on_attempt is not None:
                        on_attempt(summary, counts)
                stop = _stop_index(done, cfg)
                if stop is None and _frontier(done) >= cfg.attempt_limit:
                    break
        finally:
            pool.close()
    used = sorted(i for i in done if i <= (stop if stop is not None else cfg.attempt_limit - 1))
    stats = _merge(out, cfg, env_args, [done[i] for i in used], time.perf_counter() - start)
    shutil.rmtree(shard_dir, ignore_errors=True)
    return stats


def _frontier(done: dict) -> int:
    """The first attempt index not finished yet."""
    i = 0
    while i in done:
        i += 1
    return i


def _stop_index(done: dict[int, AttemptSummary], cfg: GenerateConfig) -> int | None:
    """Index of the attempt that made the ``num_demos``-th success in attempt order, once it is known."""
    successes = 0
    for i in range(_frontier(done)):
        successes += done[i].success
        if successes >= cfg.num_demos:
            return i
    return None


def _merge(out: Path, cfg: GenerateConfig, env_args: dict, used: list[AttemptSummary], wall: float) -> dict:
    """Copy the used attempts' demos, in attempt order, into the final files; then write the stats."""
    shard_dir = out / SHARD_DIR
    failures: Counter[str] = Counter()
    with DatasetWriter(out / "failed.hdf5", env_args) as failed, DatasetWriter(out / "demos.hdf5", env_args) as kept:
        for summary in used:
            if not summary.success:
                failures[summary.reason] += 1
            with h5py.File(shard_path(shard_dir, summary.index), "r") as shard:
                if DEMO_KEY in shard:
                    (kept if summary.success else failed).add_copy(shard[DEMO_KEY])
    if not cfg.keep_failed:
        (out / "failed.hdf5").unlink(missing_ok=True)
    stats: dict = {
        "attempts": len(used),
        "successes": sum(s.success for s in used),
        "physics_steps": sum(s.physics_steps for s in used),
        "control_steps": sum(s.control_steps for s in used),
        "scenes_rejected": sum(s.scenes_rejected for s in used),
        "crashed": sum(s.crashed for s in used),
    }
    stats.update(
        dgr=stats["successes"] / max(stats["attempts"], 1),
        wall_time_s=wall,
        attempts_per_s=stats["attempts"] / wall if wall > 0 else 0.0,
        failures=dict(sorted(failures.items(), key=lambda kv: (-kv[1], kv[0]))),
        task=cfg.task,
        variation=cfg.variation,
        scene_family=cfg.scenes or "default",
        cpu_count=os.cpu_count(),
    )
    tmp = out / "stats.json.partial"
    tmp.write_text(json.dumps(stats, indent=2))
    os.replace(tmp, out / "stats.json")
    return stats

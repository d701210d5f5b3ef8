"""Run a generation job: attempts spread over workers, shards on disk, one merge at the end.

The output is a run folder (runner/run_folder.py, docs/formats.md): demos.hdf5, failed.hdf5, config.json,
stats.json, and while running .shards/ with one file per finished attempt (what ``resume`` continues from).
The dataset is the first ``num_demos`` successes in attempt order, and each attempt depends only on
the config and its index, so it is the same for any number of workers, executor, or interruptions.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import h5py

from demoforge.data.hdf5 import DatasetWriter, read_env_args
from demoforge.errors import DemoforgeError, InputFileError, OutputError
from demoforge.mimic.generate import GenerateConfig
from demoforge.outputs import OutputFolder, write_json
from demoforge.runner.attempts import AttemptWorker
from demoforge.runner.executors import make_executor
from demoforge.runner.identity import file_sha256, run_identity, versions
from demoforge.runner.run_folder import CONFIG, RUN_ENTRIES, AttemptSummary, RunFolder, RunStats
from demoforge.runner.shards import DEMO_KEY, finished_attempts, shard_path
from demoforge.scenes.sample import check_family
from demoforge.sim.render import check_image_size, resolve_cameras
from demoforge.tasks import get_task
from demoforge.rollout.world import env_args_for

IDENTITY_KEYS = ("source_sha256",)  # besides the GenerateConfig, what the message names when two runs differ


@dataclass
class RunProgress:
    """What ``on_attempt`` hears after each finished attempt: all finished so far (also any past the final stop)."""

    attempts: int = 0
    successes: int = 0
    physics_steps: int = 0

    def add(self, summary: AttemptSummary) -> None:
        self.attempts += 1
        self.successes += summary.success
        self.physics_steps += summary.physics_steps


ProgressCallback = Callable[[AttemptSummary, RunProgress], None]


def is_run_folder(folder: Path) -> bool:
    """A run folder of a version before markers: its config.json names the demoforge that wrote it."""
    try:
        saved = json.loads(RunFolder(folder).config.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(saved, dict) and "demoforge_version" in saved and "task" in saved


def check_source_task(source: Path, task_ref: str) -> None:
    """Refuse a source file recorded for a different task (its env_args say which; a task file's own name counts)."""
    recorded = read_env_args(source).get("env_name")
    name = get_task(task_ref).name
    if recorded and recorded != name:
        raise DemoforgeError(f"{source}: demos were recorded for task {recorded!r}, not {name!r} (--task {task_ref})")


def validate(cfg: GenerateConfig) -> AttemptWorker:
    """Check every input before any output exists; returns a worker built from them (sources read, world
    compiled), which the in-process executor then uses instead of building its own."""
    get_task(cfg.task)  # an unknown task is named before anything else
    source = Path(cfg.source)
    if not source.exists():
        raise InputFileError(source, "source file does not exist (record some with `demoforge source`)")
    check_source_task(source, cfg.task)
    worker = AttemptWorker(cfg)
    worker.task.variation(cfg.variation)
    if cfg.scenes is not None:
        check_family(cfg.scenes, cfg.variation)
    if cfg.cameras:
        resolve_cameras(worker.world.env.model, cfg.cameras)
        check_image_size(worker.world.env.model, cfg.image_size, cfg.image_size)
    return worker


def run_config(cfg: GenerateConfig) -> dict:
    """``config.json``: the config, the source's hash, the run's identity, and the versions that made the data."""
    source_sha256 = file_sha256(Path(cfg.source))
    return {
        **cfg.model_dump(mode="json"),
        "source_sha256": source_sha256,
        "run_id": run_identity(cfg, source_sha256),
        **{f"{name}_version": version for name, version in versions().items()},
    }


def _same_run(saved: dict, wanted: dict) -> list[str]:
    """The settings that differ; none when the run identities agree (a moved source file is the same run)."""
    if saved.get("run_id") is not None and saved.get("run_id") == wanted.get("run_id"):
        return []
    keys = set(GenerateConfig.model_fields) - {"source", "annotations"} | set(IDENTITY_KEYS)
    keys |= {k for k in wanted if k.endswith("_version")}
    return sorted(k for k in keys if saved.get(k) != wanted.get(k)) or ["run_id"]


def check_same_run(out: Path, config: dict) -> None:
    """A folder being resumed must hold this very run: its ``config.json`` says so, or it has none yet."""
    saved_path = RunFolder(out).config
    try:
        saved = json.loads(saved_path.read_text())
    except FileNotFoundError:
        return
    except (OSError, ValueError):
        raise InputFileError(saved_path, "is not valid JSON; cannot check this folder is the same run") from None
    differ = _same_run(saved, config) if isinstance(saved, dict) else [CONFIG]
    if differ:
        raise DemoforgeError(
            f"{out}: belongs to a different run ({', '.join(differ)} differ); use another --out, or --overwrite"
        )


def has_finished_attempts(work: Path) -> bool:
    """Whether an interrupted run left attempts that ``--resume`` would keep."""
    return any(RunFolder(work).shards.glob("attempt_*.hdf5"))


def generate(
    cfg: GenerateConfig,
    out_dir: str | Path,
    on_attempt: ProgressCallback | None = None,
    workers: int | None = 1,
    resume: bool = False,
    executor: str = "local",
    address: str | None = None,
    overwrite: bool = False,
) -> RunStats:
    """Generate ``cfg.num_demos`` successful demos (or stop at the attempt limit); returns the stats.

    With ``resume``, finished attempts found in ``out_dir`` (each checked to belong to this run)
    are kept and only the rest are run. With ``overwrite``, a previous run in ``out_dir`` is replaced
    only once the new one is complete. ``workers=None`` means every core here (local) or every CPU
    of the cluster (ray).
    """
    worker = validate(cfg)
    env_args = env_args_for(worker.world, cfg.variation)
    config = run_config(cfg)
    inputs = [cfg.source] + ([cfg.annotations] if cfg.annotations else [])
    inputs += [p for p in (cfg.robot,) if Path(p).is_file()]
    folder = OutputFolder(out_dir, "run", "generate", overwrite=overwrite, resume=resume, inputs=inputs,
                          keep=has_finished_attempts, known=RUN_ENTRIES, is_legacy=is_run_folder)
    with folder as out:
        run = RunFolder(out)
        if resume:
            check_same_run(out, config)
            if run.finished:
                if not run.config.exists():
                    raise DemoforgeError(f"{out}: a finished run without config.json cannot be checked; use --overwrite")
                return _finished_stats(run)  # a finished run, checked to be this one
        done = _verified(finished_attempts(run.shards), config["run_id"], run) if resume else {}
        write_json(run.config, config)
        return _run(cfg, run, env_args, config["run_id"], done, on_attempt, workers, executor, address, worker)


def _run(
    cfg: GenerateConfig, run: RunFolder, env_args: dict, run_id: str, done: dict[int, AttemptSummary],
    on_attempt: ProgressCallback | None, workers: int | None, executor: str, address: str | None,
    worker: AttemptWorker | None = None,
) -> RunStats:
    """Run the attempts not ``done`` yet until the stop is known, then merge."""
    shard_dir = run.shards
    shard_dir.mkdir(exist_ok=True)
    for path in shard_dir.iterdir():
        if not path.name.startswith("attempt_") or _shard_index(path) not in done:
            path.unlink()  # another run's leftovers (without --resume) or partial files
    start = time.perf_counter()
    progress = RunProgress()
    for summary in done.values():
        progress.add(summary)
    stop = _stop_index(done, cfg)
    if stop is None and _frontier(done) < cfg.attempt_limit:
        pool = make_executor(cfg, shard_dir, workers, executor, address, worker)
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
                    if summary.run_id != run_id:  # a worker saw other inputs: the source changed during the run
                        raise InputFileError(cfg.source, f"changed while the run was going (attempt {summary.index} "
                                             "was made from other bytes); keep the source unchanged and run again")
                    in_flight -= 1
                    done[summary.index] = summary
                    progress.add(summary)
                    if on_attempt is not None:
                        on_attempt(summary, progress)
                stop = _stop_index(done, cfg)
                if stop is None and _frontier(done) >= cfg.attempt_limit:
                    break
        finally:
            pool.close()
    used = sorted(i for i in done if i <= (stop if stop is not None else cfg.attempt_limit - 1))
    stats = _merge(run, cfg, env_args, [done[i] for i in used], time.perf_counter() - start)
    shutil.rmtree(shard_dir, ignore_errors=True)
    return stats


def _finished_stats(run: RunFolder) -> RunStats:
    try:
        return run.read_stats()
    except InputFileError as exc:
        raise InputFileError(exc.path, f"{exc.problem}; this finished run cannot be resumed (use --overwrite)",
                             field=exc.field) from None


def _shard_index(path: Path) -> int | None:
    stem = path.name.removeprefix("attempt_").removesuffix(".hdf5")
    return int(stem) if stem.isdigit() else None


def _verified(found: dict[int, dict], run_id: str, run: RunFolder) -> dict[int, AttemptSummary]:
    """The finished attempts of this run; attempts made by another run (or unverifiable ones) are refused."""
    done = {}
    for index, summary in sorted(found.items()):
        made_by = summary.get("run_id", "")
        if made_by != run_id:
            what = f"by run {made_by}" if made_by else "by a demoforge that did not record its run"
            raise DemoforgeError(
                f"{run.shards}: attempt {index} was made {what}, not this one ({run_id}: other settings, "
                "source or library versions); resume only with the options of the interrupted run, or --overwrite"
            )
        try:
            done[index] = AttemptSummary.from_dict(summary)
        except ValueError as exc:
            raise InputFileError(shard_path(run.shards, index), f"has a damaged summary ({exc})") from None
    return done


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


def _check_space_to_merge(out: Path, shards: list[Path]) -> None:
    """The merge copies every kept shard once more: refuse up front if that cannot fit (shards stay for --resume)."""
    needed = sum(path.stat().st_size for path in shards)
    free = shutil.disk_usage(out).free
    if needed > free:
        raise OutputError(
            out, f"the disk is full: the merge needs {needed / 1e6:.0f} MB and {free / 1e6:.0f} MB are free; "
            "the finished attempts are kept: free some space and run the same command with --resume",
            disk_full=True,
        )


def _merge(run: RunFolder, cfg: GenerateConfig, env_args: dict, used: list[AttemptSummary], wall: float) -> RunStats:
    """Copy the used attempts' demos, in attempt order, into the final files; then write the stats."""
    _check_space_to_merge(run.path, [shard_path(run.shards, s.index) for s in used])
    with DatasetWriter(run.failed, env_args) as failed, DatasetWriter(run.demos, env_args) as kept:
        for summary in used:
            path = shard_path(run.shards, summary.index)
            with h5py.File(path, "r") as shard:
                if DEMO_KEY in shard:
                    (kept if summary.success else failed).add_copy(shard[DEMO_KEY], path.stat().st_size)
    if not cfg.keep_failed:
        run.failed.unlink(missing_ok=True)
    stats = RunStats.of_attempts(used, wall, cfg.num_demos, cfg.task, cfg.variation, cfg.scenes)
    run.write_stats(stats)
    return stats

"""Parallel generation and resume: the dataset never depends on workers, interruptions or crashes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

import demoforge as df
from demoforge.runner.run_folder import RunStats
from test_cli import assert_user_error, run

NUM_DEMOS = 10


def _config(sources: Path) -> df.GenerateConfig:
    # Strong noise at D2: about half the attempts fail, so the order of kept and failed attempts is tested too.
    return df.GenerateConfig(
        task="stack", source=str(sources), num_demos=NUM_DEMOS, variation="D2", seed=5, action_noise=0.3
    )


def _cli_args(sources: Path, out: Path) -> list[str]:
    return ["generate", "--task", "stack", "--source", str(sources), "--num-demos", str(NUM_DEMOS),
            "--variation", "D2", "--seed", "5", "--noise", "0.3", "--out", str(out)]


def assert_same_dataset(a: Path, b: Path) -> None:
    """Every array and attribute of every demo equal, bit for bit."""
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        assert sorted(fa["data"]) == sorted(fb["data"])
        assert fa["data"].attrs["total"] == fb["data"].attrs["total"]

        def arrays(group: h5py.Group) -> dict[str, np.ndarray]:
            out: dict[str, np.ndarray] = {}
            group.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
            return out

        for name in fa["data"]:
            ga, gb = fa["data"][name], fb["data"][name]
            assert dict(ga.attrs) == dict(gb.attrs), name
            xa, xb = arrays(ga), arrays(gb)
            assert xa.keys() == xb.keys(), name
            for key in xa:
                assert np.array_equal(xa[key], xb[key]), (name, key)


def _comparable(stats: RunStats | dict) -> dict:
    """Everything but the timings (a dict: as read from a stats.json)."""
    return RunStats.model_validate(stats).model_dump(exclude={"wall_time_s", "attempts_per_s"})


@pytest.fixture(scope="module")
def reference(stack_sources: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunStats]:
    out = tmp_path_factory.mktemp("reference")
    stats = df.generate(_config(stack_sources), out, workers=1)
    assert stats.successes == NUM_DEMOS and stats.attempts > NUM_DEMOS, stats  # some failures to order too
    return out, stats


def test_same_dataset_with_one_and_two_workers(reference: tuple[Path, dict], stack_sources: Path, tmp_path: Path) -> None:
    ref, ref_stats = reference
    stats = df.generate(_config(stack_sources), tmp_path, workers=2)
    assert _comparable(stats) == _comparable(ref_stats)
    assert_same_dataset(ref / "demos.hdf5", tmp_path / "demos.hdf5")
    assert_same_dataset(ref / "failed.hdf5", tmp_path / "failed.hdf5")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".demoforge.json", ".demoforge.lock", "config.json", "demos.hdf5", "failed.hdf5", "stats.json"]


def _children(pid: int) -> list[int]:
    kids = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids += [int(k) for k in (task / "children").read_text().split()]
    return kids


def _wait_for_shards(out: Path, count: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while len(list(out.glob(".shards/attempt_*.hdf5"))) < count:
        assert proc.poll() is None, "the run ended before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_sigkill_then_resume_gives_the_uninterrupted_dataset(
    reference: tuple[Path, dict], stack_sources: Path, tmp_path: Path
) -> None:
    ref, ref_stats = reference
    out = tmp_path / "run"
    env = {**os.environ, "MUJOCO_GL": "egl"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "demoforge.cli", *_cli_args(stack_sources, out), "--workers", "2"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    _wait_for_shards(out, 4, proc)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole process group, workers included, mid-run
    proc.wait()
    assert not (out / "demos.hdf5").exists()
    finished = len(list(out.glob(".shards/attempt_*.hdf5")))
    assert 4 <= finished < ref_stats.attempts

    result = run(*_cli_args(stack_sources, out), "--workers", "2")  # without --resume: refused
    assert_user_error(result, "not empty", "--resume")
    result = run(*_cli_args(stack_sources, out), "--resume", "--workers", "1")
    assert result.returncode == 0, result.stderr
    assert_same_dataset(ref / "demos.hdf5", out / "demos.hdf5")
    assert_same_dataset(ref / "failed.hdf5", out / "failed.hdf5")
    stats = json.loads((out / "stats.json").read_text())
    assert _comparable(stats) == _comparable(ref_stats)
    assert not (out / ".shards").exists()


def test_a_killed_worker_costs_nothing(reference: tuple[Path, dict], stack_sources: Path, tmp_path: Path) -> None:
    ref, ref_stats = reference
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "demoforge.cli", *_cli_args(stack_sources, out), "--workers", "2"],
        env={**os.environ, "MUJOCO_GL": "egl"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    _wait_for_shards(out, 2, proc)
    workers = _children(proc.pid)
    assert workers, "no worker processes found"
    os.kill(workers[0], signal.SIGKILL)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    stats = json.loads((out / "stats.json").read_text())
    assert stats["crashed"] == 0  # the lost attempt ran again on a fresh worker
    assert _comparable(stats) == _comparable(ref_stats)
    assert_same_dataset(ref / "demos.hdf5", out / "demos.hdf5")


def test_resume_checks_the_folder_belongs_to_this_run(reference: tuple[Path, dict], stack_sources: Path, tmp_path: Path) -> None:
    ref, ref_stats = reference
    out = tmp_path / "run"
    out.mkdir()
    for name in ("config.json", "stats.json", "demos.hdf5", "failed.hdf5"):
        (out / name).write_bytes((ref / name).read_bytes())
    args = _cli_args(stack_sources, out)
    other = [a if a != "5" else "6" for a in args]  # another seed
    assert_user_error(run(*other, "--resume"), str(out), "different run", "seed")
    result = run(*args, "--resume")  # finished already: nothing to do, same result
    assert result.returncode == 0, result.stderr
    assert_same_dataset(ref / "demos.hdf5", out / "demos.hdf5")
    assert_user_error(run(*args, "--resume", "--overwrite"), "contradict")


def _ray_actor_pids() -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if b"RayAttemptActor" in (proc / "cmdline").read_bytes():
                    pids.append(int(proc.name))
            except OSError:
                pass
    return pids


def test_ray_executor_on_a_local_cluster_survives_a_killed_actor(
    reference: tuple[Path, dict], stack_sources: Path, tmp_path: Path
) -> None:
    ref, ref_stats = reference
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "demoforge.cli", *_cli_args(stack_sources, out), "--executor", "ray", "--workers", "2"],
        env={**os.environ, "MUJOCO_GL": "egl", "RAY_AUTH_MODE": "disabled"}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )
    _wait_for_shards(out, 2, proc, timeout=180)
    actors = _ray_actor_pids()
    assert actors, "no Ray actor processes found"
    os.kill(actors[0], signal.SIGKILL)  # Ray restarts the actor and retries its attempt
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    stats = json.loads((out / "stats.json").read_text())
    assert stats["crashed"] == 0
    assert _comparable(stats) == _comparable(ref_stats)
    assert_same_dataset(ref / "demos.hdf5", out / "demos.hdf5")

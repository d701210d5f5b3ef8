"""Processes as a careless user treats them: killed parents, absurd worker counts, huge images, damaged runs.

Real processes and real signals throughout; a worker of a killed parent is looked up in /proc.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest

from demoforge.runner.pool import GENERATE_WORKER_BYTES, MB, RENDER_WORKER_BYTES, available_memory, plan_workers
from test_cli import assert_user_error, run

pytestmark = pytest.mark.abuse  # files, processes, signals: the same on every MuJoCo (not in test-oldest)

GB = 10**9
CLI = [sys.executable, "-m", "demoforge.cli"]


# ---- helpers --------------------------------------------------------------------------------------
def children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (from /proc: no psutil needed)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def running(pid: int) -> bool:
    """The process exists and is not a zombie (a zombie has exited and only waits to be reaped)."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def kill_parent_then_check_workers(
    args: list[str], ready: Callable[[int], bool], sig: int, tmp_path: Path, within: float = 5.0
) -> str:
    """Start ``demoforge ARGS``, send ``sig`` once ``ready(pid)``, check its workers end ``within`` s; return stderr."""
    err = tmp_path / "stderr.txt"
    with open(err, "w") as stderr:
        proc = subprocess.Popen([*CLI, *args], stdout=subprocess.DEVNULL, stderr=stderr,
                                env={**os.environ, "MUJOCO_GL": "egl"})
    workers: list[int] = []
    try:
        assert wait_for(lambda: proc.poll() is None and ready(proc.pid), 120), err.read_text()
        workers = children(proc.pid)
        proc.send_signal(sig)
        proc.wait(timeout=30)
        assert wait_for(lambda: not any(running(w) for w in workers), within), [w for w in workers if running(w)]
    finally:
        for pid in [proc.pid, *workers]:  # only this test's own processes, by id
            if running(pid):
                os.kill(pid, signal.SIGKILL)
        proc.wait()
    time.sleep(0.3)  # last words of any dying process reach the file
    return err.read_text()


# ---- workers of a killed parent -------------------------------------------------------------------
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "sigterm"])
def test_workers_of_a_killed_generate_exit_quietly(stack_sources: Path, tmp_path: Path, sig: int) -> None:
    out = tmp_path / "run"
    args = ["generate", "--task", "stack", "--source", str(stack_sources), "--num-demos", "40", "--out", str(out),
            "--workers", "2"]
    stderr = kill_parent_then_check_workers(args, lambda pid: any((out / ".shards").glob("attempt_*.hdf5")),
                                            sig, tmp_path)
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr


def test_workers_of_a_killed_render_exit_quietly(stack_sources: Path, tmp_path: Path) -> None:
    """``ordered_map`` workers (render, video, eval): no orphans, and no leaked-semaphore warning either.

    Killed as soon as the workers exist: one still importing demoforge when its parent dies leaves when it
    reaches its own code, which on a loaded machine can take several seconds (hence the longer wait).
    """
    args = ["render", str(stack_sources), "--cameras", "agentview,wrist", "--out", str(tmp_path / "obs.hdf5"),
            "--workers", "2"]
    stderr = kill_parent_then_check_workers(args, lambda pid: len(children(pid)) >= 3, signal.SIGKILL, tmp_path,
                                            within=30)
    for needle in ("Traceback", "BrokenPipe", "leaked", "Warning"):
        assert needle not in stderr, stderr


# ---- how many workers -----------------------------------------------------------------------------
def test_workers_are_capped_by_jobs_memory_and_cpus() -> None:
    assert plan_workers(4, 100, GENERATE_WORKER_BYTES, available_bytes=64 * GB, cpus=8) == (4, None)
    workers, why = plan_workers(1000, 40, GENERATE_WORKER_BYTES, available_bytes=64 * GB, cpus=2, noun="attempts")
    assert workers == 4 and why == "--workers 1000 reduced to 4: 2 CPUs (at most 2 workers per CPU)"
    workers, why = plan_workers(1000, 3, GENERATE_WORKER_BYTES, available_bytes=64 * GB, cpus=64, noun="attempts")
    assert workers == 3 and why == "--workers 1000 reduced to 3: only 3 attempts to run"
    # 3.1 GB free, 80% usable, 320 MiB per rendering worker: 7 fit
    workers, why = plan_workers(1000, 500, RENDER_WORKER_BYTES, available_bytes=int(3.1 * GB), cpus=64, noun="demos")
    assert workers == 7 and why == "--workers 1000 reduced to 7: 3.1 GB of memory free holds 7 workers of ~336 MB"
    # the default (one per CPU) is reduced quietly to the jobs, but memory is worth a word
    assert plan_workers(None, 2, available_bytes=64 * GB, cpus=16) == (2, None)
    workers, why = plan_workers(None, 100, 1000 * MB, available_bytes=2 * GB, cpus=16)
    assert workers == 1 and why is not None and why.startswith("1 workers instead of one per CPU (16): 2.0 GB")
    assert plan_workers(8, 0, available_bytes=100 * MB, cpus=1)[0] == 1  # never fewer than one


def test_memory_is_read_from_this_machine() -> None:
    """Without a figure given, the cap uses /proc/meminfo: this machine holds at least one worker."""
    workers, _ = plan_workers(1, 10)
    assert workers == 1
    huge = 10**6 * GB  # no machine has a petabyte free
    workers, why = plan_workers(8, 10, per_worker_bytes=huge, cpus=8)
    assert workers == 1 and why is not None and "memory free" in why


def test_free_memory_counts_the_cgroup_limit(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       24684096 kB\nMemAvailable:    3000000 kB\n")
    cgroup = tmp_path / "cgroup"
    cgroup.mkdir()
    assert available_memory(meminfo, cgroup) == 3000000 * 1024  # no cgroup files: MemAvailable alone
    (cgroup / "memory.max").write_text("max\n")
    (cgroup / "memory.current").write_text("1073741824\n")
    assert available_memory(meminfo, cgroup) == 3000000 * 1024  # no limit set
    (cgroup / "memory.max").write_text("2147483648\n")
    (cgroup / "memory.stat").write_text("anon 900000000\ninactive_file 104857600\n")
    assert available_memory(meminfo, cgroup) == 2147483648 - 1073741824 + 104857600  # the tighter limit


# ---- a size no framebuffer holds ------------------------------------------------------------------
def test_replay_video_too_large_names_the_size_and_the_limit(stack_sources: Path, tmp_path: Path) -> None:
    video = tmp_path / "big.mp4"
    result = run("replay", str(stack_sources), "--video", str(video), "--size", "100000x100000")
    assert_user_error(result, "100000x100000", "too large", "at most 640x480")
    assert "MUJOCO_GL" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not video.exists()


def test_no_gl_context_still_suggests_mujoco_gl(stack_sources: Path, tmp_path: Path) -> None:
    """GLFW without a display cannot make a context: there the MUJOCO_GL hint is the right one."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    result = subprocess.run(
        [*CLI, "replay", str(stack_sources), "--video", str(tmp_path / "v.mp4"), "--size", "160x120"],
        capture_output=True, text=True, env={**env, "MUJOCO_GL": "glfw", "COLUMNS": "200"}, timeout=300,
    )
    assert_user_error(result, "cannot create an OpenGL context", "MUJOCO_GL is 'glfw'", "MUJOCO_GL=egl")


# ---- report on damaged runs -----------------------------------------------------------------------
def fake_run(sources: Path, folder: Path, stats: dict) -> Path:
    """A run folder around real demos (the source demos stand in for generated ones)."""
    folder.mkdir()
    shutil.copy(sources, folder / "demos.hdf5")
    (folder / "config.json").write_text(json.dumps({"task": "stack", "variation": "D0", "num_demos": 6,
                                                    "source": str(sources), "seed": 0}))
    (folder / "stats.json").write_text(json.dumps(stats))
    return folder


def drop_model(path: Path) -> None:
    with h5py.File(path, "r+") as f:
        del f["data/demo_0"].attrs["model_file"]


def bad_states(path: Path) -> None:
    with h5py.File(path, "r+") as f:
        del f["data/demo_0/states"]
        f["data/demo_0/states"] = np.zeros((4, 3))


@pytest.mark.parametrize(("damage", "needles"), [
    (drop_model, ["demos.hdf5: demo demo_0", "no model_file"]),
    (bad_states, ["demos.hdf5: demo demo_0 [states]"]),
], ids=["no-model", "bad-states"])
def test_report_errors_name_the_file(stack_sources: Path, tmp_path: Path, damage: Callable, needles: list) -> None:
    folder = fake_run(stack_sources, tmp_path / "run", {"attempts": 6, "successes": 6, "failures": {}})
    damage(folder / "demos.hdf5")
    result = run("report", str(folder), "--videos", "0")
    assert_user_error(result, str(folder), *needles)
    assert "?" not in result.stderr
    assert not (folder / "report.html").exists()


def test_report_names_damaged_stats_and_unfinished_runs(stack_sources: Path, tmp_path: Path) -> None:
    folder = fake_run(stack_sources, tmp_path / "run", {"attempts": "many", "successes": 6})
    assert_user_error(run("report", str(folder)), "stats.json [attempts]: expected a number")
    unfinished = tmp_path / "unfinished"
    (unfinished / ".shards").mkdir(parents=True)
    (unfinished / ".shards" / "attempt_00000000.hdf5").write_bytes(b"")
    (unfinished / "config.json").write_text("{}")
    assert_user_error(run("report", str(unfinished)), "has not finished", "--resume")


def test_report_counts_the_dataset_not_the_stats(stack_sources: Path, tmp_path: Path) -> None:
    with h5py.File(stack_sources) as f:
        held = len(f["data"])
    folder = fake_run(stack_sources, tmp_path / "run", {"attempts": 12, "successes": 10, "failures": {}})
    result = run("report", str(folder), "--videos", "0")
    assert result.returncode == 0, result.stderr
    page = (folder / "report.html").read_text()
    assert f'demos kept</div><div class="v">{held}<' in page
    assert f"says 10 successes but {folder / 'demos.hdf5'} holds {held} demos" in page

"""Worker processes: how many to start, how they die with their parent, and an ordered parallel map.

Workers are started with ``spawn`` so each owns a fresh MuJoCo and GL context (forking a process that
holds a GL context is undefined behaviour).

How many: never more than there are jobs, than fit in the memory that is free, or than a small
multiple of the CPUs (``plan_workers``). The per-worker figures below are peak resident set sizes
(VmHWM and VmRSS of every child, sampled every 0.1 s from ``/proc/<pid>/status``) on Linux x86-64,
2 cores, Python 3.11, MuJoCo 4.0, Mesa EGL, stack task. 60-120 MB of each is shared libraries, counted
in every worker though loaded once, so the constants below overestimate, on purpose:

    generate, no cameras                       124 MB  (62 MB private)
    generate, 2 cameras at 128 px              251 MB
    render, 2 cameras at 84 px                 234 MB
    render, 2 cameras at 256 px + depth        588 MB  (170-step demos)
    video, 240x180 tiles                       310 MB
    eval: torch + renderer + low-dim policy    385 MB

How they end: a worker asks the kernel for SIGKILL when its parent dies (``die_with_parent``), so a
``kill -9`` or SIGTERM of the main process leaves no orphan running on and no traceback on stderr.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sized
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

MB = 1 << 20
GENERATE_WORKER_BYTES = 160 * MB  # a generation worker without cameras (measured 124 MB)
RENDER_WORKER_BYTES = 320 * MB  # any worker with an offscreen GL context, before its frames (measured 234-310 MB)
EVAL_WORKER_BYTES = 512 * MB  # torch, a renderer and a policy (measured 385 MB with a low-dim policy)
FRAMES_HELD = 2 * 300  # a worker holds a 300-step (15 s) demo's frames twice: its arrays and the pickled result
MEMORY_SHARE = 0.8  # of the free memory: the rest stays for the page cache, the parent, and other users
WORKERS_PER_CPU = 2  # beyond this, more processes only add memory and context switches

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def default_workers() -> int:
    """All cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def render_worker_bytes(frame_bytes: int = 0) -> int:
    """Peak memory of a worker that renders ``frame_bytes`` per step (all cameras and channels of one step)."""
    return RENDER_WORKER_BYTES + FRAMES_HELD * frame_bytes


def available_memory(meminfo: Path = Path("/proc/meminfo"), cgroup: Path = Path("/sys/fs/cgroup")) -> int | None:
    """Bytes that can be used without swapping: MemAvailable, less if a cgroup limit is tighter; None if unknown."""
    try:
        text = meminfo.read_text()
    except OSError:
        return None
    free = next((int(line.split()[1]) * 1024 for line in text.splitlines() if line.startswith("MemAvailable:")), None)
    limited = cgroup_free_memory(cgroup)
    if free is None or limited is None:
        return free if limited is None else limited
    return min(free, limited)


def cgroup_free_memory(root: Path = Path("/sys/fs/cgroup")) -> int | None:
    """Room left under this process's cgroup memory limit (v2 or v1), counting reclaimable file cache as free."""
    for limit_name, usage_name, cache_key in (
        ("memory.max", "memory.current", "inactive_file"),
        ("memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes", "total_inactive_file"),
    ):
        try:
            limit_text = (root / limit_name).read_text().strip()
            usage = int((root / usage_name).read_text())
        except (OSError, ValueError):
            continue
        if limit_text == "max" or int(limit_text) >= 1 << 60:  # no limit
            return None
        cache = _stat_value((root / limit_name).with_name("memory.stat"), cache_key)
        return max(0, int(limit_text) - usage + cache)
    return None


def _stat_value(path: Path, key: str) -> int:
    """One ``key value`` line of a cgroup ``memory.stat`` file (0 if absent or unreadable)."""
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0


def plan_workers(
    requested: int | None,
    jobs: int,
    per_worker_bytes: int = GENERATE_WORKER_BYTES,
    available_bytes: int | None = None,
    cpus: int | None = None,
    noun: str = "jobs",
) -> tuple[int, str | None]:
    """How many workers to start, and a one-line reason when that is fewer than asked for.

    ``requested=None`` means one per CPU. The number is capped by the ``jobs`` to run, by the workers
    of ``per_worker_bytes`` that fit in ``MEMORY_SHARE`` of ``available_bytes`` (read from /proc and
    the cgroup unless given; no cap if unknown) and, for an explicit request, by ``WORKERS_PER_CPU``
    times ``cpus`` (default: the CPUs this process may use). It is at least 1.
    Capping by jobs alone is said only for an explicit request (the default never needs excusing).
    """
    cpus = cpus or default_workers()
    if available_bytes is None:
        available_bytes = available_memory()
    wanted = requested if requested is not None else cpus
    limits: list[tuple[int, str]] = [(max(1, jobs), f"only {max(jobs, 0):,} {noun} to run")]
    if available_bytes is not None:
        fit = max(1, int(available_bytes * MEMORY_SHARE) // max(per_worker_bytes, 1))
        limits.append((fit, f"{available_bytes / 1e9:.1f} GB of memory free holds {fit:,} workers "
                            f"of ~{per_worker_bytes / 1e6:,.0f} MB"))
    if requested is not None:
        limits.append((WORKERS_PER_CPU * cpus, f"{cpus} CPU{'s' if cpus != 1 else ''} "
                                               f"(at most {WORKERS_PER_CPU} workers per CPU)"))
    workers = max(1, min([wanted, *(n for n, _ in limits)]))
    if workers >= wanted:
        return wanted, None
    binding = [why for n, why in limits if n == workers and (requested is not None or not why.startswith("only"))]
    if not binding:
        return workers, None
    if requested is None:
        return workers, f"{workers} workers instead of one per CPU ({cpus}): " + "; ".join(binding)
    return workers, f"--workers {requested} reduced to {workers}: " + "; ".join(binding)


def die_with_parent(parent_pid: int) -> None:
    """Make this worker process end with its parent, quietly: a ``kill -9`` of the parent leaves no orphan.

    Linux sends SIGKILL when the parent dies (``PR_SET_PDEATHSIG``; strictly, when the parent's thread
    that started the worker ends: executors start and stop their workers from one thread). If the
    parent died while this worker was still importing, it leaves now. Elsewhere the closed pipe tells.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError, TypeError):  # not Linux (no prctl): the pipe's end is the signal
        pass
    if os.getppid() != parent_pid:
        os._exit(0)


def _pool_worker_init(parent_pid: int) -> None:
    """Initializer of ``ordered_map`` workers: die with the parent, and let Ctrl-C end them without a traceback."""
    die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # the parent reports the interruption, once
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _quiet_resource_tracker() -> None:
    """Start multiprocessing's resource tracker with its leak warning off.

    After a ``kill -9`` of this process the tracker rightly removes the pool's semaphores, but it would
    also print a warning about them on the user's terminal; the cleanup is what matters.
    """
    if os.name != "posix":
        return
    from multiprocessing import resource_tracker

    flag = "ignore::UserWarning:multiprocessing.resource_tracker"  # passed on as -W to the tracker process
    sys.warnoptions.append(flag)
    try:
        resource_tracker.ensure_running()
    finally:
        sys.warnoptions.remove(flag)


def ordered_map(
    fn: Callable[[T], R], items: Iterable[T], workers: int, ahead: int = 2,
    per_worker_bytes: int = RENDER_WORKER_BYTES,
) -> Iterator[R]:
    """``map(fn, items)`` on ``workers`` processes, yielding results in input order.

    At most ``ahead * workers`` results wait in memory; ``workers <= 1`` runs in this process.
    ``workers`` is capped silently by ``plan_workers`` (callers that want to say so call it first).
    ``fn`` must be a module-level function (it is pickled by name).
    """
    jobs = len(items) if isinstance(items, Sized) else workers
    workers, _ = plan_workers(workers, jobs, per_worker_bytes)
    if workers <= 1:
        yield from map(fn, items)
        return
    _quiet_resource_tracker()
    pool = ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context("spawn"), initializer=_pool_worker_init,
        initargs=(os.getpid(),),
    )
    pending: deque[Future[R]] = deque()
    complete = False
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= ahead * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
        complete = True
    finally:
        if not complete:  # an error, Ctrl-C, SIGTERM or a caller that stopped early: do not wait for the rest
            _kill_workers(pool)
        pool.shutdown(wait=True, cancel_futures=True)


def _kill_workers(pool: ProcessPoolExecutor) -> None:
    """End a pool's workers now, not after their tasks in flight (Python 3.14 has ``kill_workers``)."""
    kill = getattr(pool, "kill_workers", None)
    if kill is not None:
        kill()
        return
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        proc.kill()

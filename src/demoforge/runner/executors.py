"""Where attempts run: in this process, in local worker processes, or on a Ray cluster.

Every executor takes attempt indices and hands back ``AttemptSummary`` objects as attempts finish
(in any order); the shard of each finished attempt is on disk before its summary is returned.
A worker that dies costs only its attempt in flight, which comes back as a crashed summary.
A parent that dies (``kill -9``, SIGTERM) takes its workers with it, quietly (``pool.die_with_parent``).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections import deque
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Protocol

from demoforge.errors import DemoforgeError, OutputError
from demoforge.outputs import is_disk_full
from demoforge.mimic.generate import GenerateConfig
from demoforge.runner.attempts import AttemptWorker
from demoforge.runner.run_folder import AttemptSummary
from demoforge.runner.identity import run_identity
from demoforge.runner.pool import GENERATE_WORKER_BYTES, die_with_parent, plan_workers, render_worker_bytes
from demoforge.runner.shards import shard_path, write_shard
from demoforge.sim.render import frame_bytes


class Executor(Protocol):
    slots: int  # attempts that can run at once

    def submit(self, index: int) -> None: ...

    def results(self) -> list[AttemptSummary]:
        """Block until at least one submitted attempt finished; return all that did."""
        ...

    def close(self) -> None: ...


def crashed(index: int, why: str, shard_dir: Path, run_id: str) -> AttemptSummary:
    summary = AttemptSummary(index, False, f"worker crashed ({why})", crashed=True, run_id=run_id)
    write_shard(shard_path(shard_dir, index), summary.to_dict(), None)
    return summary


class InlineExecutor:
    """Attempts one by one in this process (``--workers 1``): simplest to debug and profile."""

    slots = 1

    def __init__(self, cfg: GenerateConfig, shard_dir: Path, worker: AttemptWorker | None = None) -> None:
        self.worker = worker if worker is not None else AttemptWorker(cfg)
        self.shard_dir = shard_dir
        self.queue: deque[int] = deque()

    def submit(self, index: int) -> None:
        self.queue.append(index)

    def results(self) -> list[AttemptSummary]:
        index = self.queue.popleft()
        return [self.worker.run_to_shard(index, shard_path(self.shard_dir, index))]

    def close(self) -> None:
        self.queue.clear()


def _send(conn: Connection, message: object) -> bool:
    """Send to the parent; False when it is gone (the worker then leaves without a traceback)."""
    try:
        conn.send(message)
    except (BrokenPipeError, EOFError, OSError):
        return False
    return True


def _worker_main(conn: Connection, cfg_json: str, shard_dir: str, parent_pid: int) -> None:
    """A worker process: build once, then run the attempt indices it is sent until the pipe closes."""
    die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    try:
        worker = AttemptWorker(GenerateConfig.model_validate_json(cfg_json))
    except Exception as exc:  # a setup problem: report it instead of dying silently
        _send(conn, ("error", f"{type(exc).__name__}: {exc}"))
        return
    if not _send(conn, ("ready", None)):
        return
    while True:
        try:
            index = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if index is None:
            return
        try:
            summary = worker.run_to_shard(index, shard_path(Path(shard_dir), index))
        except DemoforgeError as exc:  # the parent raises it as it is (a full disk keeps its exit code)
            _send(conn, ("raise", exc))
            return
        except Exception as exc:
            if is_disk_full(exc):
                _send(conn, ("raise", OutputError(shard_dir, "the disk is full", disk_full=True)))
            else:
                _send(conn, ("error", f"attempt {index}: {type(exc).__name__}: {exc}"))
            return
        if not _send(conn, ("done", summary.to_dict())):
            return


class ProcessExecutor:
    """One spawned process per worker, each owning its MuJoCo model; a dead worker is replaced."""

    def __init__(self, cfg: GenerateConfig, shard_dir: Path, workers: int) -> None:
        self.run_id = run_identity(cfg)  # stamped on attempts lost to crashes, as workers stamp theirs
        self.cfg_json = cfg.model_dump_json()
        self.shard_dir = shard_dir
        self.slots = workers
        self.ctx = multiprocessing.get_context("spawn")
        self.procs: list[tuple[multiprocessing.process.BaseProcess, Connection]] = []
        self.busy: dict[int, int] = {}  # worker slot -> attempt index
        self.waiting: deque[int] = deque()
        self.retried: set[int] = set()
        for _ in range(workers):
            self.procs.append(self._spawn())

    def _spawn(self) -> tuple[multiprocessing.process.BaseProcess, Connection]:
        parent, child = self.ctx.Pipe()
        proc = self.ctx.Process(
            target=_worker_main, args=(child, self.cfg_json, str(self.shard_dir), os.getpid()), daemon=True
        )
        proc.start()
        child.close()
        return proc, parent

    def submit(self, index: int) -> None:
        self.waiting.append(index)
        self._dispatch()

    def _dispatch(self) -> None:
        for slot in range(len(self.procs)):
            if not self.waiting:
                return
            if slot not in self.busy:
                index = self.waiting.popleft()
                self.busy[slot] = index
                self.procs[slot][1].send(index)

    def results(self) -> list[AttemptSummary]:
        out: list[AttemptSummary] = []
        while not out:
            conns = {conn: slot for slot, (_, conn) in enumerate(self.procs)}
            sentinels = {proc.sentinel: slot for slot, (proc, _) in enumerate(self.procs)}
            for ready in wait([*conns, *sentinels]):
                slot = conns.get(ready) if ready in conns else sentinels[ready]
                proc, conn = self.procs[slot]
                message = None
                if conn.poll():
                    try:
                        message = conn.recv()
                    except (EOFError, OSError):
                        message = None
                if message is not None:
                    kind, payload = message
                    if kind == "raise":
                        raise payload
                    if kind == "error":
                        raise DemoforgeError(f"a generation worker failed: {payload}")
                    if kind == "done":
                        del self.busy[slot]
                        out.append(AttemptSummary.from_dict(payload))
                    continue
                if not proc.is_alive():
                    out.extend(self._replace(slot, proc.exitcode))
            self._dispatch()
        return out

    def _replace(self, slot: int, exitcode: int | None) -> list[AttemptSummary]:
        """Restart a dead worker; its attempt runs once more, then counts as crashed."""
        why = f"signal {-exitcode}" if exitcode is not None and exitcode < 0 else f"exit code {exitcode}"
        self.procs[slot][1].close()
        self.procs[slot] = self._spawn()
        index = self.busy.pop(slot, None)
        if index is None:
            return []
        if index in self.retried:
            return [crashed(index, why, self.shard_dir, self.run_id)]
        self.retried.add(index)
        self.waiting.appendleft(index)
        return []

    def close(self) -> None:
        for proc, conn in self.procs:
            try:
                conn.send(None)
            except (OSError, BrokenPipeError):
                pass
        for proc, conn in self.procs:
            proc.join(timeout=2)
            if proc.is_alive():
                proc.kill()
                proc.join()
            conn.close()
        self.procs = []


def generation_worker_bytes(cfg: GenerateConfig) -> int:
    """Peak memory of one generation worker for ``cfg`` (more with cameras: a GL context and the frames)."""
    if not cfg.cameras:
        return GENERATE_WORKER_BYTES
    return render_worker_bytes(frame_bytes(len(cfg.cameras), cfg.image_size, cfg.depth, cfg.segmentation))


def make_executor(
    cfg: GenerateConfig, shard_dir: Path, workers: int | None, executor: str, address: str | None,
    worker: AttemptWorker | None = None,
) -> Executor:
    """The executor for ``executor`` and ``workers``; in-process it runs on ``worker`` when given (built by
    ``validate``), so the sources are not read twice."""
    if executor == "ray":
        from demoforge.runner.ray_executor import RayExecutor

        return RayExecutor(cfg, shard_dir, workers, address)
    if executor != "local":
        raise DemoforgeError(f"unknown executor {executor!r}; expected local or ray")
    workers, _ = plan_workers(workers, cfg.attempt_limit, generation_worker_bytes(cfg))  # callers say why
    if workers <= 1:
        return InlineExecutor(cfg, shard_dir, worker)
    return ProcessExecutor(cfg, shard_dir, workers)


"""Run attempts on a Ray cluster: one actor per simulator, shards sent back to the driver.

Actors receive the source demos through Ray's object store and return each attempt's shard as
bytes, so nodes need no shared filesystem. Ray restarts an actor that dies and retries its attempt
once; an attempt that fails again counts as crashed. Ray is an optional extra (``demoforge[ray]``).
"""

from __future__ import annotations

import os
import tempfile
from collections import deque
from pathlib import Path

from demoforge.errors import DemoforgeError
from demoforge.mimic.generate import GenerateConfig
from demoforge.runner.attempts import AttemptWorker
from demoforge.runner.run_folder import AttemptSummary
from demoforge.runner.executors import crashed
from demoforge.runner.identity import run_identity
from demoforge.runner.shards import shard_path, write_shard_bytes


class RayAttemptActor:
    """Holds one ``AttemptWorker``, built on first use (also after Ray restarted the actor)."""

    def __init__(self, cfg_json: str) -> None:
        self.cfg_json = cfg_json
        self.scratch = Path(tempfile.mkdtemp(prefix="demoforge_ray_"))
        self.worker: AttemptWorker | None = None

    def run(self, index: int, source: list) -> tuple[dict, bytes]:
        """Attempt ``index``; ``source`` is ``[ObjectRef]`` of the source file's bytes (fetched once)."""
        if self.worker is None:
            import ray

            path = self.scratch / "source.hdf5"
            path.write_bytes(ray.get(source[0]))
            cfg = GenerateConfig.model_validate_json(self.cfg_json).model_copy(update={"source": str(path)})
            self.worker = AttemptWorker(cfg)
        shard = self.scratch / f"attempt_{index}.hdf5"
        summary = self.worker.run_to_shard(index, shard)
        data = shard.read_bytes()
        shard.unlink()
        return summary.to_dict(), data


class RayExecutor:
    """``Executor`` on Ray: ``workers`` actors (default: every CPU of the cluster)."""

    def __init__(self, cfg: GenerateConfig, shard_dir: Path, workers: int | None, address: str | None) -> None:
        try:
            import ray
        except ImportError:
            raise DemoforgeError("--executor ray needs the optional extra: pip install 'demoforge[ray]'") from None
        self.ray = ray
        self.started = not ray.is_initialized()
        if self.started:
            env = {"env_vars": {"MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}}
            try:
                if address:
                    ray.init(address=address, runtime_env=env, log_to_driver=False)
                else:
                    ray.init(num_cpus=workers, include_dashboard=False, runtime_env=env, log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise DemoforgeError(f"cannot connect to Ray at {address or 'a new local instance'}: {exc}") from None
        self.slots = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        actor = ray.remote(num_cpus=1, max_restarts=-1, max_task_retries=1)(RayAttemptActor)
        self.source = [ray.put(Path(cfg.source).read_bytes())]  # nested, so actors fetch it only once
        self.actors = [actor.remote(cfg.model_dump_json()) for _ in range(self.slots)]
        self.shard_dir = shard_dir
        self.run_id = run_identity(cfg)
        self.idle = deque(range(self.slots))
        self.waiting: deque[int] = deque()
        self.running: dict = {}  # object ref -> (actor slot, attempt index)

    def submit(self, index: int) -> None:
        self.waiting.append(index)
        self._dispatch()

    def _dispatch(self) -> None:
        while self.waiting and self.idle:
            slot, index = self.idle.popleft(), self.waiting.popleft()
            self.running[self.actors[slot].run.remote(index, self.source)] = (slot, index)

    def results(self) -> list[AttemptSummary]:
        ray = self.ray
        ready, _ = ray.wait(list(self.running), num_returns=1)
        out = []
        for ref in ready:
            slot, index = self.running.pop(ref)
            self.idle.append(slot)
            try:
                summary, data = ray.get(ref)
            except ray.exceptions.RayActorError as exc:
                out.append(crashed(index, f"Ray actor died twice: {type(exc).__name__}", self.shard_dir, self.run_id))
                continue
            except ray.exceptions.RayTaskError as exc:
                raise DemoforgeError(f"a Ray generation worker failed on attempt {index}: {exc}") from None
            write_shard_bytes(shard_path(self.shard_dir, index), data)
            out.append(AttemptSummary.from_dict(summary))
        self._dispatch()
        return out

    def close(self) -> None:
        if self.running:  # let speculative attempts finish (one per actor) rather than kill them mid-task
            self.ray.wait(list(self.running), num_returns=len(self.running), timeout=60)
        for actor in self.actors:
            self.ray.kill(actor, no_restart=True)
        self.actors = []
        if self.started:
            self.ray.shutdown()

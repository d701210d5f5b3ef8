"""Run generation attempts by index inside one process: the unit of work every executor distributes.

An ``AttemptWorker`` loads the sources and compiles the world once, then runs any attempt index on
request. With a scene family it samples the attempt's scene (resampling impossible ones) from
``(seed, index, retry)``, so an attempt's outcome depends only on the config and its index.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from demoforge.data.hdf5 import read_demos
from demoforge.errors import DemoforgeError, SceneUnsupported
from demoforge.mimic.generate import AttemptResult, GenerateConfig, run_attempt
from demoforge.mimic.segments import build_source_set, load_annotations
from demoforge.runner.identity import run_identity
from demoforge.runner.run_folder import AttemptSummary
from demoforge.runner.shards import write_shard
from demoforge.scenes.sample import MAX_SCENE_RETRIES, scene_seed
from demoforge.sim.robot import load_robot
from demoforge.tasks import get_task
from demoforge.rollout.world import make_world, object_extents



class AttemptWorker:
    """Everything one process needs to run attempts of ``cfg``, built once."""

    def __init__(self, cfg: GenerateConfig) -> None:
        self.cfg = cfg
        self.task = get_task(cfg.task)
        source = Path(cfg.source)
        annotations = load_annotations(cfg.annotations, self.task) if cfg.annotations else None
        self.sources = build_source_set(read_demos(source, require_datagen=True), self.task,
                                        partial(object_extents, self.task), annotations, str(source))
        self.robot = load_robot(cfg.robot)
        self.world = make_world(self.task, self.robot)
        self.run_id = run_identity(cfg)

    def attempt(self, index: int) -> tuple[AttemptResult, int]:
        """Attempt number ``index`` and how many impossible scenes were resampled before it."""
        cfg = self.cfg
        if cfg.scenes is None:
            return run_attempt(self.world, self.sources, cfg, index), 0
        result = None
        for retry in range(MAX_SCENE_RETRIES):
            seed = scene_seed(cfg.seed, index, retry, cfg.distinct_scenes)
            scene = self.task.sample_scene(cfg.scenes, cfg.variation, seed, cfg.scene_axes)
            try:
                world = make_world(self.task, self.robot, scene=scene)
            except SceneUnsupported as exc:  # a scene the task cannot be built in (a sink in a round table)
                result = AttemptResult(None, False, f"rejected scene: {exc}", 0, 0, rejected=True)
                continue
            result = run_attempt(world, self.sources, cfg, index)
            if not result.rejected:
                return result, retry
        raise DemoforgeError(
            f"scene family {cfg.scenes!r} at {cfg.variation}: {MAX_SCENE_RETRIES} scenes in a row were "
            f"impossible for {cfg.task} ({result.reason if result else 'none tried'})"
        )

    def run_to_shard(self, index: int, shard: Path) -> AttemptSummary:
        """Run attempt ``index`` and write it (demo, if kept, plus summary) to ``shard`` atomically."""
        result, rejected = self.attempt(index)
        summary = AttemptSummary(
            index, result.success, result.reason, result.control_steps, result.physics_steps, rejected,
            run_id=self.run_id,
        )
        keep = result.demo is not None and (result.success or self.cfg.keep_failed)
        write_shard(shard, summary.to_dict(), result.demo if keep else None, self.cfg.next_obs)
        return summary

"""One generation attempt: reset, pick a source segment per subtask, re-target, bridge, add noise, execute.

An attempt's randomness comes only from ``(seed, attempt index)``, so a dataset does not depend on
how attempts are spread over processes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


from demoforge.data.demo import Demo
from demoforge.data.keys import eef_mask
from demoforge.errors import DemoforgeError
from demoforge.mimic.protocol import Episode, GenerationWorld
from demoforge.mimic.segments import SourceSet
from demoforge.scenes.spec import SceneAxes
from demoforge.mimic.transform import anchor_pose, approach_start, bridge, grasp_correction, retarget, select_source


class GenerateConfig(BaseModel):
    """Everything that decides a generated dataset (saved as the run's ``config.json``)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    task: str = Field(description="task name (see `demoforge tasks`)")
    source: str = Field(description="source demos (HDF5 with datagen_info)")
    num_demos: int = Field(100, ge=1, description="successful demos to produce")
    max_attempts: int | None = Field(None, ge=1, description="stop after this many attempts (default 20 x num_demos)")
    variation: str = Field("D1", description="reset distribution: D0, D1, D2")
    seed: int = Field(0, ge=0, description="random seed; same seed + inputs = same dataset")
    robot: str | None = Field(None, description="built-in robot name or robot config file (default: the task's robot)")
    selection: Literal["random", "nearest"] = Field(
        "nearest", description="source segment choice: nearest (reference object pose) or random"
    )
    nearest_k: int = Field(3, ge=1, description="choose among the k nearest sources")
    transition_steps: int = Field(5, ge=1, description="interpolated steps bridging into each segment (at least)")
    transition_max_step: float = Field(
        0.02, ge=0.0, description="longest move per bridging step, metres (0 = fixed steps, as MimicGen)"
    )
    transition_lift: float = Field(
        0.3, ge=0.0, description="bridges arc up by this fraction of their horizontal length (0 = straight)"
    )
    approach_radius: float = Field(
        0.1, ge=0.0,
        description="replay each source segment from where the hand (or the object it carries) first comes this "
        "close to the segment's object, horizontally, metres (bridge straight there); 0 = the whole segment, as MimicGen",
    )
    boundary_offset: tuple[int, int] = Field((10, 20), description="random shift (steps) of each subtask end")
    action_noise: float = Field(0.05, ge=0.0, description="std of Gaussian noise on normalised pose actions")
    grasp_correction: bool = Field(
        True, description="keep a held object's (not only the gripper's) pose relative to the reference; off = MimicGen"
    )
    keep_failed: bool = Field(True, description="store failed attempts in failed.hdf5")
    annotations: str | None = Field(
        None, description="JSON of subtask boundaries per source demo, overriding the signals"
    )
    scenes: str | None = Field(
        None, description="scene family to sample a new scene from for every attempt (tabletop, kitchen)"
    )
    distinct_scenes: int | None = Field(
        None, ge=1, description="with scenes: only this many different scenes, attempt i in scene i mod N "
        "(1: one fixed scene); default: a new scene for every attempt",
    )
    scene_axes: SceneAxes = Field(default_factory=SceneAxes, description="which scene axes vary, and how widely")
    cameras: list[str] = Field(
        default_factory=list, description="cameras rendered into obs/<camera>_image: agentview, wrist, ..."
    )
    image_size: int = Field(84, ge=8, le=1024, description="square image size, pixels")
    depth: bool = Field(False, description="also render obs/<camera>_depth (metres)")
    segmentation: bool = Field(False, description="also render obs/<camera>_segmentation_instance")
    next_obs: bool = Field(
        True, description="also store next_obs/<key> (robomimic's default reads it; off halves image storage)"
    )

    @field_validator("boundary_offset")
    @classmethod
    def _ordered(cls, value: tuple[int, int]) -> tuple[int, int]:
        if value[0] > value[1]:
            raise ValueError(f"boundary_offset low {value[0]} is above high {value[1]}")
        return value

    @model_validator(mode="after")
    def _robot_of_the_task(self) -> GenerateConfig:
        if self.robot is None:
            from demoforge.tasks import get_task

            try:
                self.robot = get_task(self.task).robot
            except DemoforgeError:  # an unknown task or a bad task file is refused later, with its own message
                pass
        return self

    @model_validator(mode="after")
    def _channels_need_cameras(self) -> GenerateConfig:
        if (self.depth or self.segmentation) and not self.cameras:
            raise ValueError("depth and segmentation are rendered per camera: pass cameras too")
        return self

    @model_validator(mode="after")
    def _distinct_needs_scenes(self) -> GenerateConfig:
        if self.distinct_scenes is not None and self.scenes is None:
            raise ValueError("distinct_scenes counts scenes of a family: pass scenes too (tabletop or kitchen)")
        return self

    @property
    def attempt_limit(self) -> int:
        return self.max_attempts or 20 * self.num_demos


@dataclass
class AttemptResult:
    demo: Demo | None  # None when the start was rejected
    success: bool
    reason: str  # "" on success
    control_steps: int
    physics_steps: int
    rejected: bool = False  # the sampled scene + placement was impossible: not an attempt, resample


def attempt_rng(seed: int, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, index])


def run_attempt(world: GenerationWorld, sources: SourceSet, cfg: GenerateConfig, index: int) -> AttemptResult:
    """Generate, execute and validate attempt number ``index``: reset from ``(seed, index)`` (an impossible
    sampled scene is rejected, not failed), then the one-arm or the several-arm generator."""
    rng = attempt_rng(cfg.seed, index)
    try:
        world.reset(rng, cfg.variation)
    except DemoforgeError as exc:
        if cfg.scenes is None:
            raise
        return AttemptResult(None, False, f"rejected scene: {exc}", 0, 0, rejected=True)
    if cfg.scenes is not None and not world.start_is_valid():
        return AttemptResult(None, False, "rejected scene: objects interpenetrate at the start", 0, 0, rejected=True)
    rec = world.episode(cfg.cameras, cfg.image_size, cfg.depth, cfg.segmentation,
                        max_steps=sources.horizon(world.task.max_steps))
    if len(world.arm_names) > 1:
        from demoforge.mimic.bimanual import run_arms_attempt  # it builds on this module

        return run_arms_attempt(world, sources, cfg, index, rng, rec)
    return _run_one_arm_attempt(world, sources, cfg, index, rng, rec)


def _run_one_arm_attempt(world: GenerationWorld, sources: SourceSet, cfg: GenerateConfig, index: int,
                         rng: np.random.Generator, rec: Episode) -> AttemptResult:
    """The subtasks in order, each a bridge then its re-targeted source segment, from a reset world."""
    task = world.task
    n_bounds = len(task.subtasks) - 1
    offsets = [int(rng.integers(cfg.boundary_offset[0], cfg.boundary_offset[1] + 1)) for _ in range(n_bounds)]
    target, gripper = world.eef_pose(), -np.ones(world.eef_dim)  # open
    chosen: list[int] = []
    segments: list[list[int]] = []
    reason = ""

    eef_columns = eef_mask(1, world.eef_dim)  # noise on the pose only, as in MimicGen

    def execute(poses: np.ndarray, grippers: np.ndarray) -> bool:
        """Step through ``poses`` with end-effector commands ``grippers`` (T, k); noise on the pose columns only."""
        noise = rng.normal(0.0, cfg.action_noise, (len(poses), len(eef_columns))) if cfg.action_noise > 0 else None
        if noise is not None:
            noise[:, eef_columns] = 0.0
        for t in range(len(poses)):
            if rec.full:
                return False
            if not rec.step(poses[t], grippers[t], None if noise is None else noise[t]):
                return False
        return True

    now_extents = {name: world.object_extent(name) for name in task.objects}

    def anchored(pose: np.ndarray, extents: dict[str, tuple[float, float]], name: str, where: str) -> np.ndarray:
        return anchor_pose(pose, extents.get(name), where)

    for i, sub in enumerate(task.subtasks):
        if sub.object is None:  # no reference object: the segment is replayed where the source did it
            world_T_object, src_object = np.eye(4), np.broadcast_to(np.eye(4), (len(sources.demos), 4, 4))
        else:
            world_T_object = anchored(world.object_pose(sub.object), now_extents, sub.object, sub.anchor)
            starts = [sources.segment_range(d, i, offsets)[0] for d in range(len(sources.demos))]
            src_object = np.stack([
                anchored(s.datagen.object_poses[sub.object][t], ext, sub.object, sub.anchor)
                for s, t, ext in zip(sources.demos, starts, sources.extents)
            ])
        d = select_source(src_object, world_T_object, cfg.selection, cfg.nearest_k, rng)
        start, end = sources.segment_range(d, i, offsets)
        src = sources.demos[d]
        mover = src.datagen.target_pose if sub.held is None else src.datagen.object_poses[sub.held]
        start += approach_start(mover[start:end], src_object[d], src.datagen.gripper_action[start:end],
                                sub.approach(cfg.approach_radius))
        chosen.append(d)
        segments.append([start, end])
        poses = retarget(src.datagen.target_pose[start:end], src_object[d], world_T_object)
        if cfg.grasp_correction and sub.held is not None and world.is_grasping(sub.held):
            held_face = "bottom" if sub.anchor == "top" else "center"  # what lands on the top face
            poses = poses @ grasp_correction(
                src.datagen.eef_pose[start],
                anchored(src.datagen.object_poses[sub.held][start], sources.extents[d], sub.held, held_face),
                world.eef_pose(),
                anchored(world.object_pose(sub.held), now_extents, sub.held, held_face),
                world.symmetry_order(sub.held),
            )
        grippers = src.datagen.gripper_action[start:end]
        lead_in = bridge(target, poses[0], cfg.transition_steps, cfg.transition_max_step, cfg.transition_lift)
        ok = execute(lead_in, np.broadcast_to(gripper, (len(lead_in), len(gripper)))) and execute(poses, grippers)
        target, gripper = poses[-1], grippers[-1]
        if not ok:
            reason = "physics unstable" if rec.unstable else "episode too long"
            break
        if sub.signal is not None:
            if not rec.signals[sub.signal][max(0, rec.t - 3) : rec.t].any():
                reason = f"subtask {sub.name} failed"
                break
    if not reason:
        hold = task.success_hold_steps
        ok = execute(np.repeat(target[None], hold, axis=0), np.broadcast_to(gripper, (hold, len(gripper))))
        if not ok:
            reason = "physics unstable" if rec.unstable else "episode too long"
        elif not rec.succeeded():
            reason = f"subtask {task.subtasks[-1].name} failed"
    if reason.startswith("subtask"):
        reason = world.failure_reason() or reason  # e.g. "spilled 9 of 60 particles"
    success = not reason
    demo = rec.finish(attempt=index, seed=cfg.seed, variation=cfg.variation, reason=reason, segments=segments)
    demo.source = chosen
    return AttemptResult(demo, success, reason, rec.t, rec.t * world.substeps)

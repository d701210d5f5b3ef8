"""One generation attempt for a robot with several arms: per-arm subtask sequences in lockstep (DexMimicGen's kinds).

Every arm walks through its own object-centric subtasks; each control step every arm takes its next
target, and the recorder executes them together. What a subtask's ``kind`` changes:

- ``parallel``: the arm picks its own source segment (nearest to where its reference object is now),
  re-targets it and bridges to it on its own schedule;
- ``coordination``: the arm waits until its ``partner`` (the other arm's subtask) is due too, then both
  replay the same source demo over one common time range with one object transform, in lockstep (two
  grippers lifting one box must move as one);
- ``sequential``: the arm holds its pose until the subtask named in ``after`` (the other arm's) has ended
  with its signal (a handover: take the cube only once it is presented). Its reference object is then
  in the other arm's hand, where it may still sway: the arm's queued targets follow it, step by step,
  until the arm has hold of it (``ArmPlan.follow``).

A non-final subtask whose segment runs out without its termination signal first holds its last target for
up to ``SIGNAL_WAIT`` steps (a bar presented in a hooked grip still swings for a moment, and its signal asks
for it held still); if the signal has still not come, the attempt fails, naming the arm.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from demoforge import geometry as geo
from demoforge.errors import DemoforgeError
from demoforge.data.keys import eef_mask
from demoforge.mimic.generate import AttemptResult, GenerateConfig
from demoforge.mimic.protocol import Episode, GenerationWorld
from demoforge.mimic.segments import SourceSet
from demoforge.mimic.transform import anchor_pose, approach_start, bridge, grasp_correction, retarget, select_source
from demoforge.tasks.base import Subtask

SIGNAL_WINDOW = 3  # a subtask's signal must hold within its last steps
SIGNAL_WAIT = 10  # steps (0.5 s) an arm holds still for a signal its segment ended without


@dataclass
class ArmPlan:
    """One arm's progress through its subtasks during an attempt."""

    arm: int
    name: str
    subtasks: tuple[Subtask, ...]
    target: np.ndarray
    gripper: np.ndarray  # (k,) end-effector command
    current: int = -1  # index of the subtask being executed (-1: none started)
    queue: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)  # (pose, eef command) still to execute
    chosen: list[int] = field(default_factory=list)
    segments: list[list[int]] = field(default_factory=list)
    follow: tuple[Subtask, np.ndarray] | None = None  # (subtask, world_T_object its queue was planned for)

    @property
    def done(self) -> bool:
        return self.current >= len(self.subtasks) and not self.queue

    def next_subtask(self) -> Subtask | None:
        return self.subtasks[self.current + 1] if self.current + 1 < len(self.subtasks) else None

    def take(self) -> tuple[np.ndarray, np.ndarray]:
        if self.queue:
            self.target, self.gripper = self.queue.pop(0)
        return self.target, self.gripper

    def refollow(self, world_T_object_now: np.ndarray) -> None:
        """Move the queued targets with the followed object from where they were planned to where it is now."""
        if self.follow is None:
            return
        sub, planned_for = self.follow
        moved = world_T_object_now @ geo.invert(planned_for)
        self.queue = [(moved @ pose, grip) for pose, grip in self.queue]
        self.follow = (sub, world_T_object_now)

    def push(self, poses: np.ndarray, grippers: np.ndarray) -> None:
        """Queue ``poses`` with end-effector commands: one (k,) for all of them, or (len(poses), k)."""
        grippers = np.broadcast_to(np.asarray(grippers, dtype=float), (len(poses), len(self.gripper)))
        self.queue.extend(zip(poses, grippers))


def run_arms_attempt(world: GenerationWorld, sources: SourceSet, cfg: GenerateConfig, index: int,
                     rng: np.random.Generator, rec: Episode) -> AttemptResult:
    """Generate, execute and validate attempt ``index`` of a task with several arms, from the reset world
    ``run_attempt`` hands over (with the attempt's ``rng`` and its started episode ``rec``)."""
    task = world.task
    plans = [ArmPlan(a, name, task.arm_subtasks(a), world.eef_pose(a), -np.ones(world.eef_dim))  # open
             for a, name in enumerate(world.arm_names)]
    eef_columns = eef_mask(len(plans), world.eef_dim)  # noise on the pose only
    offsets = {  # per arm, a random shift of each of its boundaries
        p.arm: [int(rng.integers(cfg.boundary_offset[0], cfg.boundary_offset[1] + 1)) for _ in p.subtasks[:-1]]
        for p in plans
    }
    extents_now = {name: world.object_extent(name) for name in task.objects}
    ended: set[str] = set()  # subtasks whose segment ran out with their signal on
    waited: dict[str, int] = {}  # steps each subtask has held still for its signal
    planner = _Planner(world, sources, cfg, rng, offsets, extents_now)
    reason = ""
    while not reason:
        for plan in plans:  # first every arm whose segment just ran out: did its subtask end with its signal?
            if plan.queue or not 0 <= plan.current < len(plan.subtasks):
                continue
            sub = plan.subtasks[plan.current]
            if sub.name in ended:
                continue
            if sub.signal is not None and not rec.signals[sub.signal][max(0, rec.t - SIGNAL_WINDOW) : rec.t].any():
                if waited.get(sub.name, 0) < SIGNAL_WAIT:
                    waited[sub.name] = waited.get(sub.name, 0) + 1
                    plan.push(plan.target[None], plan.gripper)  # hold still one more step
                    continue
                reason = f"{plan.name} arm: subtask {sub.name} failed"
                break
            ended.add(sub.name)
        for plan in plans:  # then whoever is free takes its next subtask, if its kind lets it start now
            if reason or plan.queue or plan.done:
                continue
            nxt = plan.next_subtask()
            if nxt is None:
                plan.current = len(plan.subtasks)
                continue
            if nxt.after is not None and nxt.after not in ended:
                continue  # sequential: hold until the other arm's subtask has ended
            if nxt.kind == "coordination":
                partner = _partner_plan(plans, nxt)
                due = partner.next_subtask()
                if partner.queue or due is None or due.name != nxt.partner:
                    continue  # wait for the partner to be due as well
                planner.coordinated(plan, partner)
            else:
                planner.own(plan)
        if reason:
            break
        if all(p.done for p in plans):
            break
        if rec.full:
            reason = "episode too long"
            break
        for plan in plans:  # a sequential reach follows its object in the other hand until it has hold of it
            if plan.follow is not None:
                if world.is_grasping(plan.follow[0].object, plan.arm):
                    plan.follow = None
                else:
                    plan.refollow(planner.object_now(plan.follow[0]))
        steps = [p.take() for p in plans]
        noise = None
        if cfg.action_noise > 0:
            noise = rng.normal(0.0, cfg.action_noise, len(eef_columns))
            noise[eef_columns] = 0.0
        targets = np.stack([t for t, _ in steps])
        if not rec.step(targets, np.array([g for _, g in steps]), noise):
            reason = "physics unstable" if rec.unstable else "episode too long"
    if not reason:
        for _ in range(task.success_hold_steps):
            if rec.full or not rec.step(np.stack([p.target for p in plans]), np.array([p.gripper for p in plans])):
                reason = "physics unstable" if rec.unstable else "episode too long"
                break
        if not reason and not rec.succeeded():
            if world.success():
                reason = f"success did not hold for the final {task.success_hold_steps} steps"
            else:
                reason = failed_at_the_end(plans)
    if reason.startswith("failed at the end"):  # the task may say more about its end state (which arm let go)
        reason = world.failure_reason() or reason
    demo = rec.finish(attempt=index, seed=cfg.seed, variation=cfg.variation, reason=reason,
                      segments={p.name: p.segments for p in plans}, sources={p.name: p.chosen for p in plans})
    demo.source = [d for p in plans for d in p.chosen]
    return AttemptResult(demo, not reason, reason, rec.t, rec.t * world.substeps)


def failed_at_the_end(plans: list[ArmPlan]) -> str:
    """The reason for an attempt that ended without success: each busy arm's last subtask (an arm may rest
    through a task, as gr1_pour's left hand does, and has none)."""
    return "failed at the end: " + ", ".join(f"{p.name} arm: {p.subtasks[-1].name}" for p in plans if p.subtasks)


def _partner_plan(plans: list[ArmPlan], sub: Subtask) -> ArmPlan:
    for plan in plans:
        if any(s.name == sub.partner for s in plan.subtasks):
            return plan
    raise DemoforgeError(f"subtask {sub.name!r}: its partner {sub.partner!r} is no other arm's subtask")


class _Planner:
    """Turns an arm's next subtask into queued targets: a bridge, then the re-targeted source segment."""

    def __init__(self, world: GenerationWorld, sources: SourceSet, cfg: GenerateConfig, rng: np.random.Generator,
                 offsets: dict[int, list[int]], extents_now: dict[str, tuple[float, float]]) -> None:
        self.world, self.sources, self.cfg, self.rng = world, sources, cfg, rng
        self.offsets, self.extents_now = offsets, extents_now
        task = world.task
        self.subtask_index = {  # subtask name -> (arm, index among that arm's subtasks)
            sub.name: (arm, i) for arm in range(task.num_arms) for i, sub in enumerate(task.arm_subtasks(arm))
        }

    def object_now(self, sub: Subtask) -> np.ndarray:
        if sub.object is None:  # a subtask in the world frame: replayed where the source did it
            return np.eye(4)
        return anchor_pose(self.world.object_pose(sub.object), self.extents_now.get(sub.object), sub.anchor)

    def segment(self, sub: Subtask, arm: int, index: int, demo: int) -> tuple[int, int]:
        """[start, end) of an arm's subtask in a source demo; a sequential subtask starts no earlier than the
        signal of its ``after`` subtask rose there: what the arm did before is waiting, which the generator does itself,
        and the reference object is taken where it was when the arm could begin (the bar once presented)."""
        start, end = self.sources.segment_range(demo, index, self.offsets[arm], arm)
        if sub.after is not None:
            other, other_index = self.subtask_index[sub.after]  # where its signal rose (boundaries unshifted)
            ready = self.sources.segment_range(demo, other_index, [0] * len(self.offsets[other]), other)[1]
            start = min(max(start, ready), end - 1)
        return start, end

    def _src_objects(self, sub: Subtask, arm: int, index: int) -> np.ndarray:
        """The reference object's (anchored) pose in every source demo at the start of this subtask."""
        s = self.sources
        if sub.object is None:
            return np.broadcast_to(np.eye(4), (len(s.demos), 4, 4))
        starts = [self.segment(sub, arm, index, d)[0] for d in range(len(s.demos))]
        return np.stack([
            anchor_pose(demo.datagen.object_poses[sub.object][t], ext.get(sub.object), sub.anchor)
            for demo, t, ext in zip(s.demos, starts, s.extents)
        ])

    def own(self, plan: ArmPlan) -> None:
        """A parallel or sequential subtask: this arm's own source segment and bridge."""
        cfg, world = self.cfg, self.world
        plan.current += 1
        sub, arm = plan.subtasks[plan.current], plan.arm
        world_T_object = self.object_now(sub)
        src_objects = self._src_objects(sub, arm, plan.current)
        d = select_source(src_objects, world_T_object, cfg.selection, cfg.nearest_k, self.rng)
        start, end = self.segment(sub, arm, plan.current, d)
        track, src = self.sources.demos[d].datagen.arm(arm), self.sources.demos[d]
        mover = track.target_pose if sub.held is None else src.datagen.object_poses[sub.held]
        start += approach_start(mover[start:end], src_objects[d], track.gripper_action[start:end],
                                sub.approach(cfg.approach_radius))
        poses = retarget(track.target_pose[start:end], src_objects[d], world_T_object)
        if cfg.grasp_correction and sub.held is not None and world.is_grasping(sub.held, arm):
            face = "bottom" if sub.anchor == "top" else "center"
            poses = poses @ grasp_correction(
                track.eef_pose[start],
                anchor_pose(src.datagen.object_poses[sub.held][start], self.sources.extents[d].get(sub.held), face),
                world.eef_pose(arm),
                anchor_pose(world.object_pose(sub.held), self.extents_now.get(sub.held), face),
                world.symmetry_order(sub.held),
            )
        lead_in = bridge(plan.target, poses[0], cfg.transition_steps, cfg.transition_max_step, cfg.transition_lift)
        plan.push(lead_in, plan.gripper)
        plan.push(poses, track.gripper_action[start:end])
        follows = sub.kind == "sequential" and sub.held is None and sub.object is not None
        plan.follow = (sub, world_T_object) if follows else None
        plan.chosen.append(d)
        plan.segments.append([start, end])

    def coordinated(self, plan: ArmPlan, partner: ArmPlan) -> None:
        """A coordination pair: one source demo, one object transform, one time range, bridges padded to meet."""
        cfg = self.cfg
        pair = [plan, partner]
        for p in pair:
            p.current += 1
        sub = plan.subtasks[plan.current]
        world_T_object = self.object_now(sub)
        src_objects = self._src_objects(sub, plan.arm, plan.current)
        d = select_source(src_objects, world_T_object, cfg.selection, cfg.nearest_k, self.rng)
        ranges = [self.sources.segment_range(d, p.current, self.offsets[p.arm], p.arm) for p in pair]
        start, end = max(r[0] for r in ranges), max(r[1] for r in ranges)
        start = min(start, end - 1)
        moves = []
        for p in pair:
            track = self.sources.demos[d].datagen.arm(p.arm)
            poses = retarget(track.target_pose[start:end], src_objects[d], world_T_object)
            lead_in = bridge(p.target, poses[0], cfg.transition_steps, cfg.transition_max_step, cfg.transition_lift)
            moves.append((lead_in, poses, track.gripper_action[start:end]))
        longest = max(len(m[0]) for m in moves)
        for p, (lead_in, poses, grippers) in zip(pair, moves):
            p.push(np.repeat(p.target[None], longest - len(lead_in), axis=0), p.gripper)  # wait for the slower bridge
            p.push(lead_in, p.gripper)
            p.push(poses, grippers)
            p.chosen.append(d)
            p.segments.append([start, end])

"""demoforge benchmarks: generation rate and speed, controller tracking, raw physics speed.

    python benchmarks/run.py --out docs/benchmarks.md      # full run (a few minutes on 2 cores)
    python benchmarks/run.py --quick                       # smoke run (~10 attempts per task)

Writes a markdown report to ``--out`` (and prints it). Everything is measured in this one process,
so the raw-physics baseline and the generator share the machine's state at the time of the run.
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")  # headless rendering; must be set before mujoco loads

import argparse  # noqa: E402
import datetime as dt
import functools
import hashlib
import platform
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import mujoco
import numpy as np

import demoforge as df
from demoforge import geometry as geo
from demoforge import machine
from demoforge.rollout.episode import Recorder
from demoforge.runner.run_folder import RunFolder, RunStats

sys.path.insert(0, str(Path(__file__).parent))
import datasets  # noqa: E402  (benchmarks/datasets.py)
import pour  # noqa: E402  (benchmarks/pour.py)
import safety  # noqa: E402  (benchmarks/safety.py)
import scale  # noqa: E402  (benchmarks/scale.py)
import scenes  # noqa: E402  (benchmarks/scenes.py)
from demoforge.sim.controller import action_to_target, target_to_action
from demoforge.rollout.world import World, env_for_demo
from demoforge.sim.env import SimEnv

# Default attempts per (task, variation): enough for a DGR within a few percent, full run in minutes.
DEFAULT_ATTEMPTS = {"stack": 210, "lift": 150, "square": 210, "stack_three": 210, "pour": 45}
QUICK_ATTEMPTS = 12
NUM_SOURCES = 10
SOURCE_SEEDS = (0, 1, 2)  # DGR depends on which 10 demos a person happened to record: pool three source sets
VARIATIONS = ("D0", "D1")

# Reference points (../shared/ANCHORS.md): MimicGen paper DGR on D0, MimicGen measured on this machine kind.
MIMICGEN_DGR_D0 = {"stack": 0.943, "stack_three": 0.713, "square": 0.737}
# MimicGen and demoforge run on one machine of this kind in one sitting (one process each, Stack D0, MimicGen's own
# stack config with its paper settings, no cameras): attempts/s of each. Not re-measured here (MimicGen needs
# robosuite 1.4.1 and MuJoCo 2.3.2); a ratio against another machine's MimicGen run would mislead.
SIDE_BY_SIDE = {"mimicgen": (0.31, 0.37), "demoforge": (5.9, 6.5), "per_attempt": (16, 21), "per_control_step": 13}
TARGET_OVERHEAD = 1.5
TARGET_ATTEMPTS_PER_S = 5.0  # per core, stack
TARGET_POS_MM = 2.0
TARGET_ROT_DEG = 1.0



def load_average() -> float:
    """1-minute load average (0 where unavailable)."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return 0.0


def source_hash() -> str:
    """Short hash of demoforge's Python sources and assets (to spot code changing during a run)."""
    root = Path(df.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.suffix in (".py", ".xml"):
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def header(command: str, load_start: float, load_end: float, src_start: str, src_end: str) -> str:
    """Report title and the environment the numbers were measured in."""
    cores = os.cpu_count() or 1
    busy = max(load_start, load_end) > 0.75 * cores
    src = f"- demoforge sources: {src_start}" + (
        f" at start, {src_end} at end -- **the code changed during the run**" if src_end != src_start else ""
    )
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join(
        [
            "# demoforge benchmarks",
            "",
            f"- date: {now}",
            f"- machine: {machine.describe()}",
            f"- python {platform.python_version()}, mujoco {mujoco.__version__}, numpy {np.__version__}, demoforge {df.__version__}",
            f"- command: `{command}`",
            src,
            f"- load average (1 min): {load_start:.2f} at start, {load_end:.2f} at end"
            + (" -- **the machine was busy: wall-clock numbers are inflated; see the CPU-time ratio**" if busy else ""),
            "",
            "All timings are single-process (one core); generation is embarrassingly parallel across attempts.",
            "",
        ]
    )


# ---- 1. generation ------------------------------------------------------------------------------
@dataclass
class GenRow:
    """One generation run (task x variation) and its raw-physics baseline."""

    task: str
    variation: str
    stats: RunStats
    cpu_s: float  # process CPU time from the end of the first attempt to the end of the last
    cpu_physics_steps: int  # physics steps in that span
    raw_s_per_step: float  # wall
    raw_cpu_s_per_step: float
    source_tries: int
    source_s: float
    dgr_per_source_set: list[float] = field(default_factory=list)

    @property
    def raw_physics_s(self) -> float:
        return self.raw_s_per_step * self.stats.physics_steps

    @property
    def overhead(self) -> float:
        return self.stats.wall_time_s / self.raw_physics_s if self.raw_physics_s > 0 else float("nan")

    @property
    def overhead_cpu(self) -> float:
        """The same ratio in process CPU time: far less sensitive to other processes on the machine."""
        raw = self.raw_cpu_s_per_step * self.cpu_physics_steps
        return self.cpu_s / raw if raw > 0 else float("nan")

    @property
    def attempts_per_s(self) -> float:
        return self.stats.attempts / self.stats.wall_time_s

    @property
    def demos_per_s(self) -> float:
        return self.stats.successes / self.stats.wall_time_s

    @property
    def python_ms_per_control_step(self) -> float:
        """Wall time not explained by raw physics, per control step."""
        steps = max(self.stats.control_steps, 1)
        return 1e3 * (self.stats.wall_time_s - self.raw_physics_s) / steps


def source_file(task: str, folder: Path, seed: int) -> Path:
    """Where section 1 records a task's source set ``seed`` (later sections reuse it)."""
    return folder / f"{task}_sources_{seed}.hdf5"


@functools.cache
def record(task: str, folder: Path, seed: int) -> tuple[Path, int, float]:
    """Record one set of scripted source demos (D0); returns (file, expert tries, seconds). Once per process:
    a second measurement on the same folder (another scene family) reuses the set."""
    start = time.perf_counter()
    path, tries = df.record_sources(task, NUM_SOURCES, source_file(task, folder, seed), seed=seed)
    return path, tries, time.perf_counter() - start


def pooled(parts: list[RunStats]) -> RunStats:
    """Stats of several runs added up as if they were one run."""
    failures: dict[str, int] = {}
    for p in parts:
        for reason, count in p.failures.items():
            failures[reason] = failures.get(reason, 0) + count
    attempts, successes = sum(p.attempts for p in parts), sum(p.successes for p in parts)
    return RunStats(
        attempts=attempts, successes=successes, physics_steps=sum(p.physics_steps for p in parts),
        control_steps=sum(p.control_steps for p in parts), wall_time_s=sum(p.wall_time_s for p in parts),
        failures=dict(sorted(failures.items(), key=lambda kv: -kv[1])), dgr=successes / max(attempts, 1),
    )


def raw_step_seconds(run_dir: Path, max_demos: int, rng: np.random.Generator) -> tuple[float, float]:
    """(wall, CPU) seconds per raw ``mj_step`` for exactly the physics the run did.

    Replays stored attempts (kept and failed; replays are bit-exact) from their first state: the
    controller's joint targets are computed untimed, and only ``mj_step(nstep=substeps)`` is timed.
    So the baseline is the same model, the same states, the same contacts and the same controls:
    the physics limit of this very run.
    """
    demos = []
    for path in (RunFolder(run_dir).demos, RunFolder(run_dir).failed):
        if path.exists():
            try:
                demos += df.read_demos(path, require_datagen=False)
            except df.DemoforgeError:
                pass  # a file with no demos in it (e.g. no failures)
    demos = [d for d in demos if len(d)]
    if not demos:
        raise RuntimeError(f"{run_dir}: no stored states to time")
    if len(demos) > max_demos:
        demos = [demos[i] for i in sorted(rng.choice(len(demos), size=max_demos, replace=False))]
    envs: dict[str, SimEnv] = {}  # by model: a run in one scene stores one model, one with --scenes one per attempt
    wall = cpu = 0.0
    steps = 0
    for demo in demos:
        if demo.model_file not in envs:
            envs[demo.model_file] = env_for_demo(demo)  # the robot from the file's env_args
        env = envs[demo.model_file]
        env.set_state(demo.states[0])
        for action in demo.actions:
            action = np.clip(action, -1.0, 1.0)
            for i, part in enumerate(env.split_action(action)):
                target = action_to_target(env.eef_pose(i), env.arms[i].world_T_base, part)
                env.apply_target(target, env.eef_command(part, i), i)
            start, start_cpu = time.perf_counter(), time.process_time()
            mujoco.mj_step(env.model, env.data, nstep=env.substeps)
            wall += time.perf_counter() - start
            cpu += time.process_time() - start_cpu
            mujoco.mj_kinematics(env.model, env.data)
            steps += env.substeps
    return wall / steps, cpu / steps


def bench_generation(
    tasks: list[str], attempts: dict[str, int], raw_samples: int, work: Path, variations: tuple[str, ...] = VARIATIONS,
    scenes: str | None = None,
) -> list[GenRow]:
    """Per task, record one source set per seed in ``SOURCE_SEEDS``; per variation, spread ``attempts[task]``
    attempts evenly over the source sets and pool the results; in a new scene of family ``scenes`` per
    attempt when given (the row's variation then reads e.g. "D2 kitchen")."""
    rows = []
    for task in tasks:
        sources = [record(task, work, seed) for seed in SOURCE_SEEDS]
        tries, source_s = sum(t for _, t, _ in sources), sum(s for _, _, s in sources)
        log(f"{task}: {len(sources)} x {NUM_SOURCES} sources in {tries} expert tries, {source_s:.1f} s")
        for variation in variations:
            if variation not in df.get_task(task).variations:
                continue
            n = max(1, attempts[task] // len(sources))
            parts, cpu, cpu_steps, raw_wall, raw_cpu = [], 0.0, 0, 0.0, 0.0
            for seed, (source, _, _) in zip(SOURCE_SEEDS, sources):
                cfg = df.GenerateConfig(
                    task=task, source=str(source), num_demos=10 * n, max_attempts=n, variation=variation, seed=0,
                    scenes=scenes,
                )
                run_dir = work / f"{task}_{variation}_{seed}{f'_{scenes}' if scenes else ''}"
                marks: list[tuple[float, int]] = []  # (CPU time, physics steps so far) after each attempt
                stats = df.generate(
                    cfg, run_dir, on_attempt=lambda _, done: marks.append((time.process_time(), done.physics_steps))
                )
                cpu += marks[-1][0] - marks[0][0]
                cpu_steps += marks[-1][1] - marks[0][1]
                raw, raw_c = raw_step_seconds(run_dir, raw_samples, np.random.default_rng(0))
                raw_wall += raw * stats.physics_steps
                raw_cpu += raw_c * stats.physics_steps
                parts.append(stats)
            stats = pooled(parts)
            steps = stats.physics_steps
            row = GenRow(
                task, f"{variation} {scenes}" if scenes else variation, stats, cpu, cpu_steps, raw_wall / steps,
                raw_cpu / steps, tries, source_s,
                [p.dgr for p in parts],
            )
            rows.append(row)
            log(
                f"  {variation}: {stats.successes}/{stats.attempts} (DGR {stats.dgr:.1%}, per source set "
                f"{', '.join(f'{d:.0%}' for d in row.dgr_per_source_set)}), {row.attempts_per_s:.2f} attempts/s, "
                f"overhead {row.overhead:.2f}x (CPU {row.overhead_cpu:.2f}x)"
            )
    return rows


def generation_section(rows: list[GenRow]) -> str:
    """Markdown for section 1."""
    lines = [
        "## 1. Generation",
        "",
        f"{len(SOURCE_SEEDS)} sets of {NUM_SOURCES} scripted source demos per task (seeds "
        f"{', '.join(map(str, SOURCE_SEEDS))}, recorded in D0; attempts spread evenly over the sets and pooled, since "
        "DGR depends on which demos were recorded), then `GenerateConfig` defaults: "
        "nearest-neighbour selection (k=3), segments replayed from 0.1 m of their object (`approach_radius`), "
        "5 transition steps, subtask boundary offset 10-20 steps, action noise 0.05, "
        "seed 0. Each run is stopped at a fixed number of attempts.",
        "",
        "*Overhead* = wall time / (raw `mj_step` seconds per physics step x the run's physics steps); the raw rate is "
        "timed by replaying up to 20 attempts per source set of the run's own attempts (bit-exact) and timing only `mj_step`, so it is the physics "
        "limit of the very same simulation. *Overhead CPU* = the same ratio in process CPU time, over attempts 2..N "
        "(robust to other load on the machine). *Python ms/step* = wall time not explained by raw physics, "
        "per 20 Hz control step.",
        "",
        f"MimicGen reference: DGR on D0 from the paper ({', '.join(f'{t} {v:.1%}' for t, v in MIMICGEN_DGR_D0.items())}); "
        f"speed measured beside demoforge on one machine of this kind in one sitting (one process each, Stack D0, "
        f"MimicGen's own stack config, no cameras): MimicGen {SIDE_BY_SIDE['mimicgen'][0]}-{SIDE_BY_SIDE['mimicgen'][1]} "
        f"attempts/s, demoforge {SIDE_BY_SIDE['demoforge'][0]}-{SIDE_BY_SIDE['demoforge'][1]}, i.e. "
        f"{SIDE_BY_SIDE['per_attempt'][0]}-{SIDE_BY_SIDE['per_attempt'][1]}x per attempt and about "
        f"{SIDE_BY_SIDE['per_control_step']}x per control step (this run does not re-measure MimicGen). Targets: overhead <= "
        f"{TARGET_OVERHEAD}, >= {TARGET_ATTEMPTS_PER_S:g} attempts/s per core on stack.",
        "",
        "| task | var | attempts | successes | DGR | DGR per source set | MimicGen DGR (D0) | attempts/s | demos/s "
        "| wall s | physics steps | raw mj_step us/step | overhead | overhead CPU | Python ms/step |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        s = r.stats
        ref = MIMICGEN_DGR_D0.get(r.task) if r.variation == "D0" else None
        lines.append(
            f"| {r.task} | {r.variation} | {s.attempts} | {s.successes} | {s.dgr:.1%} | "
            f"{' / '.join(f'{d:.0%}' for d in r.dgr_per_source_set)} | "
            f"{f'{ref:.1%}' if ref is not None else '-'} | {r.attempts_per_s:.2f} | {r.demos_per_s:.2f} | "
            f"{s.wall_time_s:.1f} | {s.physics_steps:,} | "
            f"{1e6 * r.raw_s_per_step:.1f} | {r.overhead:.2f} | {r.overhead_cpu:.2f} | {r.python_ms_per_control_step:.2f} |"
        )
    lines += ["", "Failures by reason:", ""]
    for r in rows:
        fails = ", ".join(f"{k}: {v}" for k, v in r.stats.failures.items()) or "none"
        lines.append(f"- {r.task} {r.variation}: {fails}")
    lines += ["", "Source recording (scripted expert, failed tries discarded):", ""]
    seen = set()
    for r in rows:
        if r.task not in seen:
            seen.add(r.task)
            lines.append(
                f"- {r.task}: {len(SOURCE_SEEDS)} x {NUM_SOURCES} demos in {r.source_tries} tries, {r.source_s:.1f} s"
            )
    stack = [r for r in rows if r.task == "stack" and r.variation == "D0"]
    if stack:
        r = stack[0]
        lines += [
            "",
            f"Stack D0 against the targets: {r.attempts_per_s:.2f} attempts/s (target >= "
            f"{TARGET_ATTEMPTS_PER_S:g}: {verdict(r.attempts_per_s >= TARGET_ATTEMPTS_PER_S)}), overhead {r.overhead:.2f}x "
            f"(target <= {TARGET_OVERHEAD}: {verdict(r.overhead <= TARGET_OVERHEAD)}; CPU-time ratio {r.overhead_cpu:.2f}x).",
        ]
    return "\n".join(lines) + "\n"


# ---- 2. controller tracking ---------------------------------------------------------------------
@dataclass
class TrackingResult:
    offsets: np.ndarray  # (n, 3) target position - home position, metres
    angles_deg: np.ndarray  # (n,) target rotation from home
    pos_mm: np.ndarray
    rot_deg: np.ndarray
    joint_speed: np.ndarray  # (n,) max |arm qvel| (rad/s) at the end: > 0 means still moving
    settle_steps: list[int | None] = field(default_factory=list)


def random_target(home: np.ndarray, rng: np.random.Generator, max_deg: float = 17.0) -> np.ndarray:
    """A pose where the tasks work: -15..+20 cm forward, +-20 cm sideways, -33..+5 cm up from ``home``
    (down to 7 cm above the table), turned by up to ``max_deg`` about a random axis."""
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    angle = np.deg2rad(rng.uniform(0.0, max_deg))
    target = home.copy()
    target[:3, 3] += rng.uniform([-0.15, -0.2, -0.33], [0.2, 0.2, 0.05])
    target[:3, :3] = geo.axisangle_to_mat(axis * angle) @ home[:3, :3]
    return target


def bench_tracking(num_targets: int, steps: int, seed: int = 0) -> TrackingResult:
    """Drive the stack world's arm to random targets with clipped delta-pose actions; steady-state errors."""
    world = df.make_world(df.get_task("stack"))
    env, task = world.env, world.task
    rng = np.random.default_rng(seed)
    offsets, angles, pos, rot, speed, settle = [], [], [], [], [], []
    for _ in range(num_targets):
        task.reset(env, rng, "D0")
        home = env.eef_pose()
        target = random_target(home, rng)
        offsets.append(target[:3, 3] - home[:3, 3])
        angles.append(np.rad2deg(geo.pose_error(home, target)[1]))
        settled = None
        for k in range(steps):
            env.step(np.clip(target_to_action(env.eef_pose(), env.world_T_base, target, -1.0), -1.0, 1.0))
            p, r = geo.pose_error(env.eef_pose(), target)
            if settled is None and p * 1e3 <= TARGET_POS_MM and np.rad2deg(r) <= TARGET_ROT_DEG:
                settled = k + 1
        pos.append(p * 1e3)
        rot.append(np.rad2deg(r))
        speed.append(float(np.abs(env.data.qvel[env.arm_dof_adr]).max()))
        settle.append(settled)
    return TrackingResult(np.array(offsets), np.array(angles), np.array(pos), np.array(rot), np.array(speed), settle)


def tracking_section(res: TrackingResult, steps: int) -> str:
    """Markdown for section 2."""
    settled = [s for s in res.settle_steps if s is not None]
    settle = f"a median {np.median(settled):.0f} control steps ({np.median(settled) / 20:.2f} s)" if settled else "-"
    ok = (res.pos_mm <= TARGET_POS_MM) & (res.rot_deg <= TARGET_ROT_DEG)
    misses = []
    if not ok.all():
        misses = [
            "Targets outside the limits at the end:",
            "",
            "| offset from home (m) | rotation (deg) | position error (mm) | rotation error (deg) | max joint speed (rad/s) |",
            "|---|--:|--:|--:|--:|",
        ]
        misses += [
            f"| {np.array2string(res.offsets[i], precision=3, separator=', ')} | {res.angles_deg[i]:.1f} | "
            f"{res.pos_mm[i]:.2f} | {res.rot_deg[i]:.2f} | {res.joint_speed[i]:.3f} |"
            for i in np.flatnonzero(~ok)
        ]
        misses.append("")
    return "\n".join(
        [
            "## 2. Controller tracking",
            "",
            f"{len(res.pos_mm)} random targets where the tasks work (-15..+20 cm forward, +-20 cm sideways, -33..+5 cm "
            "up from the home pose, i.e. down to 7 cm above the table; turned up to 17 deg about a random axis) in the "
            f"stack world; clipped `target_to_action` actions for {steps} control steps ({steps / 20:.0f} s), "
            "then the end-effector error (`geometry.pose_error`).",
            "",
            "| metric | mean | max | target |",
            "|---|--:|--:|--:|",
            f"| position error (mm) | {res.pos_mm.mean():.3f} | {res.pos_mm.max():.3f} | <= {TARGET_POS_MM:g} "
            f"({verdict(res.pos_mm.max() <= TARGET_POS_MM)}) |",
            f"| rotation error (deg) | {res.rot_deg.mean():.3f} | {res.rot_deg.max():.3f} | <= {TARGET_ROT_DEG:g} "
            f"({verdict(res.rot_deg.max() <= TARGET_ROT_DEG)}) |",
            "",
            f"Within both targets at the end: {int(np.sum(ok))}/{len(ok)} targets; first reached after {settle}. "
            f"Arm still moving at the end (max joint speed > 0.01 rad/s): {int(np.sum(res.joint_speed > 0.01))} targets.",
            "",
            *misses,
        ]
    )


# ---- 3. raw physics and the control-step split --------------------------------------------------
def stack_world(seed: int = 0) -> World:
    """A stack world reset to a D0 scene, arm holding home."""
    world = df.make_world(df.get_task("stack"))
    world.task.reset(world.env, np.random.default_rng(seed), "D0")
    return world


def bench_raw_physics(seconds: float) -> tuple[float, int]:
    """Raw ``mj_step`` steps per second on the stack model with the arm holding home (no Python controller)."""
    env = stack_world().env
    start_state = env.get_state()
    steps, chunk = 0, 1000
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        env.set_state(start_state)  # objects settle after a while; restart so contacts stay representative
        mujoco.mj_step(env.model, env.data, nstep=chunk)
        steps += chunk
    return steps / (time.perf_counter() - start), env.substeps


def bench_control_split(num_steps: int, seed: int = 0) -> dict[str, float]:
    """Mean ms per control step of the real ``Recorder.step``, split by timing its physics and IK calls."""
    world = stack_world(seed)
    env = world.env
    rng = np.random.default_rng(seed)
    spent = {"physics": 0.0, "ik": 0.0}
    real_step, real_solve = mujoco.mj_step, env.ik.solve

    def timed_step(model: mujoco.MjModel, data: mujoco.MjData, nstep: int = 1) -> None:
        start = time.perf_counter()
        real_step(model, data, nstep=nstep)
        spent["physics"] += time.perf_counter() - start

    def timed_solve(q: np.ndarray, target: np.ndarray) -> np.ndarray:
        start = time.perf_counter()
        out = real_solve(q, target)
        spent["ik"] += time.perf_counter() - start
        return out

    recorder = Recorder(world, max_steps=num_steps)
    recorder.start()
    home = env.eef_pose()
    mujoco.mj_step, env.ik.solve = timed_step, timed_solve
    try:
        start = time.perf_counter()
        for k in range(num_steps):
            if k % 40 == 0:
                target = random_target(home, rng)
            recorder.step(target, -1.0)
        total = time.perf_counter() - start
    finally:
        mujoco.mj_step, env.ik.solve = real_step, real_solve
    parts = {
        "physics (mj_step x substeps)": spent["physics"],
        "IK solve": spent["ik"],
        "recording, action math, signals, success and stability checks": total - spent["physics"] - spent["ik"],
    }
    return {name: 1e3 * v / num_steps for name, v in parts.items()}


def physics_section(steps_per_s: float, substeps: int, split: dict[str, float]) -> str:
    """Markdown for section 3."""
    total = sum(split.values())
    lines = [
        "## 3. Raw physics speed",
        "",
        f"Raw `mj_step` on the stack model (D0 scene, arm holding home, no Python controller): **{steps_per_s:,.0f} "
        f"physics steps/s** = {steps_per_s / substeps:,.0f} control steps/s ({substeps} substeps per 20 Hz control step). "
        "This is the physics limit of one core; "
        "states met during generation (grasps, stacked objects) step slower, see *raw mj_step us/step* in section 1.",
        "",
        "Where one control step's time goes (the real `Recorder.step`, arm tracking random targets):",
        "",
        "| part | ms / control step | share |",
        "|---|--:|--:|",
    ]
    lines += [f"| {name} | {ms:.3f} | {ms / total:.0%} |" for name, ms in split.items()]
    lines += [f"| total | {total:.3f} | 100% |", ""]
    return "\n".join(lines)


# ---- main ---------------------------------------------------------------------------------------
def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="markdown report path (also printed)")
    parser.add_argument("--quick", action="store_true", help=f"smoke run: {QUICK_ATTEMPTS} attempts per run, fewer samples")
    parser.add_argument("--attempts", type=int, default=None, help="attempts per task and variation (overrides defaults)")
    parser.add_argument("--tasks", nargs="+", default=None, help=f"tasks to generate (default: all of {', '.join(df.TASKS)})")
    parser.add_argument("--variations", nargs="+", default=list(VARIATIONS), help="variations to generate in")
    parser.add_argument(
        "--generation-only", action="store_true",
        help="only section 1 (generation rate and overhead against raw mj_step): minutes instead of an hour",
    )
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    command = shlex.join(getattr(sys, "orig_argv", [sys.executable, *sys.argv]))
    tasks = args.tasks or list(df.TASKS)
    for task in tasks:
        df.get_task(task)  # unknown name -> clear error now
    per_task = args.attempts or (QUICK_ATTEMPTS if args.quick else None)
    attempts = {t: per_task or DEFAULT_ATTEMPTS.get(t, 100) for t in tasks}
    raw_samples = 5 if args.quick else 20
    num_targets, track_steps = (8 if args.quick else 100), 60
    physics_s = 0.5 if args.quick else 3.0
    split_steps = 100 if args.quick else 600

    load_start, src_start = load_average(), source_hash()
    start = time.perf_counter()
    if args.generation_only:
        with tempfile.TemporaryDirectory(prefix="demoforge_bench_") as tmp:
            rows = bench_generation(tasks, attempts, raw_samples, Path(tmp), tuple(args.variations))
        report = "\n".join([
            header(command, load_start, load_average(), src_start, source_hash()), generation_section(rows),
            f"Benchmark run time: {time.perf_counter() - start:.0f} s.", "",
        ])
        print(report)
        if args.out is not None:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(report)
            log(f"wrote {args.out}")
        return
    scene_tasks = [t for t in ("stack", "square") if t in tasks]
    with tempfile.TemporaryDirectory(prefix="demoforge_bench_") as tmp:
        rows = bench_generation(tasks, attempts, raw_samples, Path(tmp), tuple(args.variations))
        log("scene variation ...")
        scene_rows = scenes.dgr_by_family(scene_tasks, 6 if args.quick else 60, Path(tmp))
        log("camera observations ...")
        camera_rows = scenes.camera_generation_cost(Path(tmp), 3 if args.quick else 20)
        log("datasets out ...")
        data_result = datasets.bench_datasets(Path(tmp), 4 if args.quick else 20)
        log("scale ...")
        scale_result = scale.bench_scale(Path(tmp), 24 if args.quick else 200)
        log("data safety ...")
        safety_result = safety.bench_safety(Path(tmp), 5 if args.quick else 20)
        pour_scenes = None
        if "pour" in tasks:
            log("pour: generation in tabletop scenes ...")
            pour_scenes = pour.scene_dgr(source_file("pour", Path(tmp), SOURCE_SEEDS[0]),
                                         QUICK_ATTEMPTS if args.quick else attempts["pour"], Path(tmp))
    sweep = []
    if "pour" in tasks:
        log("pour: physics step sweep ...")
        sweep = pour.timestep_sweep(2 if args.quick else 8)
    compile_ms = scenes.compile_times(5 if args.quick else 20)
    fps = scenes.render_fps(frames=10 if args.quick else 60)
    stack_rows = [r for r in rows if r.task == "stack"]
    attempt_ms = 1e3 / stack_rows[0].attempts_per_s if stack_rows else float("nan")
    log("controller tracking ...")
    tracking = bench_tracking(num_targets, track_steps)
    log("raw physics ...")
    steps_per_s, substeps = bench_raw_physics(physics_s)
    split = bench_control_split(split_steps)
    total = time.perf_counter() - start

    report = "\n".join(
        [
            header(command, load_start, load_average(), src_start, source_hash()),
            generation_section(rows),
            tracking_section(tracking, track_steps),
            physics_section(steps_per_s, substeps, split),
            scenes.scenes_section(compile_ms, scene_rows, fps, attempt_ms),
            scenes.cameras_section(camera_rows),
            datasets.datasets_section(data_result),
            scale.scale_section(scale_result),
            pour.pour_section([r for r in rows if r.task == "pour"], sweep, pour_scenes) if sweep else "",
            safety.safety_section(safety_result),
            f"Benchmark run time: {total:.0f} s.",
            "",
        ]
    )
    print(report)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report)
        log(f"wrote {args.out}")


if __name__ == "__main__":
    main()

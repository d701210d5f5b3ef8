"""GR1 (humanoid, two dexterous hands): raw physics speed in the tabletop scene, the cost of a control step,
and how closely each wrist tracks targets at rest.

    python benchmarks/gr1.py [--targets 50] [--out docs/benchmarks.md]   # writes or replaces section 10
"""

from __future__ import annotations

import argparse
import time
from datetime import date
from pathlib import Path

import mujoco
import numpy as np
from scipy.spatial.transform import Rotation

from demoforge import geometry as geo
from demoforge import machine
from demoforge.sim.env import SimEnv
from demoforge.sim.robot import GR1
from demoforge.sim.scene import base_scene, compile_scene
from sections import write_section

SECTION = "## 10. GR1 humanoid"
STEPS = 60  # control steps (3 s) per target


def gr1_env() -> SimEnv:
    model, _ = compile_scene(base_scene(GR1))
    return SimEnv(model, GR1)


def raw_steps_per_s(env: SimEnv, steps: int = 5000) -> float:
    env.reset()
    start = time.perf_counter()
    mujoco.mj_step(env.model, env.data, nstep=steps)
    return steps / (time.perf_counter() - start)


def control_step_ms(env: SimEnv, steps: int = 400) -> float:
    """One 20 Hz control step through ``SimEnv.step`` (IK for both arms, hand targets, the physics)."""
    env.reset()
    action = np.zeros(GR1.action_dim)
    start = time.perf_counter()
    for _ in range(steps):
        env.step(action)
    return 1000 * (time.perf_counter() - start) / steps


def tracking(env: SimEnv, targets: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Per arm: position (mm) and rotation (deg) errors after STEPS control steps toward random absolute targets
    around home (-5..+8 cm forward, +-6 cm sideways, -8..+5 cm up; turned up to 10 deg about a random axis)."""
    rng = np.random.default_rng(seed)
    errors: dict[str, list[tuple[float, float]]] = {arm.name: [] for arm in env.arms}
    for _ in range(targets):
        for i, arm in enumerate(env.arms):
            env.reset()
            home = env.eef_pose(i)
            target = home.copy()
            target[:3, 3] += rng.uniform([-0.05, -0.06, -0.08], [0.08, 0.06, 0.05])
            turn = Rotation.from_rotvec(rng.normal(size=3) / np.sqrt(3) * np.radians(rng.uniform(0, 10)))
            target[:3, :3] = turn.as_matrix() @ target[:3, :3]
            hands = -np.ones(arm.config.eef_dim)
            for _ in range(STEPS):
                env.apply_target(target, hands, i)
                env.step_physics()
            pos, rot = geo.pose_error(env.eef_pose(i), target)
            errors[arm.name].append((1000 * pos, float(np.degrees(rot))))
    return {name: np.array(rows) for name, rows in errors.items()}


def section(env: SimEnv, raw: float, control_ms: float, errors: dict[str, np.ndarray], seconds: float) -> str:
    substeps, model = env.substeps, env.model
    limit_ms = 1000 * substeps / raw
    rows = []
    for name, e in errors.items():
        within = int(np.sum((e[:, 0] <= 5.0) & (e[:, 1] <= 2.0)))
        rows.append(f"| {name} | {len(e)} | {np.median(e[:, 0]):.2f} | {e[:, 0].max():.2f} | {np.median(e[:, 1]):.3f} "
                    f"| {e[:, 1].max():.3f} | {within}/{len(e)} |")
    return "\n".join([
        SECTION,
        "",
        f"- date: {date.today().isoformat()}; machine: {machine.describe()}",
        f"- command: `python benchmarks/gr1.py` ({seconds:.0f} s); `gr1` in the default tabletop scene (Fourier GR1 "
        f"upper body, two Fourier hands, from the pinned robosuite 1.5.2 pack; {model.njnt} joints, "
        f"{model.nu} actuators, {model.nmesh} meshes)",
        "",
        f"Raw `mj_step` at home: **{raw:,.0f} physics steps/s** on one core = {raw / substeps:,.0f} control steps/s "
        f"({substeps} substeps per 20 Hz control step). A control step through `SimEnv.step` (IK for both wrists, "
        f"24-D action) takes {control_ms:.2f} ms against {limit_ms:.2f} ms of raw physics: "
        f"**{control_ms / limit_ms:.2f}x** the physics limit.",
        "",
        f"Wrist tracking at rest: random absolute targets around home, {STEPS} control steps (3 s) each, then the "
        "grip site's error (`geometry.pose_error`). Target: within 5 mm and 2 deg.",
        "",
        "| arm | targets | median mm | max mm | median deg | max deg | within 5 mm and 2 deg |",
        "|---|--:|--:|--:|--:|--:|--:|",
        *rows,
        "",
        "A miss is a target forward and down at the edge of what the arm reaches from this home pose (shoulder roll "
        "and elbow at their limits); the GR1 tasks will set a home pose lower and nearer the table.",
        "",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=50, help="random targets per arm")
    parser.add_argument("--out", type=Path, default=None, help="markdown file to write section 10 into")
    args = parser.parse_args()
    start = time.perf_counter()
    env = gr1_env()
    raw = max(raw_steps_per_s(env) for _ in range(3))
    control = min(control_step_ms(env) for _ in range(3))
    errors = tracking(env, args.targets)
    text = section(env, raw, control, errors, time.perf_counter() - start)
    print(text)
    if args.out is not None:
        write_section(args.out, SECTION, text)


if __name__ == "__main__":
    main()

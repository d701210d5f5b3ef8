"""GR1 (humanoid, two dexterous hands): raw physics speed in the tabletop scene, the cost of a control step,
how closely each palm tracks targets at rest, and generation on every GR1 task (data generation rate,
attempts/s, overhead against raw `mj_step` on the task's own scene, and the head camera's cost).

    python benchmarks/gr1.py [--targets 50] [--attempts 45] [--kitchen-attempts 30] [--out docs/benchmarks.md]   # section 10
"""

from __future__ import annotations

import argparse
import sys
import tempfile
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
from demoforge.sim.scene import base_scene
from run import bench_generation  # noqa: E402  (benchmarks/run.py: section 1's method)
from sections import write_section

TASKS = ("gr1_box_lift", "gr1_pick_place", "gr1_handover", "gr1_pour")
TARGET_DGR, TARGET_KITCHEN_DGR, TARGET_OVERHEAD = 0.7, 0.5, 1.6

SECTION = "## 10. GR1 humanoid"
STEPS = 60  # control steps (3 s) per target


def gr1_env() -> SimEnv:
    model = base_scene(GR1).compile()
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


def head_camera(work: Path, attempts: int) -> dict[str, float]:
    """gr1_box_lift attempts/s without cameras, with the head camera at 84x84, and with it drawing GR1's full
    body meshes instead of the pack's decimated ones (one process, same sources)."""
    import functools

    import demoforge as df
    import demoforge.sim.gr1 as gr1

    source, _ = df.record_sources("gr1_box_lift", num=10, out=work / "head_src.hdf5", seed=0)
    out = {}
    fast_spec = gr1.gr1_spec
    for label, cameras, spec in (("none", [], fast_spec), ("head 84x84", ["head"], fast_spec),
                                 ("full meshes", ["head"], functools.partial(fast_spec, fast_visuals=False))):
        gr1.gr1_spec = spec  # the robot is built by name inside generate: swap its builder for this run
        cfg = df.GenerateConfig(task="gr1_box_lift", source=str(source), num_demos=attempts, max_attempts=attempts,
                                variation="D1", cameras=cameras, image_size=84)
        try:
            stats = df.generate(cfg, work / f"head_{label.replace(' ', '_')}", workers=1)
        finally:
            gr1.gr1_spec = fast_spec
        out[label] = stats.attempts / stats.wall_time_s
    return out


def generation_rows(rows: list) -> list[str]:
    lines = []
    for r in rows:
        st = r.stats
        lines.append(
            f"| {r.task} | {r.variation} | {st.successes}/{st.attempts} | **{st.dgr:.1%}** "
            f"({', '.join(f'{d:.0%}' for d in r.dgr_per_source_set)}) | {r.attempts_per_s:.2f} | "
            f"{1e6 * r.raw_s_per_step:.1f} | **{r.overhead:.2f}** | {r.overhead_cpu:.2f} |"
        )
    return lines


def section(env: SimEnv, raw: float, control_ms: float, errors: dict[str, np.ndarray], seconds: float,
            gen: list | None = None, head: dict[str, float] | None = None) -> str:
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
        f"- command: `python benchmarks/gr1.py {' '.join(sys.argv[1:])}` ({seconds:.0f} s); `gr1` in the default "
        f"tabletop scene (Fourier GR1 "
        f"upper body, two Fourier hands, from the pinned robosuite 1.5.2 pack; {model.njnt} joints, "
        f"{model.nu} actuators, {model.nmesh} meshes)",
        "",
        f"Raw `mj_step` at home: **{raw:,.0f} physics steps/s** on one core = {raw / substeps:,.0f} control steps/s "
        f"({substeps} substeps per 20 Hz control step). A control step through `SimEnv.step` (IK for both wrists, "
        f"24-D action) takes {control_ms:.2f} ms against {limit_ms:.2f} ms of raw physics: "
        f"**{control_ms / limit_ms:.2f}x** the physics limit.",
        "",
        f"Wrist tracking at rest: random absolute targets around home, {STEPS} control steps (3 s) each, then the "
        "palm site's error (`geometry.pose_error`). Target: within 5 mm and 2 deg.",
        "",
        "| arm | targets | median mm | max mm | median deg | max deg | within 5 mm and 2 deg |",
        "|---|--:|--:|--:|--:|--:|--:|",
        *rows,
        "",
        "The end-effector is the centre of the palm's face (`palm_site`). GR1 stands at the table with its pelvis 5 cm "
        "below the top (a counter at hip height), as DexMimicGen's GR1 tables put it.",
        "",
        *([] if not gen else [
            "**Generation on every GR1 task** (section 1's method: 3 source sets of 10 scripted demos each, "
            "the attempts spread over them, one process; raw `mj_step` timed on each run's own scene and states). "
            f"Targets: data generation rate >= {TARGET_DGR:.0%} on D1 and >= {TARGET_KITCHEN_DGR:.0%} at D2 in "
            "kitchens (`--scenes kitchen`: a new kitchen per attempt, from the same D0 sources), overhead <= "
            f"{TARGET_OVERHEAD}x raw physics (on D1; a kitchen attempt also compiles its new scene, which the "
            "wall time includes).",
            "",
            "| task | var | successes | DGR (per source set) | attempts/s | raw mj_step us/step | overhead (wall) "
            "| overhead (CPU) |",
            "|---|---|--:|--:|--:|--:|--:|--:|",
            *generation_rows(gen),
            "",
        ]),
        *([] if not head else [
            f"**Head camera** (gr1_box_lift D1, one process): {head['none']:.2f} attempts/s without cameras, "
            f"{head['head 84x84']:.2f} with the head camera rendered at 84x84 into every step "
            f"({head['none'] / head['head 84x84']:.1f}x slower; llvmpipe, shadows and multisampling off). GR1's "
            "body is drawn with the pack's decimated meshes (a fifth of 437k triangles, made at `assets install`) "
            "and the hands' collision geoms, which repeat their visual meshes, are left out of pictures; with the "
            f"full body meshes it is {head['full meshes']:.2f} attempts/s "
            f"({head['none'] / head['full meshes']:.1f}x slower). Physics is the same either way.",
            "",
        ]),
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=50, help="random targets per arm")
    parser.add_argument("--attempts", type=int, default=45, help="generation attempts per task (0: skip generation)")
    parser.add_argument("--kitchen-attempts", type=int, default=30,
                        help="generation attempts per task at D2 in a new kitchen each (0: skip)")
    parser.add_argument("--out", type=Path, default=None, help="markdown file to write section 10 into")
    args = parser.parse_args()
    start = time.perf_counter()
    env = gr1_env()
    raw = max(raw_steps_per_s(env) for _ in range(3))
    control = min(control_step_ms(env) for _ in range(3))
    errors = tracking(env, args.targets)
    gen, head = None, None
    if args.attempts:
        with tempfile.TemporaryDirectory(prefix="demoforge_gr1_") as tmp:
            gen = bench_generation(list(TASKS), {t: args.attempts for t in TASKS}, 10, Path(tmp), ("D1",))
            if args.kitchen_attempts:
                gen += bench_generation(list(TASKS), {t: args.kitchen_attempts for t in TASKS}, 10, Path(tmp), ("D2",),
                                        scenes="kitchen")
            head = head_camera(Path(tmp), max(10, args.attempts // 2))
    text = section(env, raw, control, errors, time.perf_counter() - start, gen, head)
    print(text)
    if args.out is not None:
        write_section(args.out, SECTION, text)


if __name__ == "__main__":
    main()

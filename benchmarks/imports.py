"""Your task, your robot, your demos (issue 19): what task files cost against the Python tasks they re-express,
how fast demos import, how imported robosuite demos generate, and how built-in robots pass ``robots --check``.

    python benchmarks/imports.py [--attempts 60] [--out docs/benchmarks.md]   # section 12
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

import demoforge as df
from demoforge import machine
from demoforge.capture.imports.lerobot import import_lerobot
from demoforge.capture.imports.robomimic import import_robomimic
from demoforge.data.lerobot import export_lerobot
from demoforge.sim.robot import load_robot
from demoforge.sim.robot_check import check_tracking
from gr1 import generation_rows  # noqa: E402  (benchmarks/gr1.py: section 1's table)
from run import bench_generation, raw_step_seconds  # noqa: E402  (benchmarks/run.py: section 1's method)
from sections import write_section

SECTION = "## 12. Your tasks, robots and demos"
FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "robosuite_stack.hdf5"


def timed(fn: object, *args: object, **kwargs: object) -> tuple[object, float]:
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def imports(work: Path) -> list[str]:
    """Import speed: the robosuite fixture, and a 10-demo LeRobot export with and without joint positions."""
    rows = []
    (_, tracks), seconds = timed(import_robomimic, FIXTURE, "stack", work / "rs.hdf5", overwrite=True)
    steps = sum(len(t.actions) for t in tracks)
    rows.append(f"| robomimic (robosuite 1.5.2 `Stack`, states re-read in MuJoCo) | {len(tracks)} | {steps} | "
                f"{seconds:.2f} | {steps / seconds:,.0f} |")
    src, _ = df.record_sources("stack", 10, work / "df_src.hdf5", seed=0)
    export_lerobot(src, work / "lerobot")
    (_, tracks), seconds = timed(import_lerobot, work / "lerobot", "stack", work / "lr.hdf5", overwrite=True)
    steps = sum(len(t.actions) for t in tracks)
    rows.append(f"| LeRobot (demoforge's export; arm set from its joint positions) | {len(tracks)} | {steps} | "
                f"{seconds:.2f} | {steps / seconds:,.0f} |")
    poses_only = work / "lerobot_poses"
    shutil.copytree(work / "lerobot", poses_only)
    info = json.loads((poses_only / "meta/info.json").read_text())
    del info["features"]["observation.joint_pos"]
    (poses_only / "meta/info.json").write_text(json.dumps(info))
    import pyarrow.parquet as pq

    for file in (poses_only / "data").rglob("*.parquet"):
        pq.write_table(pq.read_table(file).drop_columns(["observation.joint_pos"]), file)
    (_, tracks), seconds = timed(import_lerobot, poses_only, "stack", work / "lr_ik.hdf5", overwrite=True)
    rows.append(f"| LeRobot without joint positions (arm set by inverse kinematics) | {len(tracks)} | {steps} | "
                f"{seconds:.2f} | {steps / seconds:,.0f} |")
    return rows


def imported_generation(work: Path, attempts: int) -> list[str]:
    """Generation from the 10 imported robosuite demos: DGR and speed against raw ``mj_step`` (section 1's ratio)."""
    rows = []
    for variation in ("D0", "D1", "D2"):
        cfg = df.GenerateConfig(task="stack", source=str(work / "rs.hdf5"), num_demos=10 * attempts,
                                max_attempts=attempts, variation=variation, seed=0)
        run_dir = work / f"rs_{variation}"
        stats, seconds = timed(df.generate, cfg, run_dir)
        raw, _ = raw_step_seconds(run_dir, 10, np.random.default_rng(0))
        overhead = seconds / (raw * stats.physics_steps)
        rows.append(f"| {variation} | {stats.successes}/{stats.attempts} | **{stats.dgr:.1%}** | "
                    f"{stats.attempts / seconds:.2f} | {raw * 1e6:.1f} | {overhead:.2f} |")
    return rows


def robots() -> list[str]:
    rows = []
    for name in ("panda", "bimanual_panda", "gr1"):
        (targets, grips), seconds = timed(check_tracking, load_robot(name))
        settle = [t.settle_s for t in targets if t.settle_s is not None]
        rows.append(f"| {name} | {len(targets)} | {max(t.error_mm for t in targets):.2f} | "
                    f"{max(t.error_deg for t in targets):.2f} | {max(settle):.2f} | "
                    f"{'all' if all(t.ok for t in targets) and all(g.ok for g in grips) else 'NOT all'} | {seconds:.1f} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=60, help="generation attempts per row")
    parser.add_argument("--out", type=Path, default=None, help="markdown file to write section 12 into")
    args = parser.parse_args()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="demoforge_imports_") as tmp:
        work = Path(tmp)
        attempts = {t: args.attempts for t in ("stack", "stack.toml", "stack_three", "stack_three.toml")}
        file_rows = bench_generation(list(attempts), attempts, 10, work, ("D1",))
        import_rows = imports(work)
        generation = imported_generation(work, 2 * args.attempts)
    robot_rows = robots()
    seconds = time.perf_counter() - start
    text = "\n".join([
        SECTION,
        "",
        f"- date: {date.today().isoformat()}; machine: {machine.describe()}",
        f"- command: `python benchmarks/imports.py {' '.join(sys.argv[1:])}` ({seconds:.0f} s)",
        "",
        "**Task files against the Python tasks they re-express** (section 1's method, D1). The files record and "
        "generate the same arrays (tests/test_task_files.py), so DGR is equal; the speed difference is what "
        "reading success and signals through the predicate vocabulary costs.",
        "",
        "| task | var | successes | DGR (per source set) | attempts/s | raw mj_step us/step | overhead (wall) "
        "| overhead (CPU) |",
        "|---|---|--:|--:|--:|--:|--:|--:|",
        *generation_rows(file_rows),
        "",
        "**Import speed** (one process; steps are control steps).",
        "",
        "| import | demos | steps | seconds | steps/s |",
        "|---|--:|--:|--:|--:|",
        *import_rows,
        "",
        f"**Generation from 10 demos recorded by robosuite 1.5.2** (`tests/fixtures/robosuite_stack.hdf5`, imported "
        f"with `import robomimic`; task `stack`, {2 * args.attempts} attempts per row, one worker; overhead: wall "
        "time over raw `mj_step` time on the run's own states). Target: DGR >= 80% on D1.",
        "",
        "| var | successes | DGR | attempts/s | raw mj_step us/step | overhead (wall) |",
        "|---|--:|--:|--:|--:|--:|",
        *generation,
        "",
        "**`robots --check` on the built-in robots** (6 targets per arm, 10 cm and 30 degrees from home, each held "
        "2 s).",
        "",
        "| robot | targets | worst error (mm) | worst error (deg) | slowest settle (s) | within 5 mm, 3 deg | check (s) |",
        "|---|--:|--:|--:|--:|---|--:|",
        *robot_rows,
        "",
    ])
    print(text)
    if args.out is not None:
        write_section(args.out, SECTION, text)


if __name__ == "__main__":
    main()

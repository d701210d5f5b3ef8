"""Ablation of ``approach_radius``: whole source segments (MimicGen) against the approach only.

    python benchmarks/approach.py --doc docs/generation.md     # about 6 minutes on 2 cores

For each task, 10 scripted source demos (seed 0, D0), then the same attempts (same seed, stopped at a
fixed count) generated with ``approach_radius`` 0 and 0.1 m on D0 and D1. Reports the data generation
rate and how far the hand strays sideways while it carries something: per carry (a stretch with the
gripper closed), the largest horizontal distance from the straight line between where it closed and
where it opened. Writes a markdown table between ``<!-- bench:approach -->`` markers of ``--doc``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import tempfile
import time
from pathlib import Path

import numpy as np

import demoforge as df
from demoforge import machine
from demoforge.runner.run_folder import RunFolder

TASKS = {"stack": 200, "stack_three": 120, "square": 120}  # attempts per run
RADII = (0.0, 0.1)
MARK = "bench:approach"


def carry_detours(path: Path) -> list[float]:
    """Largest sideways stray (m) of every carry in every demo of a dataset."""
    out = []
    for demo in df.read_demos(path):
        closed = demo.datagen.gripper_action[:, 0] > 0
        edges = np.flatnonzero(np.diff(closed.astype(int)))
        starts = [e + 1 for e in edges if closed[e + 1]]
        for s in starts:
            after = np.flatnonzero(~closed[s:])
            e = s + (int(after[0]) if len(after) else len(closed) - s) - 1
            xy = demo.datagen.eef_pose[s : e + 1, :2, 3]
            line = xy[-1] - xy[0]
            length = float(np.linalg.norm(line))
            if length < 0.03:  # a lift in place, not a carry
                continue
            rel = xy - xy[0]
            out.append(float(np.max(np.abs(rel[:, 0] * line[1] - rel[:, 1] * line[0])) / length))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--doc", type=Path, help="markdown file with the marked block to fill")
    args = parser.parse_args()
    started = time.time()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for task, attempts in TASKS.items():
            src = Path(tmp) / f"{task}_src.hdf5"
            df.record_sources(task, num=10, out=src, seed=0)
            for variation in ("D0", "D1"):
                for radius in RADII:
                    out = Path(tmp) / f"{task}_{variation}_{radius}"
                    cfg = df.GenerateConfig(task=task, source=str(src), num_demos=attempts, max_attempts=attempts,
                                            variation=variation, seed=0, approach_radius=radius, keep_failed=False)
                    stats = df.generate(cfg, out)
                    detours = carry_detours(RunFolder(out).demos)
                    rows.append((task, variation, radius, stats.dgr, stats.attempts,
                                 np.median(detours) * 100, np.percentile(detours, 90) * 100,
                                 stats.control_steps / stats.attempts))
                    print(rows[-1], flush=True)
    lines = [
        f"Measured {dt.date.today()} on {machine.describe()} with `python benchmarks/approach.py --doc "
        f"docs/generation.md` ({(time.time() - started) / 60:.0f} min): 10 scripted source demos per task "
        "(seed 0, D0), the same attempts with each radius.",
        "",
        "| task | variation | `approach_radius` | DGR | attempts | sideways stray of carries, median | 90th percentile "
        "| control steps per attempt |",
        "|---|---|--:|--:|--:|--:|--:|--:|",
    ]
    for task, variation, radius, dgr, n, med, p90, steps in rows:
        label = "0 (whole segments, MimicGen)" if radius == 0 else f"{radius:g} m"
        lines.append(f"| {task} | {variation} | {label} | {dgr:.1%} | {n} | {med:.1f} cm | {p90:.1f} cm | {steps:.0f} |")
    table = "\n".join(lines)
    print(table)
    if args.doc:
        text = args.doc.read_text()
        block = f"<!-- {MARK} -->\n{table}\n<!-- /{MARK} -->"
        pattern = re.compile(rf"<!-- {MARK} -->.*?<!-- /{MARK} -->", re.S)
        if not pattern.search(text):
            raise SystemExit(f"{args.doc}: no <!-- {MARK} --> block to fill")
        args.doc.write_text(pattern.sub(lambda _: block, text))


if __name__ == "__main__":
    main()

"""Kitchens (issue 18): what the real look costs (scene compile, camera frames at the fast and the high setting,
generation overhead on `stack` in kitchens) and how the kitchen tasks generate (DGR on D1 and D2, kitchens).

    python benchmarks/kitchen.py [--attempts 45] [--out docs/benchmarks.md]   # section 11
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date
from pathlib import Path


import demoforge as df
from demoforge import machine
from demoforge.rollout.world import make_world
from demoforge.scenes.sample import sample_scene, scene_seed
from gr1 import generation_rows  # noqa: E402  (benchmarks/gr1.py: the same table)
from run import bench_generation  # noqa: E402  (benchmarks/run.py: section 1's method)
from scenes import render_fps  # noqa: E402  (benchmarks/scenes.py: section 4's)
from sections import write_section

SECTION = "## 11. Kitchens"
KITCHEN_TASKS = ("close_door", "open_drawer", "pick_place_counter_to_sink", "pick_place_cabinet", "turn_on_stove")
TARGET_DGR = 0.8
BEFORE = {  # section 4, measured before issue 18 (capsule Panda, coloured boxes): compile ms, frames/s
    "compile": {"tabletop": 20.0, "kitchen": 25.9},
    "fps": {("agentview", 84): 109, ("robot0_eye_in_hand", 84): 276, ("agentview", 256): 116,
            ("robot0_eye_in_hand", 256): 186},
}


def compile_ms(family: str, num: int = 20) -> float:
    """Mean ms to sample a scene of ``family`` and build a ready ``stack`` world from it (D2)."""
    task = df.get_task("stack")
    start = time.perf_counter()
    for i in range(num):
        scene = sample_scene(family, "D2", scene_seed(0, i), task.objects, task.placement_boxes("D2"), task.scalable)
        make_world(task, scene=scene)
    return 1e3 * (time.perf_counter() - start) / num


def section(compiles: dict[str, float], fps: dict[str, dict], stack_rows: list, task_rows: list, seconds: float,
            triangles: dict[str, int]) -> str:
    fps_rows = []
    for (camera, size), before in BEFORE["fps"].items():
        fast, high = fps["fast"][(camera, size)], fps["high"][(camera, size)]
        fps_rows.append(f"| {camera} | {size}x{size} | {before} | **{fast:.0f}** ({fast / before:.2f}x) | {high:.0f} |")
    return "\n".join([
        SECTION,
        "",
        f"- date: {date.today().isoformat()}; machine: {machine.describe()}",
        f"- command: `python benchmarks/kitchen.py {' '.join(sys.argv[1:])}` ({seconds:.0f} s)",
        "",
        "**Scene compile** (sample a scene and build a ready `stack` world, D2, mean of 20): "
        + ", ".join(f"{family} {ms:.1f} ms (before issue 18: {BEFORE['compile'][family]:.1f})"
                    for family, ms in compiles.items())
        + ". A kitchen now holds the Panda's meshes, the Franka Kitchen's microwave and a wall cabinet, a stove "
        "with turning knobs, and up to a dozen photographs (256-pixel fast copies).",
        "",
        f"**Camera frames/s** (EGL, llvmpipe CPU renderer; a D1 kitchen with `stack`'s cubes). `fast` is what "
        f"training cameras and datasets use: decimated meshes ({triangles['fast']:,} triangles in this scene), "
        f"256-pixel textures, no shadows, no multisampling; `high` is for previews, videos and reports: full "
        f"meshes ({triangles['high']:,} triangles) and pictures, shadows, 4x multisampling. Before: section 4 "
        "(capsule Panda, coloured boxes). Target: fast within 2x of before.",
        "",
        "| camera | size | before | fast (ratio to before) | high |",
        "|---|--:|--:|--:|--:|",
        *fps_rows,
        "",
        "**Generation** (section 1's method: 3 source sets of 10 scripted demos recorded on the plain table, the "
        "attempts spread over them; raw `mj_step` timed on each run's own scenes and states; a kitchen attempt "
        "also samples and compiles its own kitchen, which the wall time includes). `stack` in kitchens is the "
        f"cost of the real look on a known task (section 4 before: 3.72 attempts/s at D1). Kitchen tasks' target: "
        f"DGR >= {TARGET_DGR:.0%} on D1 in kitchens.",
        "",
        "| task | var | successes | DGR (per source set) | attempts/s | raw mj_step us/step | overhead (wall) "
        "| overhead (CPU) |",
        "|---|---|--:|--:|--:|--:|--:|--:|",
        *generation_rows(stack_rows + task_rows),
        "",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=45, help="generation attempts per task and variation")
    parser.add_argument("--out", type=Path, default=None, help="markdown file to write section 11 into")
    args = parser.parse_args()
    start = time.perf_counter()
    compiles = {family: min(compile_ms(family) for _ in range(2)) for family in ("tabletop", "kitchen")}
    fps = {quality: {(camera, size): rate for camera, size, rate in render_fps(quality=quality)}
           for quality in ("fast", "high")}
    task = df.get_task("stack")
    scene = sample_scene("kitchen", "D1", 0, task.objects, task.placement_boxes("D1"), task.scalable)
    triangles = {q: int(make_world(task, scene=scene, quality=q).env.model.nmeshface) for q in ("fast", "high")}
    with tempfile.TemporaryDirectory(prefix="demoforge_kitchen_") as tmp:
        attempts = {t: args.attempts for t in ("stack", *KITCHEN_TASKS)}
        stack_rows = bench_generation(["stack"], attempts, 10, Path(tmp), ("D1",), scenes="kitchen")
        task_rows = bench_generation(list(KITCHEN_TASKS), attempts, 10, Path(tmp), ("D1",))
        for level in ("D1", "D2"):
            task_rows += bench_generation(list(KITCHEN_TASKS), attempts, 10, Path(tmp), (level,), scenes="kitchen")
    text = section(compiles, fps, stack_rows, task_rows, time.perf_counter() - start, triangles)
    print(text)
    if args.out is not None:
        write_section(args.out, SECTION, text)


if __name__ == "__main__":
    main()

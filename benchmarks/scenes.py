"""Scene-variation benchmarks: sample + compile cost, DGR by family and level, offscreen render speed."""

from __future__ import annotations

import time
from pathlib import Path

import mujoco
import numpy as np

import demoforge as df
from demoforge.runner.run_folder import RunStats
from demoforge.scenes.sample import FAMILIES, sample_scene, scene_seed
from demoforge.rollout.world import make_world

LEVELS = ("D0", "D1", "D2")


def compile_times(num: int = 20) -> dict[str, float]:
    """Mean ms to sample a scene and build a ready world from it, per family (stack's objects)."""
    task = df.get_task("stack")
    out = {}
    for family in FAMILIES:
        start = time.perf_counter()
        for i in range(num):
            scene = sample_scene(family, "D2", scene_seed(0, i), task.objects, task.placement_boxes("D2"), task.scalable)
            make_world(task, scene=scene)
        out[family] = 1e3 * (time.perf_counter() - start) / num
    return out


def dgr_by_family(tasks: list[str], attempts: int, work: Path) -> list[tuple[str, str, str, RunStats]]:
    """(task, family, level, stats) for the default scene and every family at every level."""
    rows = []
    for task in tasks:
        source, _ = df.record_sources(task, 10, work / f"{task}_scene_sources.hdf5", seed=0)
        for family in ("default", *FAMILIES):
            for level in LEVELS:
                cfg = df.GenerateConfig(
                    task=task, source=str(source), num_demos=10 * attempts, max_attempts=attempts, variation=level,
                    scenes=None if family == "default" else family,
                )
                stats = df.generate(cfg, work / f"{task}_{family}_{level}")
                rows.append((task, family, level, stats))
    return rows


def render_fps(sizes: tuple[int, ...] = (84, 256), frames: int = 60, quality: str = "fast") -> list[tuple[str, int, float]]:
    """(camera, size, frames/s) in a kitchen scene drawn at ``quality`` (fast: shadows and multisampling off)."""
    task = df.get_task("stack")
    scene = sample_scene("kitchen", "D1", 0, task.objects, task.placement_boxes("D1"), task.scalable)
    world = make_world(task, scene=scene, quality=quality)
    task.reset(world.env, np.random.default_rng(0), "D1")
    out = []
    for size in sizes:
        renderer = mujoco.Renderer(world.env.model, size, size)
        for camera in ("agentview", "robot0_eye_in_hand"):
            renderer.update_scene(world.env.data, camera=camera)
            renderer.render()
            start = time.perf_counter()
            for _ in range(frames):
                renderer.update_scene(world.env.data, camera=camera)
                renderer.render()
            out.append((camera, size, frames / (time.perf_counter() - start)))
        renderer.close()
    return out


def camera_generation_cost(work: Path, attempts: int) -> list[tuple[str, int, RunStats]]:
    """(cameras, size, stats) of stack D0 generation without and with camera observations."""
    source, _ = df.record_sources("stack", 10, work / "stack_camera_sources.hdf5", seed=0)
    out = []
    for cameras, size in (([], 84), (["agentview", "wrist"], 84), (["agentview", "wrist"], 256)):
        cfg = df.GenerateConfig(
            task="stack", source=str(source), num_demos=10 * attempts, max_attempts=attempts, variation="D0",
            cameras=cameras, image_size=size,
        )
        out.append((",".join(cameras) or "none", size, df.generate(cfg, work / f"cams_{len(cameras)}_{size}")))
    return out


def cameras_section(rows: list[tuple[str, int, RunStats]]) -> str:
    """Markdown: what camera observations cost during generation (stack, D0)."""
    base = rows[0][2]
    base_ms = 1e3 * base.wall_time_s / base.control_steps
    lines = [
        "Camera observations during generation (stack D0; `--cameras`, rendered at every control step):",
        "",
        "| cameras | size | attempts/s | ms per control step | rendering ms per frame |",
        "|---|--:|--:|--:|--:|",
    ]
    for cameras, size, s in rows:
        step_ms = 1e3 * s.wall_time_s / s.control_steps
        frames = 0 if cameras == "none" else len(cameras.split(","))
        per_frame = f"{(step_ms - base_ms) / frames:.2f}" if frames else "-"
        lines.append(f"| {cameras} | {size}x{size} | {s.attempts_per_s:.2f} | {step_ms:.2f} | {per_frame} |")
    lines.append("")
    return "\n".join(lines)


def scenes_section(
    compile_ms: dict[str, float], rows: list[tuple[str, str, str, RunStats]], fps: list, attempt_ms: float
) -> str:
    """Markdown for the scene-variation section."""
    lines = [
        "## 4. Scene variation",
        "",
        "Sampling a scene and compiling a ready world from it (stack objects, D2, mean of 20): "
        + ", ".join(f"{family} {ms:.1f} ms" for family, ms in compile_ms.items())
        + f"; one stack attempt takes {attempt_ms:.0f} ms, so a fresh scene per attempt costs "
        f"{max(compile_ms.values()) / attempt_ms:.0%} of an attempt at most.",
        "",
        "Data generation rate by scene family and level (10 source demos recorded in the default D0 scene, seed 0; "
        "`default` = the fixed scene; families sample a new scene per attempt, and the level sets both the object "
        "placement and how far the scene varies). For the same run seed both families draw the same placements, "
        "object sizes, masses, frictions, lights and distractors, so the two rows differ only by the kitchen's fixtures "
        "and camera:",
        "",
        "| task | scenes | level | attempts | DGR | scenes rejected | attempts/s | failures |",
        "|---|---|---|--:|--:|--:|--:|---|",
    ]
    for task, family, level, s in rows:
        fails = ", ".join(f"{k}: {v}" for k, v in s.failures.items()) or "none"
        lines.append(
            f"| {task} | {family} | {level} | {s.attempts} | {s.dgr:.1%} | {s.scenes_rejected} | "
            f"{s.attempts_per_s:.2f} | {fails} |"
        )
    lines += [
        "",
        "Offscreen rendering (EGL, llvmpipe CPU renderer; shadows and multisampling off), kitchen scene:",
        "",
        "| camera | size | frames/s |",
        "|---|--:|--:|",
    ]
    lines += [f"| {camera} | {size}x{size} | {rate:.0f} |" for camera, size, rate in fps]
    lines.append("")
    return "\n".join(lines)

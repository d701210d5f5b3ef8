"""A labelled grid video of a run: generated demos side by side, each with its sources and outcome."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from demoforge.data.hdf5 import demo_names, open_dataset, read_demos, read_meta
from demoforge.data.video import caption, grid_frames, write_video
from demoforge.errors import DemoforgeError, InputFileError
from demoforge.rollout.replay import render_frames
from demoforge.runner.pool import ordered_map, render_worker_bytes
from demoforge.runner.run_folder import DEMOS, RunFolder
from demoforge.sim.quality import Quality
from demoforge.sim.render import check_image_size
from demoforge.rollout.world import env_for_demo

KEPT_COLOUR = (140, 255, 140)
FAILED_COLOUR = (255, 140, 120)


@dataclass(frozen=True)
class Clip:
    """One tile of the grid: which demo of which file, and how to draw it."""

    path: str
    name: str
    camera: str
    width: int
    height: int
    robot: str | None = None
    quality: Quality = "fast"


def render_clip(clip: Clip) -> np.ndarray:
    """(T, H, W, 3) frames of one demo, captioned with its name, sources and outcome."""
    (demo,) = read_demos(clip.path, require_datagen=False, names=[clip.name])
    ok = bool(demo.meta.get("success", True))
    attempt = demo.meta.get("attempt")
    title = f"{clip.name}" + (f" (attempt {attempt})" if attempt is not None else "")
    sources = "sources " + ",".join(str(s) for s in demo.source) if demo.source else "source demo"
    outcome = "success" if ok else str(demo.meta.get("reason") or "failed")
    lines = [title, sources, outcome]
    colour = KEPT_COLOUR if ok else FAILED_COLOUR
    return np.stack([caption(f, lines, colour) for f in render_frames(demo, clip.robot, clip.camera, clip.width, clip.height,
                                                                         clip.quality)])


def run_files(run: Path) -> tuple[Path, Path | None]:
    """(kept, failed-or-None) dataset files of a run folder, or of a single HDF5 file."""
    if run.is_file():
        return run, None
    folder = RunFolder(run)
    if not folder.demos.exists():
        raise InputFileError(run, f"is not a run folder (no {DEMOS}) nor an HDF5 file")
    return folder.demos, folder.failed if folder.failed.exists() else None


def pick(path: Path, count: int) -> list[str]:
    with open_dataset(path) as f:
        return demo_names(f)[:count]


def pick_failures(path: Path, count: int) -> list[str]:
    """Failed attempts that show the most: one per kind of reason, the task's own explanations (a spill)
    before the generic "subtask X failed", then the rest in attempt order."""
    reasons = {name: str(meta.get("reason", "")) for name, meta in read_meta(path).items()}
    kinds: dict[str, str] = {}
    for name, reason in reasons.items():
        kinds.setdefault(re.sub(r"\d+", "#", reason), name)
    telling = sorted(kinds.values(), key=lambda n: reasons[n].startswith("subtask"))  # stable: index order kept
    rest = [n for n in reasons if n not in telling]
    return (telling + rest)[:count]


def clip_worker_bytes(width: int, height: int) -> int:
    """Peak memory of a worker rendering clips of ``width`` x ``height``: what ``plan_workers`` divides by."""
    return render_worker_bytes(width * height * 3)


def grid_video(
    run: Path,
    out: Path,
    num: int = 16,
    failed: int = 0,
    camera: str = "agentview",
    width: int = 240,
    height: int = 180,
    columns: int | None = None,
    fps: float = 20.0,
    workers: int = 1,
    on_clip: Callable[[], None] | None = None,
    quality: Quality = "fast",
) -> tuple[Path, int]:
    """Render up to ``num`` kept demos and ``failed`` failed attempts into one grid video, drawn at ``quality``;
    returns (path, tiles)."""
    kept_file, failed_file = run_files(Path(run))
    clips = [Clip(str(kept_file), n, camera, width, height, quality=quality) for n in pick(kept_file, num)]
    if failed and failed_file is not None:
        clips += [Clip(str(failed_file), n, camera, width, height, quality=quality)
                  for n in pick_failures(failed_file, failed)]
    if not clips:
        raise DemoforgeError(f"{run}: no demos to show")
    (first,) = read_demos(clips[0].path, require_datagen=False, names=[clips[0].name])
    check_image_size(env_for_demo(first, clips[0].robot).model, height, width)  # before any worker
    rendered = []
    for frames in ordered_map(render_clip, clips, workers, per_worker_bytes=clip_worker_bytes(width, height)):
        rendered.append(frames)
        if on_clip is not None:
            on_clip()
    columns = columns or int(np.ceil(np.sqrt(len(rendered))))
    return write_video(out, grid_frames(rendered, columns), fps=fps), len(rendered)

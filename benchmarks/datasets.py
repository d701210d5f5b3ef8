"""Datasets-out benchmarks: observations rendered from stored states, file sizes, LeRobot export."""

from __future__ import annotations

import time
from pathlib import Path

import h5py

import demoforge as df
from demoforge.render.observations import add_observations
from demoforge.runner.run_folder import RunFolder
from export import bench_export  # benchmarks/export.py

CAMERAS = ["agentview", "wrist"]


def _frames(path: Path) -> int:
    with h5py.File(path, "r") as f:
        return int(f["data"].attrs["total"])


def _mb_per_1000(path: Path) -> float:
    return path.stat().st_size / 2**20 * 1000 / _frames(path)


def bench_datasets(work: Path, num_demos: int, size: int = 84) -> dict:
    """Render observations into a plain stack run with 1 and 2 workers, measure sizes, export to LeRobot."""
    source, _ = df.record_sources("stack", 10, work / "data_sources.hdf5", seed=0)
    plain, no_next = RunFolder(work / "data_plain"), RunFolder(work / "data_no_next")
    base = df.GenerateConfig(task="stack", source=str(source), num_demos=num_demos, variation="D1", seed=0)
    df.generate(base, plain.path)
    df.generate(base.model_copy(update={"next_obs": False}), no_next.path)
    frames = _frames(plain.demos)
    result: dict = {"demos": num_demos, "frames": frames, "size": size, "render": {}}
    for workers in (1, 2):
        out = work / f"data_obs_{workers}.hdf5"
        start = time.perf_counter()
        add_observations(plain.demos, CAMERAS, size, out=out, workers=workers)
        seconds = time.perf_counter() - start
        result["render"][workers] = {"seconds": seconds, "frames_per_s": frames * len(CAMERAS) / seconds}
    with_images = work / "data_obs_2.hdf5"
    result["mb_per_1000"] = {
        "low-dim, no next_obs": _mb_per_1000(no_next.demos),
        "low-dim + next_obs (default)": _mb_per_1000(plain.demos),
        f"+ 2 cameras {size}x{size}, obs + next_obs": _mb_per_1000(with_images),
    }
    result["export"] = bench_export(with_images)
    return result


def datasets_section(r: dict) -> str:
    """Markdown for section 5."""
    one, two = r["render"][1], r["render"][2]
    e = r["export"]
    lines = [
        "## 5. Datasets out",
        "",
        f"`demoforge render` (observations from stored states): {r['demos']} stack D1 demos, {r['frames']} steps, "
        f"cameras {' + '.join(CAMERAS)} at {r['size']}x{r['size']}, frames counted per camera. Rendering cost per "
        "frame *during* generation is in section 4.",
        "",
        "| workers | seconds | frames/s | speed-up |",
        "|--:|--:|--:|--:|",
        f"| 1 | {one['seconds']:.1f} | {one['frames_per_s']:.0f} | 1.00 |",
        f"| 2 | {two['seconds']:.1f} | {two['frames_per_s']:.0f} | {one['seconds'] / two['seconds']:.2f} |",
        "",
        "Dataset size on disk (robomimic HDF5, uncompressed, MB per 1000 steps):",
        "",
        "| content | MB / 1000 steps |",
        "|---|--:|",
        *[f"| {k} | {v:.1f} |" for k, v in r["mb_per_1000"].items()],
        "",
        f"LeRobot v3.0 export of the same {e['episodes']} episodes ({e['frames']} frames, cameras "
        f"{', '.join(e['cameras']) or 'none'} at {e['image_size']}, H.264 CRF 23):",
        "",
        "| export | frames/s | MB / 1000 frames | of which video |",
        "|---|--:|--:|--:|",
        f"| with videos | {e['images']['frames_per_s']:.0f} | {e['images']['mb_per_1000_frames']:.2f} | "
        f"{e['images']['video_mb_per_1000_frames']:.2f} |",
        f"| state only | {e['state']['frames_per_s']:.0f} | {e['state']['mb_per_1000_frames']:.2f} | - |",
        "",
    ]
    return "\n".join(lines)

"""LeRobot export benchmark: throughput (frames/s) and size on disk per 1000 frames, with and without images.

    from export import bench_export                # benchmarks/ on sys.path, as run.py has it
    bench_export("runs/stack/demos.hdf5")

    python benchmarks/export.py [file.hdf5]        # without a file: 10 stack demos, 2 cameras at 84 px

One process, one core's worth of encoding per camera stream at a time (x264 threads on its own).
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")  # headless rendering; must be set before mujoco loads

import json  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from demoforge.data.lerobot import export_lerobot  # noqa: E402


def folder_bytes(path: Path, pattern: str = "*") -> int:
    return sum(p.stat().st_size for p in path.rglob(pattern) if p.is_file())


def bench_export(hdf5_path: str | Path) -> dict:
    """Export ``hdf5_path`` twice (all cameras, then state only) into a temp folder; time and size both.

    Keys: ``frames``, ``episodes``, ``cameras``, ``image_size`` (H x W of the first camera, "" without),
    ``hdf5_mb_per_1000_frames``, and per variant (``images``, ``state``): ``seconds``, ``cpu_seconds``, ``frames_per_s``,
    ``mb_per_1000_frames`` (whole dataset folder), plus ``video_mb_per_1000_frames`` for ``images``.
    """
    hdf5_path = Path(hdf5_path)
    result: dict = {}
    with tempfile.TemporaryDirectory(prefix="bench_export_") as tmp:
        for variant, cameras in (("images", None), ("state", [])):
            out = Path(tmp) / variant
            start, cpu = time.perf_counter(), time.process_time()
            export = export_lerobot(hdf5_path, out, cameras=cameras)
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
            per_1000 = 1000 / export.frames / 2**20
            result[variant] = {
                "seconds": seconds,
                "cpu_seconds": cpu,  # all threads (x264 encodes on several)
                "frames_per_s": export.frames / seconds,
                "mb_per_1000_frames": folder_bytes(out) * per_1000,
            }
            if variant == "images":
                result["frames"], result["episodes"] = export.frames, export.episodes
                result["cameras"] = list(export.cameras)
                result["images"]["video_mb_per_1000_frames"] = folder_bytes(out / "videos", "*.mp4") * per_1000
                if export.cameras:
                    info = json.loads((out / "meta" / "info.json").read_text())
                    h, w, _ = info["features"][export.video_keys[0]]["shape"]
                    result["image_size"] = f"{h}x{w}"
                else:
                    result["image_size"] = ""
    result["hdf5_mb_per_1000_frames"] = hdf5_path.stat().st_size * 1000 / result["frames"] / 2**20
    return result


def sample_file(folder: Path, size: int = 84) -> Path:
    """10 scripted stack demos with agentview and wrist images (a few seconds to make)."""
    import demoforge as df
    from demoforge.render.observations import add_observations

    src = folder / "stack_src.hdf5"
    df.record_sources("stack", num=10, out=src, seed=0)
    return add_observations(src, ["agentview", "wrist"], size=size, out=folder / f"stack_{size}px.hdf5")


def report(result: dict) -> str:
    img, state = result["images"], result["state"]
    return "\n".join(
        [
            f"{result['episodes']} episodes, {result['frames']} frames, cameras {', '.join(result['cameras']) or '-'} "
            f"{result['image_size']}",
            f"with images: {img['frames_per_s']:.0f} frames/s ({result['frames'] / img['cpu_seconds']:.0f} per CPU-s), "
            f"{img['mb_per_1000_frames']:.2f} MB per 1000 frames (videos {img['video_mb_per_1000_frames']:.2f})",
            f"state only:  {state['frames_per_s']:.0f} frames/s ({result['frames'] / state['cpu_seconds']:.0f} per CPU-s), "
            f"{state['mb_per_1000_frames']:.2f} MB per 1000 frames",
            f"source HDF5: {result['hdf5_mb_per_1000_frames']:.2f} MB per 1000 frames",
        ]
    )


if __name__ == "__main__":
    if len(sys.argv) > 1:
        print(report(bench_export(sys.argv[1])))
    else:
        with tempfile.TemporaryDirectory(prefix="bench_export_src_") as folder:
            for size in (84, 128):
                print(report(bench_export(sample_file(Path(folder), size))))

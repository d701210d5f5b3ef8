"""Write videos (H.264, yuv420p, so browsers play them) and tile several demos into one grid."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import imageio.v2 as imageio
import numpy as np


def write_video(path: str | Path, frames: Iterable[np.ndarray], fps: float = 20.0) -> Path:
    """Encode frames to ``path`` atomically (a failed encode leaves no file behind)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial{path.suffix}")
    writer = imageio.get_writer(
        tmp, fps=fps, codec="libx264", pixelformat="yuv420p", macro_block_size=16, ffmpeg_log_level="error"
    )
    try:
        for frame in frames:
            writer.append_data(np.ascontiguousarray(frame))
        writer.close()
    except BaseException:
        writer.close()
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    return path


def tile(frames: Sequence[np.ndarray], columns: int) -> np.ndarray:
    """One image from equally sized frames laid out in rows of ``columns`` (blank cells stay black)."""
    h, w, c = frames[0].shape
    rows = -(-len(frames) // columns)
    out = np.zeros((rows * h, columns * w, c), dtype=np.uint8)
    for i, frame in enumerate(frames):
        r, col = divmod(i, columns)
        out[r * h : (r + 1) * h, col * w : (col + 1) * w] = frame
    return out


def grid_frames(clips: Sequence[Sequence[np.ndarray]], columns: int) -> Iterable[np.ndarray]:
    """Play clips side by side; a clip that ended holds its last frame."""
    length = max(len(c) for c in clips)
    for t in range(length):
        yield tile([c[min(t, len(c) - 1)] for c in clips], columns)

"""Write videos (H.264, yuv420p, so browsers play them) and tile several demos into one grid."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from demoforge.errors import DemoforgeError
from demoforge.outputs import atomic_file


VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov")  # containers that hold H.264


def check_video_path(path: str | Path) -> Path:
    """Refuse an output path that cannot become a video file, before any rendering work is done."""
    path = Path(path)
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise DemoforgeError(f"{path}: a video file needs one of the extensions {', '.join(VIDEO_SUFFIXES)}")
    if path.is_dir():
        raise DemoforgeError(f"{path}: is a folder; give a video file name")
    return path


def write_video(path: str | Path, frames: Iterable[np.ndarray], fps: float = 20.0, replace: bool = True) -> Path:
    """Encode frames to ``path`` atomically (a failed encode leaves no file behind)."""
    path = check_video_path(path)
    with atomic_file(path, replace) as tmp:
        writer = imageio.get_writer(
            tmp, fps=fps, codec="libx264", pixelformat="yuv420p", macro_block_size=1, ffmpeg_log_level="error"
        )
        try:
            for frame in frames:
                writer.append_data(even_size(frame))
        finally:
            writer.close()
    return path


def even_size(frame: np.ndarray) -> np.ndarray:
    """Pad to even width and height with black (yuv420p needs even sizes; padding keeps pixels unscaled)."""
    h, w = frame.shape[:2]
    if h % 2 or w % 2:
        frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)))
    return np.ascontiguousarray(frame)


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


def caption(frame: np.ndarray, lines: Sequence[str], colour: tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
    """A copy of ``frame`` with ``lines`` of text on a dark band across its top."""
    image = Image.fromarray(frame)
    draw = ImageDraw.Draw(image, "RGBA")
    size = max(9, frame.shape[0] // 14)
    font = ImageFont.load_default(size=size)
    band = (size + 3) * len(lines) + 4
    draw.rectangle((0, 0, frame.shape[1], band), fill=(0, 0, 0, 150))
    for i, line in enumerate(lines):
        draw.text((4, 2 + i * (size + 3)), line, fill=colour, font=font)
    return np.asarray(image)

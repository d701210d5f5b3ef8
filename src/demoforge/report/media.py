"""Pictures and videos of stored demos, rendered from their states and returned as ``data:`` URIs.

Only what is drawn is read: the first state for a thumbnail, all states for a video.
"""

from __future__ import annotations

import base64
import tempfile
from pathlib import Path

import imageio.v3 as iio
import numpy as np

from demoforge.data.demo import DatagenInfo, Demo
from demoforge.data.hdf5 import open_dataset
from demoforge.data.video import write_video
from demoforge.errors import InputFileError
from demoforge.rollout.replay import render_frames
from demoforge.sim.quality import Quality

FPS = 20.0  # control rate: videos play in real time
THUMB_WIDTH = 240


def frame_size(width: int) -> tuple[int, int]:
    """(width, height) at 4:3, both multiples of 16 (what the H.264 encoder wants without resizing)."""
    w = max(16, int(round(width / 16)) * 16)
    return w, max(16, int(round(w * 0.75 / 16)) * 16)


def load_states(path: Path, name: str, first_only: bool = False) -> Demo:
    """A ``Demo`` with just what rendering needs: the scene's MJCF and the stored states."""
    with open_dataset(path) as f:
        group = f["data"].get(name)
        if group is None or "states" not in group:
            raise InputFileError(path, "has no stored states", field=f"data/{name}")
        states = np.asarray(group["states"][:1] if first_only else group["states"][()])
        model = group.attrs.get("model_file", "")
        model = model.decode() if isinstance(model, bytes) else str(model)
    T = len(states)
    empty = np.zeros((T, 4, 4))
    return Demo(
        actions=np.zeros((T, 7)), actions_abs=np.zeros((T, 7)), states=states, rewards=np.zeros(T),
        dones=np.zeros(T, dtype=np.int64), obs={}, datagen=DatagenInfo(empty, empty, np.zeros((T, 1)), {}, {}),
        model_file=model, meta={"name": name, "file": str(path)},  # errors name the file and demo
    )


def thumbnail(path: Path, name: str, camera: str, robot: str | None = None, width: int = THUMB_WIDTH,
              quality: Quality = "fast") -> str:
    """The first frame of a demo as a JPEG ``data:`` URI."""
    w, h = frame_size(width)
    frame = next(iter(render_frames(load_states(path, name, first_only=True), robot, camera, w, h, quality)))
    return "data:image/jpeg;base64," + base64.b64encode(iio.imwrite("<bytes>", frame, extension=".jpg", quality=88)).decode()


def video(path: Path, name: str, camera: str, robot: str | None = None, width: int = 256,
          quality: Quality = "fast") -> tuple[str, int]:
    """A demo rendered from its stored states as an H.264 MP4 ``data:`` URI, and its number of frames."""
    w, h = frame_size(width)
    demo = load_states(path, name)
    with tempfile.TemporaryDirectory(prefix="demoforge-report-") as tmp:
        mp4 = write_video(Path(tmp) / f"{name}.mp4", render_frames(demo, robot, camera, w, h, quality), FPS)
        data = mp4.read_bytes()
    return "data:video/mp4;base64," + base64.b64encode(data).decode(), len(demo.states)

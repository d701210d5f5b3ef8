"""Export a demoforge HDF5 dataset as a LeRobot v3.0 dataset, so LeRobot policies train on it as is.

    from demoforge.data.lerobot import export_lerobot
    export_lerobot(Path("runs/stack/demos.hdf5"), Path("runs/stack/lerobot"))

The layout, every file and every field, and how each feature maps from the HDF5 keys: docs/lerobot.md.
Written to ``<out>.partial`` and renamed into place at the end, so an error or Ctrl-C never leaves a
half-written dataset. Demos are read one at a time: memory holds one episode, not the dataset.
Needs the optional extra ``demoforge[lerobot]`` (pyarrow for Parquet, PyAV for H.264 video).
"""

from __future__ import annotations

import json
import numbers
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from demoforge import __version__
from demoforge.data.demo import Demo
from demoforge.data.hdf5 import ACTION_DIM, demo_names, open_dataset, read_demos, read_env_args
from demoforge.errors import DemoforgeError, InputFileError
from demoforge.sim.render import CAMERA_ALIASES
from demoforge.tasks import TASKS

CODEBASE_VERSION = "v3.0"
CHUNKS_SIZE = 1000  # files per chunk folder (LeRobot's default)
DATA_FILES_SIZE_IN_MB = 100  # LeRobot's defaults: a new file starts before one would pass this size
VIDEO_FILES_SIZE_IN_MB = 200
EPISODES_FLUSH_ROWS = 64  # episode-metadata rows buffered per Parquet row group

DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
EPISODES_PATH = "meta/episodes/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"

# H.264 in yuv420p plays everywhere (browsers, the Hub viewer) and decodes with PyAV and torchcodec.
# A keyframe every 2 frames (LeRobot's choice) keeps random access during training cheap.
VIDEO_ENCODER = "libx264"
# No B-frames: frames come out in order, so presentation times are exactly i / fps from frame 0.
# Preset: with keyframes this close, slower presets barely shrink the files (measured) but cost time.
VIDEO_OPTIONS = {"crf": "23", "g": "2", "bf": "0", "preset": "veryfast"}

QUANTILES = {"q01": 0.01, "q10": 0.10, "q50": 0.50, "q90": 0.90, "q99": 0.99}

# Default language instruction per task (LeRobot stores one string per task; VLA policies read it).
TASK_DESCRIPTIONS = {
    "lift": "lift the red cube",
    "stack": "stack the red cube on the green cube",
    "stack_three": "stack the red cube on the green cube, then the blue cube on the red cube",
    "square": "put the square nut onto the square peg",
}

MISSING_EXTRA = "LeRobot export needs the optional extra: pip install 'demoforge[lerobot]'"


@dataclass(frozen=True)
class LeRobotExport:
    """What an export wrote: enough for a CLI summary or a test, without reading the files back."""

    out: Path
    episodes: int
    frames: int
    cameras: tuple[str, ...]  # camera names as in the HDF5, without ``_image``

    @property
    def video_keys(self) -> list[str]:
        return [video_key(c) for c in self.cameras]


def video_key(camera: str) -> str:
    """LeRobot feature name of a camera: ``agentview`` -> ``observation.images.agentview``."""
    return f"observation.images.{camera}"


def default_task_description(task: str) -> str:
    """The language instruction stored for ``task`` when the caller gives none."""
    return TASK_DESCRIPTIONS.get(task, task.replace("_", " ") if task else "demonstration")


def export_lerobot(
    src: Path,
    out: Path,
    fps: int = 20,
    task_description: str | None = None,
    robot_type: str = "panda",
    overwrite: bool = False,
    on_episode: Callable[[int, int], None] | None = None,
    *,
    cameras: Sequence[str] | None = None,
) -> LeRobotExport:
    """Write the demos of ``src`` (robomimic-layout HDF5) as a LeRobot v3.0 dataset in folder ``out``.

    One demo becomes one episode, in file order. ``fps`` is the control rate (demoforge steps at 20 Hz).
    ``cameras`` picks the ``obs/<camera>_image`` keys to export as videos (default: all; ``[]``: none,
    a state-only dataset). ``on_episode(done, total)`` is called after each episode for progress.
    An existing non-empty ``out`` is refused unless ``overwrite`` and it is a LeRobot dataset.
    """
    try:
        import av
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise DemoforgeError(MISSING_EXTRA) from None
    src, out = Path(src), Path(os.path.abspath(out))  # absolute: "." has no name to put ".partial" after
    if isinstance(fps, bool) or not isinstance(fps, numbers.Integral) or fps <= 0:
        raise DemoforgeError(f"fps must be a positive whole number of frames per second, got {fps!r}")
    fps = int(fps)
    # read_demos validates the file: it exists, is HDF5, has /data and at least one demo (names=[] reads none).
    read_demos(src, require_datagen=False, names=[])
    with open_dataset(src) as f:
        names = demo_names(f)
    task = str(read_env_args(src).get("env_name") or "")
    description = default_task_description(task) if task_description is None else task_description.strip()
    if not description:
        raise DemoforgeError("the task description is empty; give a sentence such as 'lift the red cube'")
    _check_output(src, out, overwrite)

    (first,) = read_demos(src, require_datagen=False, names=[names[0]])
    layout = _Layout.of(src, first, task, cameras)
    tmp = out.with_name(out.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)  # left by an export that was killed before it could clean up
    tmp.mkdir(parents=True)
    writer: _DatasetWriter | None = None
    try:
        writer = _DatasetWriter(tmp, layout, fps, description, robot_type, pa, pq, av)
        demo: Demo | None = first
        del first  # keep one demo in memory at a time
        for i, name in enumerate(names):
            if demo is None:
                (demo,) = read_demos(src, require_datagen=False, names=[name])
            layout.check(src, demo)
            writer.add(demo)
            demo = None
            if on_episode is not None:
                on_episode(i + 1, len(names))
        writer.finish(src, names, read_env_args(src))
    except BaseException:
        if writer is not None:
            writer.abort()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _move_into_place(tmp, out)
    return LeRobotExport(out=out, episodes=writer.episodes, frames=writer.frames, cameras=layout.cameras)


# ---- output folder --------------------------------------------------------------------------------
def _check_output(src: Path, out: Path, overwrite: bool) -> None:
    """Refuse outputs that would lose data: a file, a non-empty folder (unless overwrite of a dataset)."""
    if not (out.exists() or out.is_symlink()):
        return
    if not out.is_dir():
        raise DemoforgeError(f"{out} exists and is not a folder; give a folder path for the LeRobot dataset")
    if not any(out.iterdir()):
        return
    if not overwrite:
        raise DemoforgeError(f"output folder {out} already exists and is not empty; pass overwrite=True (--overwrite) to replace it")
    if not (out / "meta" / "info.json").is_file():
        raise DemoforgeError(
            f"{out} is not empty and is not a LeRobot dataset (no meta/info.json); refusing to replace it even "
            "with overwrite: choose another folder or remove it yourself"
        )
    if src.resolve().is_relative_to(out.resolve()):
        raise DemoforgeError(f"the source file {src} lies inside the output folder {out}; overwriting would delete it")


def _move_into_place(tmp: Path, out: Path) -> None:
    """Rename the finished ``tmp`` folder to ``out``, replacing what is there (already checked to be ours)."""
    if out.is_dir() and not any(out.iterdir()):
        out.rmdir()
    if out.exists():
        old = out.with_name(out.name + ".replaced")
        if old.exists():
            shutil.rmtree(old)
        os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out)


# ---- what the source holds ------------------------------------------------------------------------
@dataclass(frozen=True)
class _Layout:
    """Keys and widths every demo must have, taken from the first demo (a video needs one frame size)."""

    cameras: tuple[str, ...]
    image_hw: dict[str, tuple[int, int]]
    gripper_dim: int
    joint_dim: int  # 0: no obs/robot0_joint_pos
    object_dim: int  # 0: no obs/object
    object_names: tuple[str, ...]

    @staticmethod
    def of(src: Path, demo: Demo, task: str, cameras: Sequence[str] | None) -> _Layout:
        name = demo.meta.get("name", "demo_0")
        available = [k[: -len("_image")] for k in sorted(demo.obs) if k.endswith("_image")]
        if cameras is None:
            chosen = tuple(available)
        else:
            chosen = tuple(dict.fromkeys(CAMERA_ALIASES.get(c, c) for c in cameras))
            missing = [c for c in chosen if c not in available]
            if missing:
                have = ", ".join(available) if available else "none (export without images, or add them first)"
                raise DemoforgeError(f"{src}: no images for camera(s) {', '.join(missing)}; the file has {have}")
        image_hw = {}
        for cam in chosen:
            field = f"/data/{name}/obs/{cam}_image"
            frames = demo.obs[f"{cam}_image"]
            if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
                raise InputFileError(src, f"is {frames.dtype} {frames.shape}; expected uint8 (T, H, W, 3) RGB", field=field)
            h, w = frames.shape[1:3]
            if h % 2 or w % 2:
                raise InputFileError(src, f"images are {h}x{w}; H.264 video (yuv420p) needs an even height and width", field=field)
            image_hw[cam] = (int(h), int(w))
        for key in ("robot0_eef_pos", "robot0_eef_quat", "robot0_gripper_qpos"):
            if key not in demo.obs:
                raise InputFileError(src, "is missing; observation.state is built from it", field=f"/data/{name}/obs/{key}")
        width = {k: _width(demo.obs[k]) for k in ("robot0_gripper_qpos", "robot0_joint_pos", "object") if k in demo.obs}
        object_dim = width.get("object", 0)
        objects = _task_objects(task)
        if not objects or 7 * len(objects) != object_dim:
            objects = tuple(f"object{i}" for i in range(object_dim // 7))
        return _Layout(
            cameras=chosen,
            image_hw=image_hw,
            gripper_dim=width["robot0_gripper_qpos"],
            joint_dim=width.get("robot0_joint_pos", 0),
            object_dim=object_dim,
            object_names=objects,
        )

    def check(self, src: Path, demo: Demo) -> None:
        """Raise an error naming the file and field where ``demo`` does not fit this layout."""
        name = demo.meta.get("name", "?")
        T = len(demo)
        if T == 0:
            raise InputFileError(src, "has no steps; a LeRobot episode needs at least one frame", field=f"/data/{name}/actions")
        expect = {
            "actions_abs": (T, ACTION_DIM),
            "rewards": (T,),
            "dones": (T,),
            "obs/robot0_eef_pos": (T, 3),
            "obs/robot0_eef_quat": (T, 4),
            "obs/robot0_gripper_qpos": (T, self.gripper_dim),
        }
        if self.joint_dim:
            expect["obs/robot0_joint_pos"] = (T, self.joint_dim)
        if self.object_dim:
            expect["obs/object"] = (T, self.object_dim)
        for cam in self.cameras:
            expect[f"obs/{cam}_image"] = (T, *self.image_hw[cam], 3)
        for key, shape in expect.items():
            field = f"/data/{name}/{key}"
            value = demo.obs.get(key[4:]) if key.startswith("obs/") else getattr(demo, key)
            if value is None:
                raise InputFileError(src, "is missing (the first demo has it; every demo needs the same keys)", field=field)
            if value.shape != shape:
                what = "frames" if key.endswith("_image") else "rows"
                problem = (
                    f"has {value.shape[0]} {what}; expected {T} (one per step)"
                    if value.shape[1:] == shape[1:]
                    else f"has shape {value.shape}; expected {shape} (as in the first demo)"
                )
                raise InputFileError(src, problem, field=field)
            if key.endswith("_image") and value.dtype != np.uint8:
                raise InputFileError(src, f"is {value.dtype}; expected uint8 RGB", field=field)


def _width(value: np.ndarray) -> int:
    return int(np.prod(value.shape[1:])) if value.ndim >= 2 else 1


def _task_objects(task: str) -> tuple[str, ...]:
    """Object names of a built-in task (for feature names); other files get ``object0``, ``object1``, ..."""
    cls = TASKS.get(task)
    return tuple(cls.objects) if cls is not None else ()


# ---- features ----------------------------------------------------------------------------------------
def _features(layout: _Layout, fps: int) -> dict[str, dict[str, Any]]:
    """info.json ``features``: dtype, shape, names of every column (and of every video)."""
    state_names = [f"eef_pos_{a}" for a in "xyz"] + [f"eef_quat_{a}" for a in "xyzw"]
    state_names += [f"gripper_qpos_{i}" for i in range(layout.gripper_dim)]
    features: dict[str, dict[str, Any]] = {
        "observation.state": _vec(state_names),
    }
    if layout.joint_dim:
        features["observation.joint_pos"] = _vec([f"joint_pos_{i}" for i in range(layout.joint_dim)])
    if layout.object_dim:
        pose = [f"pos_{a}" for a in "xyz"] + [f"quat_{a}" for a in "xyzw"]
        features["observation.environment_state"] = _vec([f"{o}_{p}" for o in layout.object_names for p in pose])
    features["action"] = _vec(["dx", "dy", "dz", "rx", "ry", "rz", "gripper"])
    features["absolute_action"] = _vec(["x", "y", "z", "rx", "ry", "rz", "gripper"])
    features["next.reward"] = {"dtype": "float32", "shape": [1], "names": None}
    features["next.done"] = {"dtype": "bool", "shape": [1], "names": None}
    for cam in layout.cameras:
        h, w = layout.image_hw[cam]
        features[video_key(cam)] = {
            "dtype": "video",
            "shape": [h, w, 3],
            "names": ["height", "width", "channels"],
            "info": {
                "video.height": h,
                "video.width": w,
                "video.codec": "h264",
                "video.pix_fmt": "yuv420p",
                "video.is_depth_map": False,
                "video.fps": fps,
                "video.channels": 3,
                "has_audio": False,
            },
        }
    features["timestamp"] = {"dtype": "float32", "shape": [1], "names": None}
    for key in ("frame_index", "episode_index", "index", "task_index"):
        features[key] = {"dtype": "int64", "shape": [1], "names": None}
    return features


def _vec(names: list[str]) -> dict[str, Any]:
    return {"dtype": "float32", "shape": [len(names)], "names": names}


def _frame_columns(demo: Demo, layout: _Layout, episode: int, start: int, fps: int) -> dict[str, np.ndarray]:
    """The Parquet columns of one episode, as numpy arrays in the dtypes the features declare."""
    T = len(demo)
    obs = demo.obs
    steps = np.arange(T, dtype=np.int64)
    state = np.concatenate([obs["robot0_eef_pos"], obs["robot0_eef_quat"], obs["robot0_gripper_qpos"]], axis=1)
    columns = {"observation.state": state.astype(np.float32)}
    if layout.joint_dim:
        columns["observation.joint_pos"] = obs["robot0_joint_pos"].reshape(T, -1).astype(np.float32)
    if layout.object_dim:
        columns["observation.environment_state"] = obs["object"].reshape(T, -1).astype(np.float32)
    columns["action"] = demo.actions.astype(np.float32)
    columns["absolute_action"] = demo.actions_abs.astype(np.float32)
    columns["next.reward"] = demo.rewards.reshape(T).astype(np.float32)
    columns["next.done"] = demo.dones.reshape(T).astype(bool)
    columns["timestamp"] = (steps / fps).astype(np.float32)
    columns["frame_index"] = steps
    columns["episode_index"] = np.full(T, episode, dtype=np.int64)
    columns["index"] = start + steps
    columns["task_index"] = np.zeros(T, dtype=np.int64)
    return columns


# ---- statistics (LeRobot's compute_stats: per episode, then merged weighted by count) ------------------
def vector_stats(values: np.ndarray) -> dict[str, np.ndarray]:
    """Per-dimension min/max/mean/std/count/quantiles of (T, D) or (T,) values; (T,) gives shape (1,)."""
    x = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
    stats = {"min": x.min(0), "max": x.max(0), "mean": x.mean(0), "std": x.std(0), "count": np.array([len(x)])}
    for key, q in QUANTILES.items():
        stats[key] = np.quantile(x, q, axis=0)
    return stats


def sample_indices(length: int) -> np.ndarray:
    """Frames LeRobot samples for an episode's image stats: all up to 100, then about length**0.75."""
    num = max(min(100, length), min(int(length**0.75), 10_000))
    return np.round(np.linspace(0, length - 1, num)).astype(int)


def image_stats(frames: np.ndarray) -> dict[str, np.ndarray]:
    """Per-channel stats of sampled uint8 (T, H, W, 3) frames in [0, 1], shaped (3, 1, 1) as LeRobot stores them.

    Same sampling and downsampling (>= 300 px) as LeRobot; quantiles are exact (from pixel counts)
    where LeRobot estimates them from a histogram. ``count`` is the number of sampled frames.
    """
    idx = sample_indices(len(frames))
    sample = frames[idx]
    h, w = sample.shape[1:3]
    if max(h, w) >= 300:
        step = int((w if w > h else h) / 150)
        sample = sample[:, ::step, ::step]
    pixels = sample.reshape(-1, 3)
    values = np.arange(256, dtype=np.float64)
    out: dict[str, list[float]] = {k: [] for k in ("min", "max", "mean", "std", *QUANTILES)}
    for c in range(3):
        counts = np.bincount(pixels[:, c], minlength=256).astype(np.float64)
        n = counts.sum()
        present = np.nonzero(counts)[0]
        mean = float(counts @ values / n)
        out["min"].append(float(present[0]))
        out["max"].append(float(present[-1]))
        out["mean"].append(mean)
        out["std"].append(float(np.sqrt(max(counts @ values**2 / n - mean**2, 0.0))))
        cum = np.cumsum(counts)
        for key, q in QUANTILES.items():
            pos = q * (n - 1)  # np.quantile's linear interpolation between sorted samples
            lo = int(np.floor(pos))
            v_lo = np.searchsorted(cum, lo, side="right")
            v_hi = np.searchsorted(cum, min(lo + 1, n - 1), side="right")
            out[key].append(float(v_lo + (pos - lo) * (v_hi - v_lo)))
    stats = {k: np.array(v).reshape(3, 1, 1) / 255.0 for k, v in out.items()}
    stats["count"] = np.array([len(idx)])
    return stats


class RunningStats:
    """Dataset stats merged episode by episode, like LeRobot's ``aggregate_stats``.

    min, max, mean and std are exact (Chan's parallel update); quantiles are the count-weighted mean
    of the episodes' quantiles, which is what LeRobot writes too.
    """

    def __init__(self) -> None:
        self.n = 0
        self.acc: dict[str, np.ndarray] = {}

    def add(self, stats: dict[str, np.ndarray]) -> None:
        nb = int(stats["count"][0])
        if self.n == 0:
            self.acc = {"min": stats["min"].copy(), "max": stats["max"].copy(), "mean": stats["mean"].copy()}
            self.acc["m2"] = stats["std"] ** 2 * nb
            for key in QUANTILES:
                self.acc[key] = stats[key] * nb
            self.n = nb
            return
        n = self.n + nb
        delta = stats["mean"] - self.acc["mean"]
        self.acc["mean"] = self.acc["mean"] + delta * nb / n
        self.acc["m2"] = self.acc["m2"] + stats["std"] ** 2 * nb + delta**2 * self.n * nb / n
        self.acc["min"] = np.minimum(self.acc["min"], stats["min"])
        self.acc["max"] = np.maximum(self.acc["max"], stats["max"])
        for key in QUANTILES:
            self.acc[key] = self.acc[key] + stats[key] * nb
        self.n = n

    def result(self) -> dict[str, np.ndarray]:
        out = {
            "min": self.acc["min"],
            "max": self.acc["max"],
            "mean": self.acc["mean"],
            "std": np.sqrt(np.maximum(self.acc["m2"] / self.n, 0.0)),
            "count": np.array([self.n]),
        }
        for key in QUANTILES:
            out[key] = self.acc[key] / self.n
        return out


# ---- writers ----------------------------------------------------------------------------------------
def next_file(chunk: int, file: int, chunks_size: int = CHUNKS_SIZE) -> tuple[int, int]:
    """The (chunk, file) after this one: files count up to ``chunks_size`` per chunk folder."""
    return (chunk + 1, 0) if file == chunks_size - 1 else (chunk, file + 1)


class _RollingParquet:
    """Parquet files along one path pattern; the next file starts before one would pass the size limit."""

    def __init__(self, pa: Any, pq: Any, root: Path, pattern: str, limit_mb: float, flush_rows: int = 1) -> None:
        self.pa, self.pq = pa, pq
        self.root, self.pattern = root, pattern
        self.limit = limit_mb * 1024**2
        self.flush_rows = flush_rows
        self.chunk = self.file = 0
        self.sink: Any = None
        self.writer: Any = None
        self.schema: Any = None
        self.written_rows = 0  # rows of the current file already on disk
        self.pending: list[Any] = []  # tables buffered for the current file

    def place(self, rows: int) -> tuple[int, int]:
        """Chunk and file index the next ``rows`` rows go to, starting a new file if they would not fit."""
        pending_rows = sum(t.num_rows for t in self.pending)
        in_file = self.written_rows + pending_rows
        if in_file:
            on_disk = self.sink.tell() if self.sink is not None else 0
            if self.written_rows:
                per_row = on_disk / self.written_rows
            else:  # nothing flushed yet: the in-memory size over-estimates the compressed one
                per_row = sum(t.nbytes for t in self.pending) / pending_rows
            if on_disk + per_row * (pending_rows + rows) >= self.limit:
                self.close()
                self.chunk, self.file = next_file(self.chunk, self.file)
        return self.chunk, self.file

    def write(self, table: Any) -> None:
        if self.schema is None:
            self.schema = table.schema
        self.pending.append(table.cast(self.schema))
        if sum(t.num_rows for t in self.pending) >= self.flush_rows:
            self._flush()

    def _flush(self) -> None:
        if not self.pending:
            return
        if self.writer is None:
            path = self.root / self.pattern.format(chunk_index=self.chunk, file_index=self.file)
            path.parent.mkdir(parents=True, exist_ok=True)
            self.sink = self.pa.OSFile(str(path), "wb")
            self.writer = self.pq.ParquetWriter(self.sink, self.schema, compression="snappy")
        table = self.pa.concat_tables(self.pending)
        self.writer.write_table(table)
        self.written_rows += table.num_rows
        self.pending = []

    def close(self) -> None:
        self._flush()
        if self.writer is not None:
            self.writer.close()
            self.sink.close()
        self.writer = self.sink = None
        self.written_rows = 0


class _RollingVideo:
    """One camera's episodes back to back in H.264 mp4 files, frame ``i`` of a file at ``i / fps`` seconds."""

    def __init__(self, av: Any, root: Path, key: str, hw: tuple[int, int], fps: int, limit_mb: float) -> None:
        self.av, self.root, self.key, self.fps = av, root, key, fps
        self.height, self.width = hw
        self.limit = limit_mb * 1024**2
        self.chunk = self.file = 0
        self.container: Any = None
        self.stream: Any = None
        self.frames_in_file = 0
        self.bytes_in_file = 0

    def add_episode(self, frames: np.ndarray) -> dict[str, float | int]:
        """Encode one episode; return its ``videos/<key>/...`` episode metadata."""
        T = len(frames)
        if self.container is not None and self.frames_in_file:
            per_frame = self.bytes_in_file / self.frames_in_file
            if self.bytes_in_file + per_frame * T >= self.limit:
                self.close()
                self.chunk, self.file = next_file(self.chunk, self.file)
        if self.container is None:
            self._open()
        start = self.frames_in_file
        time_base = Fraction(1, self.fps)
        for image in frames:
            frame = self.av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            frame.pts = self.frames_in_file
            frame.time_base = time_base
            self._mux(self.stream.encode(frame))
            self.frames_in_file += 1
        return {
            "chunk_index": self.chunk,
            "file_index": self.file,
            "from_timestamp": start / self.fps,
            "to_timestamp": (start + T) / self.fps,
        }

    def _open(self) -> None:
        path = self.root / VIDEO_PATH.format(video_key=self.key, chunk_index=self.chunk, file_index=self.file)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.container = self.av.open(str(path), "w", options={"movflags": "faststart"})
        self.stream = self.container.add_stream(VIDEO_ENCODER, rate=self.fps, options=dict(VIDEO_OPTIONS))
        self.stream.width, self.stream.height = self.width, self.height
        self.stream.pix_fmt = "yuv420p"
        self.frames_in_file = self.bytes_in_file = 0

    def _mux(self, packets: Any) -> None:
        for packet in packets:
            self.bytes_in_file += packet.size
            self.container.mux(packet)

    def close(self) -> None:
        if self.container is None:
            return
        try:
            self._mux(self.stream.encode())  # flush the encoder's delayed frames
        finally:
            self.container.close()
            self.container = self.stream = None

    def abort(self) -> None:
        if self.container is not None:
            try:
                self.container.close()
            except Exception:  # the folder is deleted next; a half-written mp4 needs no trailer
                pass
            self.container = self.stream = None


class _DatasetWriter:
    """Streams episodes into the data, video and episode-metadata files, then writes the meta files."""

    def __init__(
        self, root: Path, layout: _Layout, fps: int, description: str, robot_type: str, pa: Any, pq: Any, av: Any
    ) -> None:
        self.root, self.layout, self.fps = root, layout, fps
        self.description, self.robot_type = description, robot_type
        self.pa, self.pq = pa, pq
        self.features = _features(layout, fps)
        self.schema = pa.schema(
            [
                pa.field(key, _arrow_type(pa, ft))
                for key, ft in self.features.items()
                if ft["dtype"] != "video"
            ]
        )
        self.data = _RollingParquet(pa, pq, root, DATA_PATH, DATA_FILES_SIZE_IN_MB)
        self.meta = _RollingParquet(pa, pq, root, EPISODES_PATH, DATA_FILES_SIZE_IN_MB, EPISODES_FLUSH_ROWS)
        self.videos = {
            cam: _RollingVideo(av, root, video_key(cam), layout.image_hw[cam], fps, VIDEO_FILES_SIZE_IN_MB)
            for cam in layout.cameras
        }
        self.stats = {key: RunningStats() for key in self.features}
        self.episodes = 0
        self.frames = 0

    def add(self, demo: Demo) -> None:
        T = len(demo)
        columns = _frame_columns(demo, self.layout, self.episodes, self.frames, self.fps)
        episode_stats = {key: vector_stats(value) for key, value in columns.items()}
        arrays = [_arrow_column(self.pa, columns[f.name], f.type) for f in self.schema]
        chunk, file = self.data.place(T)
        self.data.write(self.pa.Table.from_arrays(arrays, schema=self.schema))
        row: dict[str, Any] = {
            "episode_index": self.episodes,
            "tasks": [self.description],
            "length": T,
            "data/chunk_index": chunk,
            "data/file_index": file,
            "dataset_from_index": self.frames,
            "dataset_to_index": self.frames + T,
        }
        for cam, video in self.videos.items():
            key = video_key(cam)
            frames = demo.obs[f"{cam}_image"]
            row.update({f"videos/{key}/{k}": v for k, v in video.add_episode(frames).items()})
            episode_stats[key] = image_stats(frames)
        for key in self.features:  # features order, as LeRobot flattens its stats dict
            for stat, value in episode_stats[key].items():
                row[f"stats/{key}/{stat}"] = value.tolist()
            self.stats[key].add(episode_stats[key])
        row["meta/episodes/chunk_index"], row["meta/episodes/file_index"] = self.meta.place(1)
        self.meta.write(self.pa.Table.from_pylist([row]))
        self.episodes += 1
        self.frames += T

    def finish(self, src: Path, names: list[str], env_args: dict) -> None:
        self.data.close()
        self.meta.close()
        for video in self.videos.values():
            video.close()
        self._write_tasks()
        stats = {key: {k: v.tolist() for k, v in s.result().items()} for key, s in self.stats.items()}
        _write_json(self.root / "meta" / "stats.json", stats)
        info = {
            "codebase_version": CODEBASE_VERSION,
            "robot_type": self.robot_type,
            "total_episodes": self.episodes,
            "total_frames": self.frames,
            "total_tasks": 1,
            "chunks_size": CHUNKS_SIZE,
            "data_files_size_in_mb": DATA_FILES_SIZE_IN_MB,
            "video_files_size_in_mb": VIDEO_FILES_SIZE_IN_MB,
            "fps": self.fps,
            "splits": {"train": f"0:{self.episodes}"},
            "data_path": DATA_PATH,
            "video_path": VIDEO_PATH if self.videos else None,
            "features": self.features,
        }
        _write_json(self.root / "meta" / "info.json", info)
        provenance = {
            "exported_by": f"demoforge {__version__}",
            "source": str(src.resolve()),
            "env_args": env_args,
            "episode_demos": names,  # episode i is HDF5 group data/<episode_demos[i]>
        }
        _write_json(self.root / "meta" / "demoforge.json", provenance)

    def _write_tasks(self) -> None:
        """meta/tasks.parquet: pandas reads it as a frame indexed by the task string, as LeRobot expects."""
        pa = self.pa
        pandas_meta = {
            "index_columns": ["task"],
            "column_indexes": [
                {"name": None, "field_name": None, "pandas_type": "unicode", "numpy_type": "object", "metadata": {"encoding": "UTF-8"}}
            ],
            "columns": [
                {"name": "task_index", "field_name": "task_index", "pandas_type": "int64", "numpy_type": "int64", "metadata": None},
                {"name": "task", "field_name": "task", "pandas_type": "unicode", "numpy_type": "object", "metadata": None},
            ],
            "creator": {"library": "pyarrow", "version": pa.__version__},
            "pandas_version": "2.2.0",
        }
        schema = pa.schema([("task_index", pa.int64()), ("task", pa.string())], metadata={"pandas": json.dumps(pandas_meta)})
        table = pa.Table.from_arrays([pa.array([0], pa.int64()), pa.array([self.description])], schema=schema)
        self.pq.write_table(table, self.root / "meta" / "tasks.parquet")

    def abort(self) -> None:
        for closer in (self.data.close, self.meta.close, *(v.abort for v in self.videos.values())):
            try:
                closer()
            except Exception:  # cleaning up after another error: the folder is deleted next
                pass


def _arrow_type(pa: Any, feature: dict[str, Any]) -> Any:
    scalar = {"float32": pa.float32(), "int64": pa.int64(), "bool": pa.bool_()}[feature["dtype"]]
    shape = feature["shape"]
    return scalar if shape == [1] else pa.list_(scalar, shape[0])  # LeRobot: (1,) is a plain value


def _arrow_column(pa: Any, values: np.ndarray, arrow_type: Any) -> Any:
    if isinstance(arrow_type, pa.FixedSizeListType):
        flat = pa.array(values.reshape(-1), type=arrow_type.value_type)
        return pa.FixedSizeListArray.from_arrays(flat, arrow_type.list_size)
    return pa.array(values.reshape(-1), type=arrow_type)


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=4, ensure_ascii=False) + "\n")

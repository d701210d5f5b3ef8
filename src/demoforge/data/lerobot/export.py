"""The entry point: check the source and the output folder, build the dataset beside it, move it into place.

The dataset is written in ``.<out>.new`` (``outputs.OutputFolder``) and renamed to ``out`` only when
complete, so an error, Ctrl-C or kill never leaves a half-written dataset at ``out``, and
``overwrite`` replaces only a LeRobot dataset demoforge wrote. A full or read-only disk is one
clear error naming the folder, not a traceback.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from demoforge.data.demo import Demo
from demoforge.data.hdf5 import demo_names, open_dataset, read_demos, read_env_args
from demoforge.data.lerobot.layout import _Layout
from demoforge.data.lerobot.spec import default_task_description, video_key
from demoforge.data.lerobot.writer import _DatasetWriter
from demoforge.errors import DemoforgeError
from demoforge.outputs import OutputFolder, output_error

MISSING_EXTRA = "LeRobot export needs the optional extra: pip install 'demoforge[lerobot]'"
DATASET_ENTRIES = ("meta", "data", "videos")  # all a LeRobot v3.0 dataset folder holds


def _exported_before_markers(folder: Path) -> bool:
    """A dataset demoforge exported before folders carried markers: it wrote meta/demoforge.json."""
    return (folder / "meta" / "info.json").is_file() and (folder / "meta" / "demoforge.json").is_file()


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


def export_lerobot(
    src: Path,
    out: Path,
    fps: int = 20,
    task_description: str | None = None,
    robot_type: str | None = None,
    overwrite: bool = False,
    on_episode: Callable[[int, int], None] | None = None,
    *,
    cameras: Sequence[str] | None = None,
) -> LeRobotExport:
    """Write the demos of ``src`` (robomimic-layout HDF5) as a LeRobot v3.0 dataset in folder ``out``.

    One demo becomes one episode, in file order. ``fps`` is the control rate (demoforge steps at 20 Hz).
    ``robot_type`` defaults to the robot that made the file (``env_args``; ``panda`` for files that do not say).
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
    env_args = read_env_args(src)
    description = default_task_description(env_args) if task_description is None else task_description.strip()
    if robot_type is None:
        robot_type = str((env_args.get("env_kwargs") or {}).get("robot") or "panda")
    if not description:
        raise DemoforgeError("the task description is empty; give a sentence such as 'lift the red cube'")
    folder = OutputFolder(out, "lerobot", "export lerobot", overwrite=overwrite, inputs=[src], atomic=True,
                          known=DATASET_ENTRIES, is_legacy=_exported_before_markers)
    folder.check()

    (first,) = read_demos(src, require_datagen=False, names=[names[0]])
    layout = _Layout.of(src, first, env_args, cameras)
    writer: _DatasetWriter | None = None
    try:
        with folder as tmp:  # built beside ``out`` and moved into place only when complete
            writer = _DatasetWriter(tmp, layout, fps, description, robot_type, pa, pq, av)
            try:
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
                writer.abort()  # close its files before the folder is removed
                raise
    except OSError as exc:
        error = output_error(out, exc)
        if error is None:
            raise
        raise error from None
    return LeRobotExport(out=out, episodes=writer.episodes, frames=writer.frames, cameras=layout.cameras)

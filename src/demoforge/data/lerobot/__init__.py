"""Export a demoforge HDF5 dataset as a LeRobot v3.0 dataset, so LeRobot policies train on it as is.

    from demoforge.data.lerobot import export_lerobot
    export_lerobot(Path("runs/stack/demos.hdf5"), Path("runs/stack/lerobot"))

The layout, every file and every field, and how each feature maps from the HDF5 keys: docs/lerobot.md.
Written to ``<out>.partial`` and renamed into place at the end, so an error or Ctrl-C never leaves a
half-written dataset. Demos are read one at a time: memory holds one episode, not the dataset.
Needs the optional extra ``demoforge[lerobot]`` (pyarrow for Parquet, PyAV for H.264 video).
"""

from demoforge.data.lerobot.export import MISSING_EXTRA, LeRobotExport, export_lerobot
from demoforge.data.lerobot.files import next_file
from demoforge.data.lerobot.spec import (
    CHUNKS_SIZE,
    CODEBASE_VERSION,
    DATA_FILES_SIZE_IN_MB,
    DATA_PATH,
    EPISODES_FLUSH_ROWS,
    EPISODES_PATH,
    VIDEO_ENCODER,
    VIDEO_FILES_SIZE_IN_MB,
    VIDEO_OPTIONS,
    VIDEO_PATH,
    default_task_description,
    video_key,
)
from demoforge.data.lerobot.stats import QUANTILES, RunningStats, image_stats, sample_indices, vector_stats

__all__ = [
    "CHUNKS_SIZE",
    "CODEBASE_VERSION",
    "DATA_FILES_SIZE_IN_MB",
    "DATA_PATH",
    "EPISODES_FLUSH_ROWS",
    "EPISODES_PATH",
    "MISSING_EXTRA",
    "QUANTILES",
    "VIDEO_ENCODER",
    "VIDEO_FILES_SIZE_IN_MB",
    "VIDEO_OPTIONS",
    "VIDEO_PATH",
    "LeRobotExport",
    "RunningStats",
    "default_task_description",
    "export_lerobot",
    "image_stats",
    "next_file",
    "sample_indices",
    "vector_stats",
    "video_key",
]

"""The LeRobot v3.0 format as demoforge writes it: file paths, size limits, video encoding, names.

One place for what LeRobot's reader expects, so the writers, the features and the checks agree on it.
"""

from __future__ import annotations

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



def video_key(camera: str) -> str:
    """LeRobot feature name of a camera: ``agentview`` -> ``observation.images.agentview``."""
    return f"observation.images.{camera}"


def default_task_description(env_args: dict) -> str:
    """The language instruction stored when the caller gives none: the task's own, as the file records it.

    Files from before tasks carried a description fall back to the task's name in words.
    """
    kwargs = env_args.get("env_kwargs") or {}
    task = str(env_args.get("env_name") or "")
    return str(kwargs.get("description") or task.replace("_", " ") or "demonstration")

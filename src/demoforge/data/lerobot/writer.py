"""One dataset being written: episodes streamed into the data, video and episode files, then the meta files.

The size limits are looked up here when a dataset is started: patch them on this module, not the package.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from demoforge.version import __version__
from demoforge.data.demo import Demo
from demoforge.data.lerobot.features import _arrow_column, _arrow_type, _features, _frame_columns
from demoforge.data.lerobot.files import _RollingParquet, _RollingVideo
from demoforge.data.lerobot.layout import _Layout
from demoforge.data.lerobot.spec import (
    CHUNKS_SIZE,
    CODEBASE_VERSION,
    DATA_FILES_SIZE_IN_MB,
    DATA_PATH,
    EPISODES_FLUSH_ROWS,
    EPISODES_PATH,
    VIDEO_FILES_SIZE_IN_MB,
    VIDEO_PATH,
    video_key,
)
from demoforge.data.lerobot.stats import RunningStats, image_stats, vector_stats


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


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=4, ensure_ascii=False) + "\n")

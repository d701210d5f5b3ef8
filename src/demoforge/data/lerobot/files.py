"""Parquet and mp4 files filled episode after episode, rolling over to the next file before one
would pass its size limit, numbered across chunk folders the way LeRobot finds them.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from demoforge.data.lerobot.spec import CHUNKS_SIZE, VIDEO_ENCODER, VIDEO_OPTIONS, VIDEO_PATH


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

"""Triangle mesh files: binary STL read and written with numpy, and decimation for fast training cameras.

A robot's visual meshes are drawn, never simulated. A camera of 84x84 pixels on a CPU renderer spends its
time on triangles far smaller than a pixel: GR1's body meshes hold 437k of them. ``decimate_folder`` writes
a copy of a folder of meshes with a fraction of the triangles kept (quadric error simplification, the
fast-simplification package), once, when an asset pack is installed; robots use that copy for the fast
render setting and keep the full meshes for previews and videos.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from demoforge.errors import InputFileError

STL_HEADER_BYTES = 80
STL_RECORD = np.dtype([("normal", "<f4", (3,)), ("corners", "<f4", (3, 3)), ("attribute", "<u2")])
FAST_KEEP = 0.2  # share of a visual mesh's triangles kept for the fast render setting
FAST_MIN_TRIANGLES = 200  # a mesh this small is copied as it is


def read_stl(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (V, 3) and triangles (F, 3) of a binary STL file, corners at the same point merged."""
    data = path.read_bytes()
    count = int.from_bytes(data[STL_HEADER_BYTES : STL_HEADER_BYTES + 4], "little") if len(data) >= 84 else -1
    if count < 0 or len(data) != STL_HEADER_BYTES + 4 + count * STL_RECORD.itemsize:
        raise InputFileError(path, "is not a binary STL file (its size does not match its triangle count)")
    records = np.frombuffer(data, STL_RECORD, count, offset=STL_HEADER_BYTES + 4)
    vertices, index = np.unique(records["corners"].reshape(-1, 3), axis=0, return_inverse=True)
    return vertices.astype(np.float32), index.reshape(-1, 3).astype(np.int64)


def write_stl(path: Path, vertices: np.ndarray, triangles: np.ndarray) -> None:
    """A binary STL file of ``triangles`` (F, 3) indexing ``vertices`` (V, 3), with unit face normals."""
    corners = np.asarray(vertices, dtype=np.float32)[triangles]
    normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    lengths = np.linalg.norm(normals, axis=1, keepdims=True)
    records = np.zeros(len(triangles), STL_RECORD)
    records["normal"] = np.divide(normals, lengths, out=np.zeros_like(normals), where=lengths > 0)
    records["corners"] = corners
    header = b"demoforge: decimated for fast rendering".ljust(STL_HEADER_BYTES, b" ")
    path.write_bytes(header + len(triangles).to_bytes(4, "little") + records.tobytes())


def decimate(vertices: np.ndarray, triangles: np.ndarray, keep: float) -> tuple[np.ndarray, np.ndarray]:
    """The mesh with about ``keep`` of its triangles (at least ``FAST_MIN_TRIANGLES``), its shape kept by
    quadric error simplification."""
    import fast_simplification

    if len(triangles) <= FAST_MIN_TRIANGLES:
        return vertices, triangles
    reduction = 1.0 - max(keep, FAST_MIN_TRIANGLES / len(triangles))
    points, faces = fast_simplification.simplify(np.ascontiguousarray(vertices, dtype=np.float32),
                                                 np.ascontiguousarray(triangles, dtype=np.int32), reduction)
    return points, faces


def decimate_folder(source: Path, target: Path, keep: float = FAST_KEEP) -> dict[str, tuple[int, int]]:
    """Every ``*.STL``/``*.stl`` file of ``source`` written to ``target`` with about ``keep`` of its triangles;
    returns, per file name, (triangles before, after)."""
    target.mkdir(parents=True, exist_ok=True)
    counts = {}
    for path in sorted(p for p in source.iterdir() if p.suffix.lower() == ".stl"):
        vertices, triangles = read_stl(path)
        points, faces = decimate(vertices, triangles, keep)
        write_stl(target / path.name, points, faces)
        counts[path.name] = (len(triangles), len(faces))
    return counts

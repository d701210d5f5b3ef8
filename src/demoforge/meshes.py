"""Triangle mesh files: binary STL and Wavefront OBJ read and written with numpy, and decimation for fast
training cameras.

A robot's visual meshes are drawn, never simulated. A camera of 84x84 pixels on a CPU renderer spends its
time on triangles far smaller than a pixel: GR1's body meshes hold 437k of them. ``decimate_folder`` writes
a copy of a folder of meshes with a fraction of the triangles kept (quadric error simplification, the
fast-simplification package), once, when an asset pack is installed; robots use that copy for the fast
render setting and keep the full meshes for previews and videos. A copy keeps each file's name and format, so
a model switches between the two by its mesh folder alone.
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


def read_obj(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (V, 3) and triangles (F, 3) of a Wavefront OBJ file's geometry (``v`` and ``f`` lines; polygons
    split into fans), repeated vertices merged; texture coordinates, normals and materials are not read."""
    vertices, faces = [], []
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if fields[0] == "v" and len(fields) >= 4:
            vertices.append([float(x) for x in fields[1:4]])
        elif fields[0] == "f":  # 1-based, or negative: back from the vertices read so far
            corners = [int(c) if int(c) > 0 else len(vertices) + 1 + int(c) for c in (f.split("/")[0] for f in fields[1:])]
            if len(corners) < 3:
                raise InputFileError(path, f"line {number}: a face needs 3 or more corners")
            faces += [[corners[0], corners[k], corners[k + 1]] for k in range(1, len(corners) - 1)]
    if not faces:
        raise InputFileError(path, "holds no faces (expected `f` lines of a Wavefront OBJ mesh)")
    points = np.array(vertices, dtype=np.float32).reshape(-1, 3)
    index = np.array(faces, dtype=np.int64) - 1
    if index.min() < 0 or index.max() >= len(points):
        raise InputFileError(path, f"a face names a vertex outside the {len(points)} given")
    merged, inverse = np.unique(points, axis=0, return_inverse=True)
    return merged, inverse.reshape(-1)[index]


def write_obj(path: Path, vertices: np.ndarray, triangles: np.ndarray) -> None:
    """A Wavefront OBJ file of ``triangles`` (F, 3) indexing ``vertices`` (V, 3): geometry only."""
    lines = ["# demoforge: decimated for fast rendering"]
    lines += [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in np.asarray(vertices, dtype=np.float64)]
    lines += [f"f {a} {b} {c}" for a, b, c in np.asarray(triangles, dtype=np.int64) + 1]
    path.write_text("\n".join(lines) + "\n")


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


MESH_FORMATS = {".stl": (read_stl, write_stl), ".obj": (read_obj, write_obj)}


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
    """Every STL and OBJ file under ``source`` written to the same place under ``target``, in its own format,
    with about ``keep`` of its triangles; returns, per path relative to ``source``, (triangles before, after)."""
    counts = {}
    for path in sorted(p for p in source.rglob("*") if p.suffix.lower() in MESH_FORMATS):
        read, write = MESH_FORMATS[path.suffix.lower()]
        vertices, triangles = read(path)
        points, faces = decimate(vertices, triangles, keep)
        relative = path.relative_to(source)
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        write(target / relative, points, faces)
        counts[relative.as_posix()] = (len(triangles), len(faces))
    return counts

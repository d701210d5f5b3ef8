"""Mesh files: binary STL and OBJ round-trip through numpy; decimation keeps a mesh's shape with a fifth of
its triangles, and a folder's layout and formats; a broken mesh file is a clear error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from demoforge.assetpacks import ROBOSUITE, asset_path
from demoforge.errors import InputFileError
from demoforge.meshes import (
    FAST_MIN_TRIANGLES, STL_RECORD, decimate, decimate_folder, read_obj, read_stl, write_obj, write_stl,
)


def test_stl_round_trip_keeps_vertices_triangles_and_outward_normals(tmp_path: Path) -> None:
    vertices = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float32)  # a tetrahedron
    triangles = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])
    write_stl(tmp_path / "t.stl", vertices, triangles)
    assert (tmp_path / "t.stl").stat().st_size == 80 + 4 + 4 * 50
    again_vertices, again_triangles = read_stl(tmp_path / "t.stl")
    assert np.array_equal(again_vertices[again_triangles], vertices[triangles])
    normals = np.frombuffer((tmp_path / "t.stl").read_bytes(), STL_RECORD, 4, offset=84)["normal"]
    assert np.allclose(normals[0], [0, 0, -1]) and np.allclose(np.linalg.norm(normals, axis=1), 1)


def test_decimation_keeps_a_gr1_mesh_in_shape(tmp_path: Path) -> None:
    source = asset_path(ROBOSUITE, "robots/gr1/meshes")
    counts = decimate_folder(source, tmp_path, keep=0.2)
    assert set(counts) == {p.name for p in source.iterdir() if p.suffix.lower() == ".stl"}
    before, after = (sum(c[i] for c in counts.values()) for i in (0, 1))
    assert after < 0.25 * before and all(b >= 0.9 * min(a, FAST_MIN_TRIANGLES) for a, b in counts.values())
    for name in ("torso.STL", "r_upper_arm_pitch.STL"):
        full, _ = read_stl(source / name)
        fast, _ = read_stl(tmp_path / name)
        assert np.allclose(fast.min(axis=0), full.min(axis=0), atol=6e-3)  # the same extent, within 6 mm
        assert np.allclose(fast.max(axis=0), full.max(axis=0), atol=6e-3)


def test_a_small_mesh_is_kept_as_it_is() -> None:
    vertices = np.random.default_rng(0).normal(size=(30, 3)).astype(np.float32)
    triangles = np.arange(30).reshape(10, 3)
    assert decimate(vertices, triangles, 0.1)[1] is triangles


def test_a_file_that_is_not_a_binary_stl_is_named(tmp_path: Path) -> None:
    ascii_stl = tmp_path / "part.stl"
    ascii_stl.write_text("solid part\nfacet normal 0 0 1\nendsolid part\n")
    with pytest.raises(InputFileError, match="part.stl.*not a binary STL"):
        read_stl(ascii_stl)


def test_obj_round_trip_merges_repeated_vertices_and_splits_polygons(tmp_path: Path) -> None:
    (tmp_path / "quad.obj").write_text(
        "mtllib quad.mtl\nusemtl x\nv 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nv 0 0 0\nvn 0 0 1\n"
        "f 1/1/1 2/2/1 3/3/1 4/4/1\nf -1 -4 -3\n"
    )
    vertices, triangles = read_obj(tmp_path / "quad.obj")
    assert len(vertices) == 4 and len(triangles) == 3  # the repeated corner merged; the quad is two triangles
    write_obj(tmp_path / "again.obj", vertices, triangles)
    again_vertices, again_triangles = read_obj(tmp_path / "again.obj")
    assert np.array_equal(again_vertices[again_triangles], vertices[triangles])


def test_decimation_keeps_a_panda_obj_folder_in_place_and_in_format(tmp_path: Path) -> None:
    source = asset_path(ROBOSUITE, "robots/panda/obj_meshes")
    counts = decimate_folder(source, tmp_path, keep=0.2)
    assert set(counts) == {p.relative_to(source).as_posix() for p in source.rglob("*.obj")}
    assert "link0_vis/link0_vis_0.obj" in counts  # the sub-folders kept, names and formats unchanged
    before, after = (sum(c[i] for c in counts.values()) for i in (0, 1))
    assert after < 0.3 * before
    full, _ = read_obj(source / "link1_vis/link1_vis.obj")
    fast, _ = read_obj(tmp_path / "link1_vis/link1_vis.obj")
    assert np.allclose(fast.min(axis=0), full.min(axis=0), atol=6e-3)
    assert np.allclose(fast.max(axis=0), full.max(axis=0), atol=6e-3)


@pytest.mark.parametrize("text, why", [("v 0 0 0\nv 1 0 0\n", "holds no faces"),
                                       ("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 9\n", "outside the 3 given"),
                                       ("v 0 0 0\nf 1 1\n", "line 2: a face needs 3")])
def test_a_broken_obj_is_named_with_what_is_wrong(tmp_path: Path, text: str, why: str) -> None:
    (tmp_path / "part.obj").write_text(text)
    with pytest.raises(InputFileError, match=f"part.obj.*{why}"):
        read_obj(tmp_path / "part.obj")

"""A compiled MuJoCo model as data a web page can draw (three.js), and the body poses that move it.

``describe(model)`` lists the visible geoms (primitive type and size, or mesh), each attached to a body
with its local pose, colour and material (2D textures as PNG); ``body_poses(data, ids)`` is what is
streamed each frame. Quaternions are converted at this edge from MuJoCo's (w, x, y, z) to three.js's
(x, y, z, w); positions stay in MuJoCo's world frame (z up, metres): the page turns z up into y up.
"""

from __future__ import annotations

import base64
import io

import mujoco
import numpy as np
from PIL import Image

VISIBLE_GROUPS = (0, 1, 2)  # MuJoCo's viewer shows these geom groups by default; 3+ hold collision-only geoms
GEOM_TYPES = {
    mujoco.mjtGeom.mjGEOM_PLANE: "plane", mujoco.mjtGeom.mjGEOM_SPHERE: "sphere",
    mujoco.mjtGeom.mjGEOM_CAPSULE: "capsule", mujoco.mjtGeom.mjGEOM_ELLIPSOID: "ellipsoid",
    mujoco.mjtGeom.mjGEOM_CYLINDER: "cylinder", mujoco.mjtGeom.mjGEOM_BOX: "box", mujoco.mjtGeom.mjGEOM_MESH: "mesh",
}
RGB_ROLE = int(mujoco.mjtTextureRole.mjTEXROLE_RGB)


def xyzw(quat_wxyz: np.ndarray) -> list[float]:
    """MuJoCo (w, x, y, z) -> three.js (x, y, z, w)."""
    w, x, y, z = (float(v) for v in quat_wxyz)
    return [x, y, z, w]


def _b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode()


def _texture_png(model: mujoco.MjModel, tex: int) -> str:
    w, h = int(model.tex_width[tex]), int(model.tex_height[tex])
    channels = int(model.tex_nchannel[tex])
    start = int(model.tex_adr[tex])
    pixels = np.asarray(model.tex_data[start : start + w * h * channels], dtype=np.uint8).reshape(h, w, channels)
    buffer = io.BytesIO()
    Image.fromarray(pixels.squeeze(-1) if channels == 1 else pixels).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def _material(model: mujoco.MjModel, mat: int, textures: dict[int, int], out: list[dict]) -> dict:
    """A material's colour and, for a 2D texture, its index in ``out`` (textures are listed once)."""
    found = {"rgba": [float(v) for v in model.mat_rgba[mat]], "specular": float(model.mat_specular[mat]),
             "shininess": float(model.mat_shininess[mat])}
    texid = model.mat_texid[mat]
    tex = int(texid[RGB_ROLE] if np.ndim(texid) else texid)
    if tex >= 0 and int(model.tex_type[tex]) == int(mujoco.mjtTexture.mjTEXTURE_2D):
        if tex not in textures:
            textures[tex] = len(out)
            out.append({"png": _texture_png(model, tex)})
        found.update(texture=textures[tex], repeat=[float(v) for v in model.mat_texrepeat[mat]],
                     uniform=bool(model.mat_texuniform[mat]))
    return found


def describe(model: mujoco.MjModel) -> dict:
    """Everything static the page needs: bodies (by index into the pose stream), geoms, meshes, textures."""
    geoms, meshes, textures, materials = [], {}, [], {}
    tex_index: dict[int, int] = {}
    bodies: list[int] = []
    for g in range(model.ngeom):
        kind = GEOM_TYPES.get(mujoco.mjtGeom(model.geom_type[g]))
        if kind is None or int(model.geom_group[g]) not in VISIBLE_GROUPS:
            continue
        mat = int(model.geom_matid[g])
        rgba = model.mat_rgba[mat] if mat >= 0 else model.geom_rgba[g]
        if rgba[3] == 0:
            continue
        body = int(model.geom_bodyid[g])
        if body not in bodies:
            bodies.append(body)
        geom = {
            "name": model.geom(g).name, "type": kind, "body": bodies.index(body),
            "size": [float(v) for v in model.geom_size[g]], "pos": [float(v) for v in model.geom_pos[g]],
            "quat": xyzw(model.geom_quat[g]), "rgba": [float(v) for v in rgba],
        }
        if mat >= 0:
            if mat not in materials:
                materials[mat] = _material(model, mat, tex_index, textures)
            geom["material"] = materials[mat]
        if kind == "mesh":
            mesh = int(model.geom_dataid[g])
            if mesh not in meshes:
                v0, nv = int(model.mesh_vertadr[mesh]), int(model.mesh_vertnum[mesh])
                f0, nf = int(model.mesh_faceadr[mesh]), int(model.mesh_facenum[mesh])
                meshes[mesh] = {
                    "vertices": _b64(model.mesh_vert[v0 : v0 + nv].astype(np.float32)),
                    "faces": _b64(model.mesh_face[f0 : f0 + nf].astype(np.uint32)),
                }
            geom["mesh"] = str(mesh)
        geoms.append(geom)
    return {
        "bodies": [{"id": b, "name": model.body(b).name} for b in bodies],
        "geoms": geoms, "meshes": {str(k): v for k, v in meshes.items()}, "textures": textures,
    }


def body_ids(description: dict) -> np.ndarray:
    return np.array([b["id"] for b in description["bodies"]], dtype=int)


def body_poses(data: mujoco.MjData, ids: np.ndarray, digits: int = 5) -> list[float]:
    """Flat (x, y, z, qx, qy, qz, qw) per body, rounded (10 micrometres) to keep the stream small."""
    quat = data.xquat[ids]
    poses = np.concatenate([data.xpos[ids], quat[:, 1:], quat[:, :1]], axis=1)
    return np.round(poses, digits).ravel().tolist()

"""Offscreen camera images during simulation (EGL headless; shadows and multisampling are off in every scene)."""

from __future__ import annotations

import os

import mujoco
import numpy as np

from demoforge.data.keys import CAMERA_ALIASES, DEPTH, IMAGE, SEGMENTATION, camera_key
from demoforge.errors import DemoforgeError
from demoforge.sim.scene import ARM_CAMERAS_TEXT



def camera_names(model: mujoco.MjModel) -> list[str]:
    return [model.camera(i).name for i in range(model.ncam)]


def camera_aliases(model: mujoco.MjModel) -> dict[str, str]:
    """Short names of cameras: ``wrist`` (the first arm's), ``<arm>_wrist`` per arm and the robot's own (``head``
    on gr1) as the model records them (``right_wrist``, ``left_wrist`` on bimanual_panda)."""
    aliases = dict(CAMERA_ALIASES)
    text = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_TEXT, ARM_CAMERAS_TEXT)
    if text >= 0:
        start = int(model.text_adr[text])
        data = bytes(model.text_data[start : start + int(model.text_size[text]) - 1]).decode()
        aliases.update(pair.split("=", 1) for pair in data.split() if "=" in pair)
    return aliases


def resolve_cameras(model: mujoco.MjModel, names: list[str]) -> list[str]:
    """Scene camera names for user names (``wrist`` = ``robot0_eye_in_hand``); unknown names are an error."""
    known = camera_names(model)
    aliases = camera_aliases(model)
    resolved = [aliases.get(n, n) for n in names]
    missing = [n for n, r in zip(names, resolved) if r not in known]
    if missing:
        short = ", ".join(a for a, c in aliases.items() if c in known)
        raise DemoforgeError(f"unknown camera(s) {missing}; the scene has {', '.join(known)} (and the aliases {short})")
    return resolved


def max_image_size(model: mujoco.MjModel) -> tuple[int, int]:
    """(width, height) of the model's offscreen framebuffer: the largest image it can render."""
    return int(model.vis.global_.offwidth), int(model.vis.global_.offheight)


def check_image_size(model: mujoco.MjModel, height: int, width: int) -> None:
    """Refuse an image larger than the offscreen framebuffer, naming the limit (it is no GL problem)."""
    max_width, max_height = max_image_size(model)
    if width > max_width or height > max_height:
        raise DemoforgeError(
            f"image size {width}x{height} is too large: this scene renders at most {max_width}x{max_height} "
            "pixels (its offscreen framebuffer, <visual><global offwidth offheight> in the MJCF)"
        )


def offscreen_renderer(model: mujoco.MjModel, height: int, width: int) -> mujoco.Renderer:
    """An offscreen renderer, or a clear error: the size is too large, or no GL context could be made."""
    check_image_size(model, height, width)
    try:
        return mujoco.Renderer(model, height, width)
    except Exception as exc:  # no GL context: the usual fix is the headless backend
        detail = " ".join(str(exc).split()) or type(exc).__name__
        backend = os.environ.get("MUJOCO_GL")
        now = f"MUJOCO_GL is {backend!r}" if backend else "MUJOCO_GL is not set"
        raise DemoforgeError(
            f"cannot create an OpenGL context for offscreen rendering ({detail}); {now}: on a machine without a "
            "display set MUJOCO_GL=egl (GPU or Mesa EGL) or MUJOCO_GL=osmesa (software)"
        ) from None


def frame_bytes(num_cameras: int, size: int, depth: bool = False, segmentation: bool = False) -> int:
    """Bytes of one step's camera observations: per camera RGB uint8, depth float32, labels int16."""
    return num_cameras * size * size * (3 + 4 * depth + 2 * segmentation)


def segmentation_labels(model: mujoco.MjModel, groups: list[np.ndarray]) -> np.ndarray:
    """Per-geom instance label: 0 for the rest of the scene, ``i + 1`` for the geoms in ``groups[i]``."""
    labels = np.zeros(model.ngeom, dtype=np.int16)
    for i, geoms in enumerate(groups):
        labels[geoms] = i + 1
    return labels


class CameraRig:
    """One offscreen renderer per model, rendering the named cameras into caller-owned arrays.

    Observation keys follow robosuite: ``<camera>_image`` (H, W, 3) uint8, ``<camera>_depth`` (H, W, 1)
    float32 metres along the optical axis, ``<camera>_segmentation_instance`` (H, W, 1) int16 labels
    from ``geom_labels`` (0 wherever no labelled geom is seen).
    """

    def __init__(
        self,
        model: mujoco.MjModel,
        names: list[str],
        size: int,
        depth: bool = False,
        geom_labels: np.ndarray | None = None,
    ) -> None:
        self.model = model
        self.names = resolve_cameras(model, names)
        self.size = size
        self.depth = depth
        self.geom_labels = geom_labels
        self.renderer = offscreen_renderer(model, size, size)
        self._depth = np.zeros((size, size), dtype=np.float32)

    def obs_shapes(self) -> dict[str, tuple[tuple[int, ...], type]]:
        """Observation key -> (shape, dtype) of one frame, for every camera and channel this rig renders."""
        s = self.size
        shapes: dict[str, tuple[tuple[int, ...], type]] = {}
        for name in self.names:
            shapes[camera_key(name, IMAGE)] = ((s, s, 3), np.uint8)
            if self.depth:
                shapes[camera_key(name, DEPTH)] = ((s, s, 1), np.float32)
            if self.geom_labels is not None:
                shapes[camera_key(name, SEGMENTATION)] = ((s, s, 1), np.int16)
        return shapes

    def capture(self, data: mujoco.MjData, out: dict[str, np.ndarray]) -> None:
        """Render every camera and channel of the current state into ``out[key]`` (keys of ``obs_shapes``)."""
        r = self.renderer
        # Stepping ends with mj_kinematics, which leaves camera and light poses one step behind the bodies.
        mujoco.mj_comPos(self.model, data)
        mujoco.mj_camlight(self.model, data)
        for name in self.names:
            r.update_scene(data, camera=name)
            r.render(out=out[camera_key(name, IMAGE)])
            if self.depth:
                r.enable_depth_rendering()
                r.render(out=self._depth)
                r.disable_depth_rendering()
                out[camera_key(name, DEPTH)][..., 0] = self._depth
            if self.geom_labels is not None:
                r.enable_segmentation_rendering()
                segment = r.render()  # (H, W, 2): object id and type (MuJoCo 3.3 takes no out= here)
                r.disable_segmentation_rendering()
                ids, types = segment[..., 0], segment[..., 1]
                is_geom = (types == int(mujoco.mjtObj.mjOBJ_GEOM)) & (ids >= 0)
                out[camera_key(name, SEGMENTATION)][..., 0] = np.where(is_geom, self.geom_labels[np.maximum(ids, 0)], 0)

    def close(self) -> None:
        self.renderer.close()

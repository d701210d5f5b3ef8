"""Offscreen camera images during simulation (EGL headless; shadows and multisampling are off in every scene)."""

from __future__ import annotations

import mujoco
import numpy as np

from demoforge.errors import DemoforgeError

CAMERA_ALIASES = {"wrist": "robot0_eye_in_hand", "eye_in_hand": "robot0_eye_in_hand"}


def camera_names(model: mujoco.MjModel) -> list[str]:
    return [model.camera(i).name for i in range(model.ncam)]


def resolve_cameras(model: mujoco.MjModel, names: list[str]) -> list[str]:
    """Scene camera names for user names (``wrist`` = ``robot0_eye_in_hand``); unknown names are an error."""
    known = camera_names(model)
    resolved = [CAMERA_ALIASES.get(n, n) for n in names]
    missing = [n for n, r in zip(names, resolved) if r not in known]
    if missing:
        raise DemoforgeError(f"unknown camera(s) {missing}; the scene has {', '.join(known)} (and the alias 'wrist')")
    return resolved


def offscreen_renderer(model: mujoco.MjModel, height: int, width: int) -> mujoco.Renderer:
    """An offscreen renderer, or a clear error when no GL backend is available."""
    try:
        return mujoco.Renderer(model, height, width)
    except Exception as exc:  # no GL context: the usual fix is the headless backend
        raise DemoforgeError(f"cannot create an offscreen renderer ({exc}); set MUJOCO_GL=egl (or osmesa)") from None


class CameraRig:
    """One offscreen renderer per model, rendering the named cameras into caller-owned uint8 arrays."""

    def __init__(self, model: mujoco.MjModel, names: list[str], size: int) -> None:
        self.names = resolve_cameras(model, names)
        self.size = size
        self.renderer = offscreen_renderer(model, size, size)

    def capture(self, data: mujoco.MjData, out: dict[str, np.ndarray]) -> None:
        """Render every camera of the current state into ``out[name]`` (H, W, 3)."""
        for name in self.names:
            self.renderer.update_scene(data, camera=name)
            self.renderer.render(out=out[name])

    def close(self) -> None:
        self.renderer.close()

"""What every demo must hold to become an episode: read off the first demo, then checked on each.

A video has one frame size and a Parquet column one width, so a demo that differs is refused,
naming the file and field, before any of it is written; so is one with NaN, inf, or actions far
outside [-1, 1] in what it exports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from demoforge.data.demo import Demo
from demoforge.data.keys import ActionLayout, ArmColumns, resolve_alias
from demoforge.data.values import ACTION_LIMIT, check_values
from demoforge.errors import DemoforgeError, InputFileError


@dataclass(frozen=True)
class _Layout:
    """Keys and widths every demo must have, taken from the first demo (a video needs one frame size)."""

    cameras: tuple[str, ...]
    image_hw: dict[str, tuple[int, int]]
    gripper_dim: int
    joint_dim: int  # 0: no obs/robot0_joint_pos
    object_dim: int  # 0: no obs/object
    object_names: tuple[str, ...]
    actions: ActionLayout = ActionLayout((ArmColumns("arm0", "robot0_", 0),))  # arms in action order

    @property
    def arms(self) -> tuple[ArmColumns, ...]:
        return self.actions.arms

    def arm_label(self, arm: ArmColumns) -> str:
        """Feature-name prefix of an arm: none for one arm (names as before arms), else ``right_``."""
        return "" if len(self.arms) == 1 else f"{arm.arm}_"

    @staticmethod
    def of(src: Path, demo: Demo, env_args: dict, cameras: Sequence[str] | None) -> _Layout:
        name = demo.meta.get("name", "demo_0")
        available = [k[: -len("_image")] for k in sorted(demo.obs) if k.endswith("_image")]
        if cameras is None:
            chosen = tuple(available)
        else:
            chosen = tuple(dict.fromkeys(resolve_alias(c) for c in cameras))
            missing = [c for c in chosen if c not in available]
            if missing:
                have = ", ".join(available) if available else "none (export without images, or add them first)"
                raise DemoforgeError(f"{src}: no images for camera(s) {', '.join(missing)}; the file has {have}")
        image_hw = {}
        for cam in chosen:
            field = f"/data/{name}/obs/{cam}_image"
            frames = demo.obs[f"{cam}_image"]
            if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
                raise InputFileError(src, f"is {frames.dtype} {frames.shape}; expected uint8 (T, H, W, 3) RGB", field=field)
            h, w = frames.shape[1:3]
            if h % 2 or w % 2:
                raise InputFileError(src, f"images are {h}x{w}; H.264 video (yuv420p) needs an even height and width", field=field)
            image_hw[cam] = (int(h), int(w))
        actions = ActionLayout.from_env_args(env_args)
        for prefix in (arm.prefix for arm in actions.arms):
            for key in (f"{prefix}eef_pos", f"{prefix}eef_quat", f"{prefix}gripper_qpos"):
                if key not in demo.obs:
                    raise InputFileError(src, "is missing; observation.state is built from it", field=f"/data/{name}/obs/{key}")
        width = {k: _width(demo.obs[k]) for k in ("robot0_gripper_qpos", "robot0_joint_pos", "object") if k in demo.obs}
        object_dim = width.get("object", 0)
        objects = object_names(env_args)
        if not objects or 7 * len(objects) != object_dim:
            objects = tuple(f"object{i}" for i in range(object_dim // 7))
        return _Layout(
            cameras=chosen,
            image_hw=image_hw,
            gripper_dim=width["robot0_gripper_qpos"],
            joint_dim=width.get("robot0_joint_pos", 0),
            object_dim=object_dim,
            object_names=objects,
            actions=actions,
        )

    def check(self, src: Path, demo: Demo) -> None:
        """Raise an error naming the file and field where ``demo`` does not fit this layout."""
        name = demo.meta.get("name", "?")
        T = len(demo)
        if T == 0:
            raise InputFileError(src, "has no steps; a LeRobot episode needs at least one frame", field=f"/data/{name}/actions")
        expect = {"actions": (T, self.actions.width), "actions_abs": (T, self.actions.width), "rewards": (T,),
                  "dones": (T,)}
        for prefix in (arm.prefix for arm in self.arms):
            expect[f"obs/{prefix}eef_pos"] = (T, 3)
            expect[f"obs/{prefix}eef_quat"] = (T, 4)
            expect[f"obs/{prefix}gripper_qpos"] = (T, self.gripper_dim)
            if self.joint_dim:
                expect[f"obs/{prefix}joint_pos"] = (T, self.joint_dim)
        if self.object_dim:
            expect["obs/object"] = (T, self.object_dim)
        for cam in self.cameras:
            expect[f"obs/{cam}_image"] = (T, *self.image_hw[cam], 3)
        for key, shape in expect.items():
            field = f"/data/{name}/{key}"
            value = demo.obs.get(key[4:]) if key.startswith("obs/") else getattr(demo, key)
            if value is None:
                raise InputFileError(src, "is missing (the first demo has it; every demo needs the same keys)", field=field)
            if value.shape != shape:
                what = "frames" if key.endswith("_image") else "rows"
                problem = (
                    f"has {value.shape[0]} {what}; expected {T} (one per step)"
                    if value.shape[1:] == shape[1:]
                    else f"has shape {value.shape}; expected {shape} (as in the first demo)"
                )
                raise InputFileError(src, problem, field=field)
            if key.endswith("_image") and value.dtype != np.uint8:
                raise InputFileError(src, f"is {value.dtype}; expected uint8 RGB", field=field)
            check_values(src, field, value)  # a NaN would reach the Parquet files and stats.json
        check_values(src, f"/data/{name}/actions", demo.actions, ACTION_LIMIT)


def _width(value: np.ndarray) -> int:
    return int(np.prod(value.shape[1:])) if value.ndim >= 2 else 1


def object_names(env_args: dict) -> tuple[str, ...]:
    """The task's objects in ``obs/object`` order, as the file's ``env_args`` names them (``env_kwargs.objects``,
    or the segmentation labels of files before it); none when the file does not say."""
    kwargs = env_args.get("env_kwargs") or {}
    names = kwargs.get("objects") or list(kwargs.get("segmentation_labels") or [])[2:]  # labels: scene, robot, objects
    return tuple(str(n) for n in names)

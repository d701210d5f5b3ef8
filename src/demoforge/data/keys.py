"""The names inside a dataset, in one place: action width, observation keys of cameras, camera aliases.

Readers and writers of every layer take names from here instead of spelling them, so a key is
changed (or a second arm's added) in one file. docs/formats.md documents each.
"""

from __future__ import annotations

ACTION_DIM = 7  # one arm: [dx, dy, dz, rx, ry, rz, gripper] (sim/controller.py has the units and frames)

# Short camera names a user may type, and the camera they mean (robosuite names the wrist camera this way).
CAMERA_ALIASES = {"wrist": "robot0_eye_in_hand", "eye_in_hand": "robot0_eye_in_hand"}

IMAGE, DEPTH, SEGMENTATION = "image", "depth", "segmentation_instance"  # per-camera observation channels


def camera_key(camera: str, channel: str = IMAGE) -> str:
    """``obs/<key>`` of a camera channel: ``agentview_image``, ``agentview_depth``, ..."""
    return f"{camera}_{channel}"


def resolve_alias(camera: str) -> str:
    """The stored camera name behind a short name (``wrist`` -> ``robot0_eye_in_hand``)."""
    return CAMERA_ALIASES.get(camera, camera)

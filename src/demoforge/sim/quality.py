"""Two render settings: ``fast`` for training cameras, ``high`` for what a person looks at.

Every scene is compiled for ``fast``: decimated visual meshes and textures of at most 256 pixels (the pack's
``*_fast`` folders), no shadows, no multisampling, which a CPU renderer draws 10-30x faster. ``high`` is made
from the same MJCF text: the full meshes and images of the same files (a fast copy keeps each file's name and
format, so only the folder changes),
shadow maps and 4x multisampling, for previews, videos and the report. Only drawn geometry differs: the
physics and the states are the same, so any stored demo renders either way.
"""

from __future__ import annotations

import re
from typing import Literal

import mujoco

from demoforge.assetpacks import PACKS, fast_copies, fast_folder

Quality = Literal["fast", "high"]
QUALITIES: tuple[Quality, ...] = ("fast", "high")
SHADOW_SIZE = 4096  # shadow map texels per side at ``high``
MULTISAMPLES = 4


def quality_settings(quality: Quality) -> dict[str, object]:
    """What a setting draws, as stored in a dataset's ``env_args`` and shown in reports."""
    high = quality == "high"
    return {"quality": quality, "meshes": "full" if high else "decimated", "shadows": high,
            "multisamples": MULTISAMPLES if high else 0}


def for_quality(xml: str, quality: Quality) -> str:
    """The MJCF text of a scene drawn at ``quality``: at ``high`` its decimated pack meshes and shrunk textures
    point at the full ones."""
    if quality == "fast":
        return xml
    for pack in PACKS.values():
        for folder in fast_copies(pack):
            fast = re.escape(f"/{pack.name}/{fast_folder(folder)}/")
            xml = re.sub(rf'(file="[^"]*?){fast}', lambda m: f"{m.group(1)}/{pack.name}/{folder}/", xml)
    return xml


def apply_quality(model: mujoco.MjModel, quality: Quality) -> mujoco.MjModel:
    """Turn on the model's offscreen shadows and multisampling at ``high`` (read when a renderer is made); a
    model at ``fast`` keeps its own settings (off in every demoforge scene)."""
    if quality == "high":
        model.vis.quality.shadowsize = SHADOW_SIZE
        model.vis.quality.offsamples = MULTISAMPLES
    return model

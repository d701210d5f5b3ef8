"""Kitchen appliances with working joints, from the Franka Kitchen's model files (gymnasium-robotics pack).

The Franka Kitchen (first in the relay policy learning work, now kept in gymnasium-robotics) models a
microwave with a hinged door, a wall cabinet with two hinged doors, a wall cabinet with a sliding door and
a kettle (and an oven, too tall for demoforge's counters: ``sim/stove.py`` builds the stove), each as an asset fragment and a body fragment meant to be included in one big scene. ``appliance_spec``
assembles one of them into a model of its own (its meshes and textures by absolute path in the pack), which
``sim/scene.py`` attaches wherever a ``SceneSpec`` puts it:

- the collision boxes and capsules collide with the robot and the objects (demoforge's world bits); they
  stay out of pictures, as in the original, and give the moving parts their mass;
- the drawn meshes and boxes weigh nothing;
- textures are the pack's fast copies (``sim/quality.py`` swaps the full ones in for ``high``).

Each appliance's frame: z up, its front facing -y as in the pack; ``APPLIANCES`` gives its size, the
point of its base in that frame and its joints, so scenes place it on a counter or a wall by its base.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import mujoco

from demoforge.assetpacks import KITCHEN, asset_path, fast_folder
from demoforge.sim.stove import stove_size, stove_spec

WORLD_CONTYPE, WORLD_CONAFFINITY = 1, 3  # as sim/scene.py: world geoms touch everything
COLLISION_GROUP = 4  # the pack's collision geoms: simulated, not drawn


@dataclass(frozen=True)
class ApplianceModel:
    """One of the pack's appliances (or demoforge's cooktop): its fragment files, root body, joints and how it
    stands."""

    fragment: str  # item_assets/<fragment>_asset.xml and _chain.xml ("": built by sim/stove.py)
    root: str  # its root body in the fragment
    joints: tuple[str, ...]  # its working joints, as the fragment names them
    half_size: tuple[float, float, float]  # half extents of its box (m), in its own frame
    base: tuple[float, float, float]  # where its bottom centre is in its own frame (m)


APPLIANCES: dict[str, ApplianceModel] = {  # sizes and bases measured from their collision geoms
    "microwave": ApplianceModel("microwave", "microroot", ("microwave",), (0.345, 0.224, 0.188), (0.0, 0.0, 0.0)),
    "hinge_cabinet": ApplianceModel("hingecabinet", "hingecab", ("left_hinge_cabinet", "right_hinge_cabinet"),
                                    (0.4, 0.3, 0.2), (0.0, 0.0, -0.2)),
    "slide_cabinet": ApplianceModel("slidecabinet", "slide", ("slide_cabinet",), (0.45, 0.3, 0.2), (0.0, 0.0, -0.2)),
    # the pack's oven is a 1.6 m range for a robot standing higher; the stove is built at counter size instead
    "stove": ApplianceModel("", "stove", tuple(f"knob_{i}_hinge" for i in range(4)), stove_size(4), (0.0, 0.0, 0.0)),
    "domino_stove": ApplianceModel("", "stove", ("knob_0_hinge", "knob_1_hinge"), stove_size(2), (0.0, 0.0, 0.0)),
}


def appliance_spec(kind: str) -> mujoco.MjSpec:
    """The appliance ``kind`` as a model of its own, ready to attach (root body named as in ``APPLIANCES``)."""
    model = APPLIANCES[kind]
    if not model.fragment:
        return stove_spec(len(model.joints))
    folder = asset_path(KITCHEN, "kitchen_assets")
    assets = _inside((folder / "item_assets" / f"{model.fragment}_asset.xml").read_text(), "mujocoinclude")
    body = _inside((folder / "item_assets" / f"{model.fragment}_chain.xml").read_text(), "mujocoinclude")
    assets = re.sub(r"<compiler[^>]*/>", "", assets)
    meshes, textures = folder / "meshes", asset_path(KITCHEN, fast_folder("kitchen_assets/textures"))
    assets = re.sub(r'file="[^"]*?([^/"]+\.stl)"', lambda m: f'file="{(meshes / m.group(1)).resolve()}"', assets)
    assets = re.sub(r'file="([^/"]+\.png)"', lambda m: f'file="{(textures / m.group(1)).resolve()}"', assets)
    xml = (f'<mujoco model="{kind}"><compiler angle="radian" inertiafromgeom="auto" inertiagrouprange="4 4"/>'
           f"{assets}<worldbody>{body}</worldbody></mujoco>")
    spec = mujoco.MjSpec.from_string(xml)
    for geom in spec.geoms:
        if geom.group == COLLISION_GROUP:
            geom.contype, geom.conaffinity = WORLD_CONTYPE, WORLD_CONAFFINITY
        else:
            geom.mass = 0.0  # drawn only: its box or mesh adds no mass (the collision geoms give it)
    for site in spec.sites:
        site.group = 5
    return spec


def _inside(text: str, tag: str) -> str:
    """The text between ``<tag>`` and ``</tag>``, comments removed."""
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    return text[text.index(f"<{tag}>") + len(tag) + 2 : text.rindex(f"</{tag}>")]

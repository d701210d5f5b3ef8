"""Edits of an ``MjSpec``: walks of its tree, and removals that differ between the MuJoCo versions demoforge
runs on (3.3 to 4.x)."""

from __future__ import annotations

import mujoco


def delete_element(spec: mujoco.MjSpec, element: object) -> None:
    """Remove ``element`` from ``spec``: ``MjSpec.delete`` in newer MuJoCo, the element's own ``delete`` in 3.3.0."""
    if hasattr(spec, "delete"):
        spec.delete(element)
    elif isinstance(element, mujoco.MjsBody):
        spec.detach_body(element)  # 3.3.0 removes a body (and its subtree) this way
    else:
        element.delete()


def subtree_spec_geoms(body: mujoco.MjsBody) -> list[mujoco.MjsGeom]:
    """Every geom of ``body`` and of the bodies below it, in a spec (``env.subtree_geoms`` is the model's)."""
    geoms = list(body.geoms)
    for child in body.bodies:
        geoms += subtree_spec_geoms(child)
    return geoms

"""Objects by category: every instance demoforge can put in a scene, with its size, symmetry and source.

A task or a scene asks for "a mug" and gets any instance of the category; each instance states what a task
needs of it (half extents, so it rests and is grasped at its size; yaw symmetry, so re-targeting picks the
least turn) and where it comes from: a mesh of the robosuite pack (drawn with its photograph, simulated with
a primitive of its size) or demoforge's procedural vessels and shapes. This module is data;
``sim/object_models.py`` builds an instance into a model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Category = Literal["mug", "cup", "bowl", "plate", "bottle", "can", "box", "fruit", "bread"]
Shape = Literal["mesh", "mug", "cup", "bowl", "plate", "cylinder", "box", "sphere"]


@dataclass(frozen=True)
class ObjectModel:
    """One instance of a category."""

    name: str
    category: Category
    shape: Shape  # mesh: the pack's mesh drawn, ``collision`` simulated; else a procedural shape
    half_size: tuple[float, float, float]  # half extents of its bounding box, metres (frame at its centre)
    symmetry: int  # n-fold yaw symmetry (0: any yaw, 1: none)
    rgba: tuple[float, float, float, float] = (0.8, 0.8, 0.8, 1.0)
    density: float = 500.0  # kg/m^3 of its simulated shape
    mesh: str = ""  # file in the robosuite pack (``objects/meshes/...``) for shape ``mesh``
    picture: str = ""  # its photograph in the pack's textures, wrapped by the mesh's own coordinates
    collision: Literal["cylinder", "box", "sphere"] = "box"  # the primitive of its size that is simulated
    mesh_centre: tuple[float, float, float] = (0.0, 0.0, 0.0)  # its bounding box's centre in the mesh file's frame

    @property
    def source(self) -> str:
        return f"robosuite-1.5.2: {self.mesh.rsplit('/', 1)[-1]}" if self.mesh else "procedural"


_MODELS = (
    # From the robosuite pack: the meshes of its pick-place objects.
    ObjectModel("soda_can", "can", "mesh", (0.025, 0.025, 0.04), 0, density=1000, mesh="objects/meshes/can.obj",
                picture="soda", collision="cylinder"),
    ObjectModel("glass_bottle", "bottle", "mesh", (0.028, 0.028, 0.08), 0, (0.7, 0.9, 0.7, 1.0), density=150,
                mesh="objects/meshes/bottle.obj", picture="glass", collision="cylinder", mesh_centre=(0.0, 0.0, 0.015)),
    ObjectModel("milk_carton", "box", "mesh", (0.022, 0.022, 0.08), 4, density=250, mesh="objects/meshes/milk.obj",
                picture="ceramic", collision="box", mesh_centre=(0.0, 0.0, 0.012)),
    ObjectModel("cereal_box", "box", "mesh", (0.05, 0.015, 0.075), 2, density=150, mesh="objects/meshes/cereal.obj",
                picture="cereal", collision="box"),
    ObjectModel("lemon", "fruit", "mesh", (0.0225, 0.02, 0.02), 0, density=600, mesh="objects/meshes/lemon.obj",
                picture="lemon", collision="sphere"),
    ObjectModel("bread_loaf", "bread", "mesh", (0.03, 0.025, 0.03), 2, density=200, mesh="objects/meshes/bread.obj",
                picture="bread", collision="box"),
    # Procedural: demoforge's vessels and shapes, in sizes of real kitchenware.
    ObjectModel("mug_small", "mug", "mug", (0.048, 0.039, 0.045), 1, (0.85, 0.85, 0.82, 1.0)),  # x: with the handle
    ObjectModel("mug_tall", "mug", "mug", (0.051, 0.042, 0.055), 1, (0.2, 0.35, 0.6, 1.0)),
    ObjectModel("cup_espresso", "cup", "cup", (0.03, 0.03, 0.03), 0, (0.95, 0.95, 0.93, 1.0)),
    ObjectModel("cup_paper", "cup", "cup", (0.038, 0.038, 0.05), 0, (0.9, 0.85, 0.7, 1.0)),
    ObjectModel("bowl_cereal", "bowl", "bowl", (0.07, 0.07, 0.03), 0, (0.9, 0.9, 0.88, 1.0)),
    ObjectModel("bowl_salad", "bowl", "bowl", (0.09, 0.09, 0.04), 0, (0.55, 0.75, 0.6, 1.0)),
    ObjectModel("plate_dinner", "plate", "plate", (0.12, 0.12, 0.01), 0, (0.95, 0.95, 0.95, 1.0)),
    ObjectModel("plate_side", "plate", "plate", (0.085, 0.085, 0.009), 0, (0.75, 0.55, 0.4, 1.0)),
    ObjectModel("tin_can", "can", "cylinder", (0.033, 0.033, 0.05), 0, (0.75, 0.2, 0.15, 1.0), density=400),
    ObjectModel("juice_bottle", "bottle", "cylinder", (0.03, 0.03, 0.1), 0, (0.95, 0.6, 0.1, 1.0), density=300),
    ObjectModel("tea_box", "box", "box", (0.04, 0.025, 0.06), 2, (0.3, 0.55, 0.35, 1.0), density=200),
    ObjectModel("apple", "fruit", "sphere", (0.035, 0.035, 0.035), 0, (0.75, 0.1, 0.1, 1.0), density=800),
    ObjectModel("orange", "fruit", "sphere", (0.038, 0.038, 0.038), 0, (0.95, 0.5, 0.05, 1.0), density=800),
    ObjectModel("bread_roll", "bread", "box", (0.045, 0.03, 0.025), 2, (0.78, 0.55, 0.3, 1.0), density=200),
)
CATALOGUE: dict[str, ObjectModel] = {m.name: m for m in _MODELS}
CATEGORIES: dict[str, tuple[str, ...]] = {
    category: tuple(m.name for m in _MODELS if m.category == category) for category in dict.fromkeys(
        m.category for m in _MODELS)
}


def instances(category: str) -> tuple[ObjectModel, ...]:
    """Every instance of ``category`` (a ``KeyError`` naming the known ones if there is none)."""
    if category not in CATEGORIES:
        raise KeyError(f"no object category {category!r} (known: {', '.join(CATEGORIES)})")
    return tuple(CATALOGUE[name] for name in CATEGORIES[category])

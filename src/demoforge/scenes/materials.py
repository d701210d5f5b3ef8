"""Materials by class: what a kitchen's surfaces are made of, as photographs with plausible colours.

Each class (wood, stone, tile, metal, plaster, paint, plastic, ceramic) lists the photographic textures of the
asset pack that show it, with the size in metres one picture covers (so planks and tiles come out at their
real size on any surface) and the gloss of the surface. Paint and plastic are plain colours from palettes of
what kitchens are painted and moulded in. The sampler draws a class for each surface from what that surface
is made of in real kitchens (``SURFACES``), then a picture or colour of it, tinted a little more at higher
levels; MuJoCo's procedural textures stay as one more option. This module is data: ``sim/scene.py`` turns a
``Material`` naming a picture into a texture from the installed pack.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass
from typing import Literal

import numpy as np

from demoforge.scenes.spec import Material

MaterialClass = Literal["wood", "stone", "tile", "metal", "plaster", "paint", "plastic", "ceramic"]


@dataclass(frozen=True)
class Picture:
    """One photographic texture of the pack (``textures/<name>.png``) and the metres one copy of it covers."""

    name: str
    metres: float


@dataclass(frozen=True)
class Finish:
    """How a class of surface reflects light (MuJoCo material ``specular`` and ``shininess``)."""

    specular: float
    shininess: float


PICTURES: dict[MaterialClass, tuple[Picture, ...]] = {
    "wood": (Picture("light-wood", 0.8), Picture("dark-wood", 0.9), Picture("gray-woodgrain", 0.6),
             Picture("wood-varnished-panels", 1.0), Picture("red-wood", 0.8), Picture("blue-wood", 0.6),
             Picture("green-wood", 0.6)),
    "stone": (Picture("cream-plaster", 1.2), Picture("pink-plaster", 1.0), Picture("gray-plaster", 1.0),
              Picture("brass-ambra", 0.8), Picture("gray-felt", 0.6)),
    "tile": (Picture("light-gray-floor-tile", 1.2), Picture("wood-tiles", 1.0), Picture("white-bricks", 1.0)),
    "metal": (Picture("steel-brushed", 0.5), Picture("steel-scratched", 0.6), Picture("metal", 0.5)),
    "plaster": (Picture("white-plaster", 1.5), Picture("light-gray-plaster", 1.5), Picture("yellow-plaster", 1.5),
                Picture("cream-plaster", 1.5), Picture("gray-plaster", 1.5)),
    "ceramic": (Picture("ceramic", 0.5),),
    "paint": (),
    "plastic": (),
}
FINISH: dict[MaterialClass, Finish] = {
    "wood": Finish(0.25, 0.3), "stone": Finish(0.45, 0.6), "tile": Finish(0.4, 0.5), "metal": Finish(0.9, 0.8),
    "plaster": Finish(0.1, 0.1), "paint": Finish(0.3, 0.3), "plastic": Finish(0.5, 0.6), "ceramic": Finish(0.7, 0.8),
}
# Colours (r, g, b) of each class: the paint and plastic a surface is, or the base of a procedural texture.
PALETTES: dict[MaterialClass, tuple[tuple[float, float, float], ...]] = {
    "paint": ((0.93, 0.92, 0.88), (0.85, 0.86, 0.84), (0.55, 0.62, 0.58), (0.30, 0.36, 0.45), (0.74, 0.70, 0.62),
              (0.20, 0.22, 0.25), (0.62, 0.72, 0.78), (0.80, 0.76, 0.66)),
    "plastic": ((0.95, 0.95, 0.95), (0.15, 0.15, 0.16), (0.75, 0.20, 0.18), (0.22, 0.40, 0.70), (0.30, 0.60, 0.35),
                (0.92, 0.75, 0.20)),
    "wood": ((0.55, 0.40, 0.28), (0.70, 0.55, 0.38), (0.35, 0.25, 0.18)),
    "stone": ((0.60, 0.60, 0.58), (0.85, 0.83, 0.78), (0.30, 0.30, 0.32)),
    "tile": ((0.85, 0.85, 0.82), (0.55, 0.58, 0.60)),
    "metal": ((0.70, 0.72, 0.75), (0.50, 0.52, 0.55)),
    "plaster": ((0.92, 0.90, 0.85), (0.85, 0.85, 0.85)),
    "ceramic": ((0.95, 0.95, 0.93),),
}
# What each surface of a scene is made of, most likely first (drawn uniformly among them).
SURFACES: dict[str, tuple[MaterialClass, ...]] = {
    "floor": ("tile", "wood", "stone"),
    "counter": ("stone", "wood", "tile"),  # work surfaces and tables
    "cabinet": ("wood", "paint"),  # fronts of cabinets and drawers
    "wall": ("plaster", "paint", "tile"),
    "legs": ("metal", "wood", "paint"),
    "appliance": ("metal", "plastic"),  # sink, stove, microwave, bins
    "shelf": ("wood", "metal", "paint"),
}
PROCEDURAL_SHARE = 0.2  # at level scale 1, this share of surfaces takes a procedural texture instead
PROCEDURAL = ("checker", "gradient", "noise")


def picture_names() -> tuple[str, ...]:
    """Every picture a ``Material`` may name."""
    return tuple(sorted({p.name for pictures in PICTURES.values() for p in pictures}))


def sample_material(rng: np.random.Generator, surface: str, k: float) -> Material:
    """A material for ``surface`` (a key of ``SURFACES``) at level scale ``k``: a class it is made of, then a
    picture or colour of that class, tinted by up to ``k`` times a fifth of its brightness; with probability
    ``PROCEDURAL_SHARE * k``, a procedural texture in colours of the class instead."""
    classes = SURFACES[surface]
    kind: MaterialClass = classes[int(rng.integers(len(classes)))]
    finish = FINISH[kind]
    tint = _tint(rng, 0.2 * k)
    procedural = rng.random() < PROCEDURAL_SHARE * k
    pictures = PICTURES[kind]
    if pictures and not procedural:
        picture = pictures[int(rng.integers(len(pictures)))]
        repeat = float(np.clip(1.0 / picture.metres * rng.uniform(0.85, 1.15), 0.2, 10.0))
        return Material(rgba=(*tint, 1.0), texture="image", image=picture.name, kind=kind, repeat=round(repeat, 4),
                        specular=finish.specular, shininess=finish.shininess)
    palette = PALETTES[kind]
    base = np.array(palette[int(rng.integers(len(palette)))]) * tint
    rgb = tuple(round(float(c), 4) for c in np.clip(base, 0, 1))
    if procedural:
        texture = PROCEDURAL[int(rng.integers(len(PROCEDURAL)))]
        second = tuple(round(float(c), 4) for c in np.clip(base * rng.uniform(0.5, 0.8), 0, 1))
        return Material(rgba=(*rgb, 1.0), texture=texture, rgb2=second, kind=kind, repeat=float(rng.uniform(2, 8)),
                        specular=finish.specular, shininess=finish.shininess)
    return Material(rgba=(*rgb, 1.0), kind=kind, specular=finish.specular, shininess=finish.shininess)


def _tint(rng: np.random.Generator, amount: float) -> tuple[float, float, float]:
    """A colour near white (a picture's own colours) with brightness and a faint hue shifted by ``amount``."""
    value = 1.0 - rng.uniform(0, amount)
    r, g, b = colorsys.hsv_to_rgb(rng.uniform(0, 1), rng.uniform(0, 0.5 * amount), value)
    return round(float(r), 4), round(float(g), 4), round(float(b), 4)

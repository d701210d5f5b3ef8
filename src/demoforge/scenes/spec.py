"""``SceneSpec``: everything that makes one scene look and behave differently, as plain data.

A spec fully determines the compiled model (``demoforge.sim.scene.compose_scene``); it round-trips
through JSON and is stored with every demo next to the exact MJCF it compiled to.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Vec2 = tuple[float, float]
Vec3 = tuple[float, float, float]
RGB = tuple[float, float, float]
RGBA = tuple[float, float, float, float]


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Material(_Data):
    """A colour, optionally with a photograph of the asset pack (``image``, tinted by the colour) or one of
    MuJoCo's procedural textures (they serialise into the MJCF); ``kind`` is what it shows (scenes/materials.py)."""

    rgba: RGBA = (0.7, 0.7, 0.7, 1.0)
    texture: Literal["none", "checker", "gradient", "noise", "image"] = "none"
    image: str = Field("", description="picture name (scenes/materials.py) when texture is image")
    kind: str | None = Field(None, description="material class: wood, stone, tile, metal, plaster, paint, ...")
    rgb2: RGB = (0.2, 0.2, 0.2)  # second texture colour (checker squares, gradient end, noise dots)
    repeat: float = Field(4.0, gt=0, description="texture repeats per metre (image) or across the surface")
    specular: float = Field(0.5, ge=0, le=1)
    shininess: float = Field(0.5, ge=0, le=1)

    @model_validator(mode="after")
    def _image_is_known(self) -> Material:
        if (self.texture == "image") != bool(self.image):
            raise ValueError("image names a picture exactly when texture is 'image'")
        if not self.image:
            return self
        from demoforge.scenes.materials import picture_names  # it builds on this module

        if self.image not in picture_names():
            raise ValueError(f"unknown picture {self.image!r} (known: {', '.join(picture_names())})")
        return self


class Table(_Data):
    shape: Literal["rect", "round"] = "rect"
    center_xy: Vec2 = (0.55, 0.0)
    half_size: Vec2 = (0.45, 0.6)  # round: the radius is the larger of the two
    thickness: float = 0.025
    material: Material = Material(rgba=(0.72, 0.6, 0.45, 1.0))
    leg_material: Material = Material(rgba=(0.4, 0.32, 0.25, 1.0))


class Fixture(_Data):
    """A static box-shaped piece of furniture (counter body, worktop, backsplash, wall cabinet, shelf, sink part, bin side, wall)."""

    kind: Literal["counter", "worktop", "backsplash", "upper_cabinet", "shelf", "sink", "bin", "wall"]
    pos: Vec3
    half_size: Vec3
    yaw: float = 0.0
    material: Material = Material()
    collide: bool = True


class Appliance(_Data):
    """A kitchen appliance with working joints (sim/appliances.py: microwave, wall cabinets with hinged or
    sliding doors, a stove of four or two burners with turning knobs), standing on its base."""

    kind: Literal["microwave", "hinge_cabinet", "slide_cabinet", "stove", "domino_stove"]
    pos: Vec3  # world position of the centre of its base (its bottom face)
    yaw: float = 0.0  # rad about z; 0: its front faces -y (pi/2: +x, -pi/2: -x, towards a robot at the origin)


class Light(_Data):
    pos: Vec3
    dir: Vec3
    diffuse: RGB = (0.6, 0.6, 0.6)


class Camera(_Data):
    name: str
    pos: Vec3
    target: Vec3
    fovy: float = 45.0


class Distractor(_Data):
    """A loose object on the table that is not part of the task."""

    shape: Literal["box", "cylinder", "sphere", "mug", "bowl"]
    half_size: Vec3  # box: half extents; cylinder, mug, bowl: (radius, radius, half height); sphere: (radius, ., .)
    xy: Vec2
    yaw: float = 0.0
    material: Material = Material()
    mass: float = 0.1


class ObjectLook(_Data):
    """Appearance and physical parameters of one task object (its shape stays the task's)."""

    material: Material | None = None  # None: the task's own colour
    scale: float = Field(1.0, gt=0, description="uniform size scale (only for objects the task marks scalable)")
    aspect: Vec3 = Field((1.0, 1.0, 1.0), description="extra per-axis scale of a scalable block: boxes of other proportions")
    shape: Literal["box", "cylinder"] | None = Field(None, description="a scalable block as a box or a can (None: as built)")
    mass_scale: float = Field(1.0, gt=0)
    friction: float = Field(1.0, gt=0)
    instance: str | None = Field(None, description="for an object of a category: which catalogue instance it is "
                                 "(scenes/catalogue.py; None: the task's first)")


class SceneAxes(_Data):
    """How much each axis of a family varies: 0 turns it off (the default scene's value), 1 is the family's
    range at the level, 2 twice as wide. Axes draw their randomness even when off, so turning one axis off
    leaves the samples of the others unchanged."""

    table: float = Field(1.0, ge=0, le=3, description="table size and placement")
    robot_base: float = Field(1.0, ge=0, le=3, description="robot base offset")
    materials: float = Field(1.0, ge=0, le=3, description="colours and textures of floor, table, walls, fixtures")
    lights: float = Field(1.0, ge=0, le=3, description="number, direction, colour and intensity of lights")
    cameras: float = Field(1.0, ge=0, le=3, description="camera pose and field-of-view jitter")
    distractors: float = Field(1.0, ge=0, le=3, description="how many loose objects")
    objects: float = Field(1.0, ge=0, le=3, description="task objects' colour, size, shape, mass, friction")
    fixtures: bool = Field(True, description="the family's furniture (kitchen)")


class SceneSpec(_Data):
    family: str = "tabletop"
    level: str = "D0"
    seed: int = 0
    floor: Material = Material(rgba=(0.55, 0.55, 0.5, 1.0))
    table: Table = Table()
    robot_base: Vec3 = (0.0, 0.0, 0.8)  # world position of the robot base; the table top is at its height (0.7-0.9)
    fixtures: tuple[Fixture, ...] = ()
    appliances: tuple[Appliance, ...] = ()
    layout: Literal["tabletop", "one_wall", "l_shape", "galley", "island"] = "tabletop"
    lights: tuple[Light, ...] = (
        Light(pos=(0.6, -0.6, 2.5), dir=(-0.1, 0.3, -1.0), diffuse=(0.7, 0.7, 0.7)),
        Light(pos=(-0.5, 0.8, 2.2), dir=(0.4, -0.4, -1.0), diffuse=(0.35, 0.35, 0.35)),
    )
    cameras: tuple[Camera, ...] = (
        Camera(name="agentview", pos=(1.3, 0.0, 1.5), target=(0.4, 0.0, 0.825), fovy=50.0),
        Camera(name="sideview", pos=(0.55, -1.2, 1.25), target=(0.55, 0.0, 0.77), fovy=45.0),
    )
    distractors: tuple[Distractor, ...] = ()
    objects: dict[str, ObjectLook] = Field(default_factory=dict)

    @property
    def table_top_z(self) -> float:
        return self.robot_base[2]

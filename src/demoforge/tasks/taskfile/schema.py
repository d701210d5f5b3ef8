"""What a task file may say, as typed models (docs/tasks.md is the reader's version of this file).

Units: metres, kilograms, degrees for yaw ranges (converted to radians once, here); sizes follow MuJoCo's
geom ``size`` (a box's half-extents, a cylinder's radius and half-height, a sphere's radius).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from demoforge.scenes.materials import SURFACES
from demoforge.tasks.base import Placement, box_placement

Shape = Literal["box", "cylinder", "sphere", "capsule"]
FIXTURE_KG = 20.0  # a fixture's mass when the file gives neither mass nor density
SIZE_LENGTH = {"box": 3, "cylinder": 2, "sphere": 1, "capsule": 2}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ObjectSpec(_Strict):
    """A body of the task: a primitive (``shape`` + ``size``), a mesh file, or an MJCF file.

    Each becomes a free body named after it (so datasets and predicates find it), with a free joint
    ``<name>_joint``; a primitive's or a mesh's geom is ``<name>_geom``.
    """

    shape: Shape | None = Field(None, description="a primitive: box, cylinder, sphere or capsule")
    size: tuple[float, ...] | None = Field(None, description="MuJoCo geom size of the primitive, m")
    mesh: Path | None = Field(None, description="an OBJ or STL file (relative to the task file); collides as its convex hull")
    scale: float = Field(1.0, gt=0, description="scale of the mesh")
    mjcf: Path | None = Field(None, description="an MJCF file whose bodies make the object (no free joints in it)")
    rgba: tuple[float, float, float, float] | None = Field(None, description="colour (default: one of a palette)")
    density: float = Field(600.0, gt=0, description="kg/m^3, when no mass is given")
    mass: float | None = Field(None, gt=0, description="kg (overrides density; an MJCF object: added as ballast)")
    friction: tuple[float, float, float] = Field((1.0, 0.005, 0.0001), description="sliding, torsional, rolling")
    symmetry: int = Field(1, ge=0, description="n-fold symmetry about z (0: any yaw): grasps re-targeted with the least turn")
    scalable: Literal["block", "vessel"] | None = Field(None, description="scenes may resize it as a block or a vessel")
    arm: str | None = Field(None, description="the arm whose reach its placement is checked against (default: the first)")
    surface: str | None = Field(None, description="furniture: made of what this kitchen surface is made of")

    @model_validator(mode="after")
    def _one_kind(self) -> ObjectSpec:
        given = [k for k in ("shape", "mesh", "mjcf") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of shape (with size), mesh or mjcf" +
                             (f", not {' and '.join(given)}" if given else ""))
        if self.shape is not None:
            want = SIZE_LENGTH[self.shape]
            if self.size is None or len(self.size) != want or min(self.size) <= 0:
                raise ValueError(f"size: a {self.shape} needs size = [{want} positive numbers] (MuJoCo geom size, m)")
        elif self.size is not None:
            raise ValueError("size: size is for primitives (shape); scale a mesh with scale")
        if self.surface is not None and self.surface not in SURFACES:
            raise ValueError(f"surface: unknown surface {self.surface!r} (known: {', '.join(SURFACES)})")
        return self


class FixtureSpec(ObjectSpec):
    """Furniture and other heavy things (a bin, a cabinet with a door): built like objects, 20 kg unless a mass or a
    density is given, placed by the reset like any object (a range of zero width keeps it in one place)."""

    @model_validator(mode="before")
    @classmethod
    def _heavy(cls, value: object) -> object:
        if isinstance(value, dict) and "mass" not in value and "density" not in value:
            return {**value, "mass": FIXTURE_KG}
        return value


class PlacementSpec(_Strict):
    """Where a reset puts an object: x and y ranges (or a centre and half-widths), and a yaw range in degrees."""

    x: tuple[float, float] | None = None
    y: tuple[float, float] | None = None
    center: tuple[float, float] | None = None
    half: tuple[float, float] | None = None
    yaw: tuple[float, float] = (-180.0, 180.0)

    @model_validator(mode="after")
    def _one_form(self) -> PlacementSpec:
        ranges, box = self.x is not None and self.y is not None, self.center is not None and self.half is not None
        if ranges == box or (ranges and (self.center or self.half)) or (box and (self.x or self.y)):
            raise ValueError("give x = [lo, hi] and y = [lo, hi], or center = [x, y] and half = [hx, hy]")
        for lo, hi in (self.x, self.y, self.yaw) if ranges else (self.yaw,):
            if lo > hi:
                raise ValueError(f"range [{lo}, {hi}] runs backwards (write [low, high])")
        if box and min(self.half) < 0:
            raise ValueError("half-widths cannot be negative")
        return self

    def placement(self) -> Placement:
        """The reset distribution (a centre and half-widths through ``box_placement``, as built-in tasks write it,
        so the same numbers draw the same samples)."""
        yaw = (math.radians(self.yaw[0]), math.radians(self.yaw[1]))
        if self.center is not None:
            return box_placement(*self.center, *self.half, yaw)
        return Placement(tuple(self.x), tuple(self.y), yaw)


class SubtaskSpec(_Strict):
    """One object-centric piece, in order per arm; every subtask but an arm's last ends at ``done``'s rising edge."""

    name: str
    reference: str = Field(description='the object the segment is re-targeted to ("world": none)')
    held: str | None = Field(None, description="the object carried during it, if any")
    anchor: Literal["center", "top"] = "center"
    arm: str | None = Field(None, description="which arm does it (default: the first)")
    kind: Literal["parallel", "coordination", "sequential"] = "parallel"
    partner: str | None = None
    after: str | None = None
    approach_radius: float | None = Field(None, gt=0)
    done: str | None = Field(None, description="predicate whose rising edge ends the subtask")
    signal: str | None = Field(None, description="name of its termination signal (default: the subtask's name)")


class SuccessSpec(_Strict):
    when: str = Field(description="predicate that holds when the task is solved")
    hold_steps: int = Field(5, ge=1, description="it must hold over this many final control steps")


class ExpertStep(_Strict):
    """One step of a scripted expert: ``pick`` an object, ``place_on`` or ``place_in`` another (the picked one), or
    ``pause``."""

    pick: str | None = None
    place_on: str | None = None
    place_in: str | None = Field(None, description="a container: let go of the picked object over its centre")
    pause: tuple[int, int] | None = Field(None, description="a number of steps drawn from [lo, hi]")
    lift: tuple[float, float] = Field((0.08, 0.13), description="pick: lift by a height drawn from this range, m")
    settle: bool = Field(False, description="pick: let the arm catch up before descending")
    careful: bool = Field(False, description="place_on: settle before and after the descent (a tower)")
    clearance: float = Field(0.008, ge=0, description="place_on: release this high above the resting height; "
                             "place_in: with the object's bottom this high above the container's rim, m")

    @model_validator(mode="after")
    def _one_action(self) -> ExpertStep:
        given = [k for k in ("pick", "place_on", "place_in", "pause") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("each expert step is one of pick = OBJECT, place_on = OBJECT, place_in = CONTAINER or "
                             "pause = [lo, hi]")
        if self.pause is not None and not 0 <= self.pause[0] <= self.pause[1]:
            raise ValueError("pause = [lo, hi] with 0 <= lo <= hi")
        return self


class TaskFile(_Strict):
    """A whole task file."""

    name: str | None = Field(None, description="task name (default: the file's stem)")
    description: str = Field("", description="the language instruction stored with its datasets")
    robot: str = Field("panda", description="built-in robot or robot file it is built for")
    max_steps: int = Field(600, gt=0, description="control steps before an episode is cut")
    min_separation: float = Field(0.1, ge=0, description="m between sampled object centres")
    reach: tuple[float, float] = Field((0.3, 0.72), description="m from the arm's base an object may be placed")
    demo_variation: str | None = Field(None, description="what `demoforge demo` generates in (default: D1, or the first)")
    objects: dict[str, ObjectSpec] = Field(min_length=1)
    fixtures: dict[str, FixtureSpec] = Field(default_factory=dict)
    variations: dict[str, dict[str, PlacementSpec]] = Field(min_length=1)
    subtasks: list[SubtaskSpec] = Field(min_length=1)
    success: SuccessSpec
    expert: list[ExpertStep] = Field(default_factory=list, description="a scripted expert (optional)")

    @field_validator("reach")
    @classmethod
    def _reach(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not 0 <= value[0] < value[1]:
            raise ValueError("reach = [near, far] with 0 <= near < far")
        return value

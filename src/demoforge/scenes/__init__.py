"""Scene variation: scenes as data (``SceneSpec``) and seeded samplers of named families."""

from demoforge.scenes.spec import Camera, Distractor, Fixture, Light, Material, ObjectLook, SceneSpec, Table

__all__ = ["Camera", "Distractor", "Fixture", "Light", "Material", "ObjectLook", "SceneSpec", "Table"]

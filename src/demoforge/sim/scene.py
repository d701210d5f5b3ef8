"""Compile a ``SceneSpec`` into a MuJoCo model by composing small pieces with ``mujoco.MjSpec``.

Floor, table, fixtures, lights, cameras, distractors and the robot come from the scene; tasks add
their objects to the returned spec; ``scene_xml`` turns it into the exact MJCF text that is stored
with every demo, and the model simulated is parsed from that text.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import mujoco
import numpy as np

from demoforge.errors import InputFileError
from demoforge.assetpacks import ROBOSUITE, asset_path, fast_folder, relocate
from demoforge.scenes.spec import Appliance, Distractor, Fixture, Material, SceneSpec, Table
from demoforge.sim.appliances import APPLIANCES, appliance_spec
from demoforge.sim.quality import Quality, apply_quality, for_quality
from demoforge.sim.robot import ArmConfig, RobotConfig
from demoforge.sim.spec_edit import subtree_spec_geoms
from demoforge.sim.vessels import add_bowl, add_mug

TABLE_TOP_Z = 0.8  # world height of the table surface (and of the robot base), metres

# Collision bits: world geoms touch everything (robot geoms use contype=2 conaffinity=1).
WORLD_CONTYPE, WORLD_CONAFFINITY = 1, 3

ARM_CAMERAS_TEXT = "demoforge_arm_cameras"  # <custom><text>: "right_wrist=robot0_eye_in_hand ..."


@dataclass(frozen=True)
class PhysicsSettings:
    """Simulation settings shared by every scene; 20 Hz control with ``timestep`` physics."""

    timestep: float = 0.002
    control_hz: float = 20.0
    impratio: float = 10.0

    @property
    def substeps(self) -> int:
        return int(round(1.0 / (self.control_hz * self.timestep)))


PEDESTAL_BELOW_BODY = 0.1  # metres from a robot body's base (GR1's pelvis) down to the top of its column


def base_scene(
    robot: RobotConfig, physics: PhysicsSettings = PhysicsSettings(), scene: SceneSpec | None = None
) -> mujoco.MjSpec:
    """Floor, table, fixtures, lights, cameras, distractors and the robot, as ``scene`` describes them.

    Without a ``scene``, the default tabletop (``SceneSpec()``): what source demos are recorded in.
    """
    scene = scene or SceneSpec()
    top = scene.table_top_z
    spec = mujoco.MjSpec()
    spec.modelname = "demoforge_scene"
    spec.compiler.degree = False  # radians throughout; attached robots keep their joint ranges on MuJoCo 3.3 too
    spec.option.timestep = physics.timestep
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    spec.option.cone = mujoco.mjtCone.mjCONE_ELLIPTIC
    spec.option.impratio = physics.impratio
    if hasattr(mujoco.mjtEnableBit, "mjENBL_MULTICCD"):  # MuJoCo 3.x opts in; 4.x has it on by default
        spec.option.enableflags |= int(mujoco.mjtEnableBit.mjENBL_MULTICCD)  # several contacts per convex pair
    spec.visual.quality.shadowsize = 0  # offscreen CPU rendering: 10-30x faster without shadows/MSAA
    spec.visual.quality.offsamples = 0
    spec.visual.global_.offwidth = 640
    spec.visual.global_.offheight = 480

    world = spec.worldbody
    world.add_geom(
        name="floor", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[3, 3, 0.1], material=add_material(spec, "floor", scene.floor),
        contype=WORLD_CONTYPE, conaffinity=WORLD_CONAFFINITY,
    )
    add_table(spec, scene.table, top)
    base = scene.robot_base
    for i, arm in enumerate(robot.arms if robot.body is None else ()):  # a body stands on its own column, below
        _add_pedestal(world, "pedestal" if i == 0 else f"pedestal_{i}",
                      base[0] + arm.mount_pos[0] - 0.05, base[1] + arm.mount_pos[1], top)
    for i, fixture in enumerate(scene.fixtures):
        add_fixture(spec, f"{fixture.kind}_{i}", fixture)
    for i, light in enumerate(scene.lights):
        world.add_light(name=f"light_{i}", pos=list(light.pos), dir=list(light.dir), diffuse=list(light.diffuse))
    for camera in scene.cameras:
        world.add_camera(name=camera.name, pos=list(camera.pos), xyaxes=look_at(camera.pos, camera.target), fovy=camera.fovy)
    for i, distractor in enumerate(scene.distractors):
        add_distractor(spec, f"distractor_{i}", distractor, top)

    # Each arm's wrist camera by arm name (``right_wrist``), kept in the model so any reader of a stored MJCF
    # resolves the same camera names (sim/render.resolve_cameras).
    wrists = " ".join([f"{arm.name}_wrist={arm.names_prefix}{arm.cameras[0]}" for arm in robot.arms if arm.cameras]
                      + [f"{alias}={robot.body_prefix}{camera}" for alias, camera in robot.cameras.items()])
    if wrists:  # MuJoCo refuses an empty text (a robot without cameras)
        spec.add_text(name=ARM_CAMERAS_TEXT, data=wrists)
    _add_robot(spec, robot, base)
    for i, appliance in enumerate(scene.appliances):  # after the robot: its joints come first in qpos
        add_appliance(spec, f"{appliance.kind}_{i}", appliance)
    return spec


def _add_robot(spec: mujoco.MjSpec, robot: RobotConfig, base: tuple[float, float, float]) -> None:
    world = spec.worldbody
    if robot.body is not None:  # one model holds every arm; an upper body stands on a column
        pelvis = [base[k] + robot.body_pos[k] for k in range(3)]
        _add_pedestal(world, "pedestal", pelvis[0], pelvis[1], pelvis[2] - PEDESTAL_BELOW_BODY)
        mount = world.add_frame(pos=pelvis)
        spec.attach(robot_body(robot.body), frame=mount, prefix=robot.body_prefix)
        return
    for arm in robot.arms:  # each arm's MJCF, namespaced by its prefix, on its mount
        mount = world.add_frame(pos=[base[k] + arm.mount_pos[k] for k in range(3)])
        if arm.mount_yaw:
            mount.quat = [np.cos(arm.mount_yaw / 2), 0.0, 0.0, np.sin(arm.mount_yaw / 2)]
        spec.attach(arm_spec(arm), frame=mount, prefix=arm.prefix)


def arm_spec(arm: ArmConfig) -> mujoco.MjSpec:
    """An arm's MJCF, drawn as the real robot when it asks to be and the asset pack is installed."""
    try:
        spec = mujoco.MjSpec.from_file(str(arm.mjcf))
    except ValueError as exc:
        raise InputFileError(arm.mjcf, f"arm {arm.name!r}: not a loadable MJCF ({' '.join(str(exc).split())})") from None
    if arm.draw_as == "panda":
        from demoforge.sim.panda import can_dress, dress_panda

        if can_dress():
            return dress_panda(spec)
        warnings.warn("the Panda is drawn with its collision capsules: run `demoforge assets install` for the real "
                      "robot's meshes", stacklevel=2)
    return spec


def _add_pedestal(world: mujoco.MjsBody, name: str, x: float, y: float, height: float) -> None:
    """A grey column from the floor up to ``height`` at (x, y), drawn only: what a robot is mounted on."""
    world.add_geom(name=name, type=mujoco.mjtGeom.mjGEOM_CYLINDER, size=[0.09, height / 2, 0], pos=[x, y, height / 2],
                   rgba=[0.3, 0.3, 0.32, 1], contype=0, conaffinity=0)


def robot_body(name: str) -> mujoco.MjSpec:
    """A built-in robot body (a model holding every arm) by name."""
    from demoforge.sim.gr1 import gr1_spec

    return {"gr1": gr1_spec}[name]()


def look_at(pos: tuple[float, float, float], target: tuple[float, float, float]) -> list[float]:
    """MuJoCo camera ``xyaxes`` for a camera at ``pos`` looking at ``target`` with world z up."""
    forward = np.subtract(target, pos, dtype=float)
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    return [*right.tolist(), *up.tolist()]


def add_material(spec: mujoco.MjSpec, name: str, material: Material) -> str:
    """A named material (with a procedural texture, which serialises into the MJCF, or a picture of the asset
    pack, loaded once per scene); returns its name."""
    mat = spec.add_material(name=name, rgba=list(material.rgba))
    if (material.specular, material.shininess) != (0.5, 0.5):  # MuJoCo's defaults: older scenes' MJCF unchanged
        mat.specular, mat.shininess = material.specular, material.shininess
    if material.texture == "image":
        texture = f"picture_{material.image}"
        if spec.texture(texture) is None:
            spec.add_texture(name=texture, type=mujoco.mjtTexture.mjTEXTURE_2D, file=str(picture_file(material.image)))
        mat.textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] = texture
        mat.texrepeat = [material.repeat, material.repeat]
        mat.texuniform = True
    elif material.texture != "none":
        rgb1 = list(material.rgba[:3])
        kwargs: dict = {"rgb1": rgb1, "rgb2": list(material.rgb2)}
        if material.texture == "checker":
            kwargs["builtin"] = mujoco.mjtBuiltin.mjBUILTIN_CHECKER
        elif material.texture == "gradient":
            kwargs["builtin"] = mujoco.mjtBuiltin.mjBUILTIN_GRADIENT
        else:  # noise: a flat colour speckled with random dots of the second colour
            kwargs.update(builtin=mujoco.mjtBuiltin.mjBUILTIN_FLAT, rgb2=rgb1, mark=mujoco.mjtMark.mjMARK_RANDOM,
                          markrgb=list(material.rgb2), random=0.15)
        spec.add_texture(name=f"{name}_tex", type=mujoco.mjtTexture.mjTEXTURE_2D, width=64, height=64, **kwargs)
        mat.textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] = f"{name}_tex"
        mat.texrepeat = [material.repeat, material.repeat]
        mat.texuniform = True
        mat.rgba = [1.0, 1.0, 1.0, material.rgba[3]]
    return name


def picture_file(name: str) -> Path:
    """The fast copy of a picture of the asset pack (``sim/quality.py`` swaps in the full one for ``high``)."""
    return asset_path(ROBOSUITE, f"{fast_folder('textures')}/{name}.png").resolve()


def add_table(spec: mujoco.MjSpec, table: Table, top: float = TABLE_TOP_Z) -> None:
    """A rectangular or round table whose surface is at height ``top`` (round: radius = the larger half size)."""
    hx, hy = table.half_size
    table_body = spec.worldbody.add_body(name="table", pos=[*table.center_xy, top - table.thickness])
    if table.shape == "round":
        shape, size = mujoco.mjtGeom.mjGEOM_CYLINDER, [max(hx, hy), table.thickness, 0.0]
        corners = 0.6 * max(hx, hy) * np.array([(1, 1), (1, -1), (-1, 1), (-1, -1)]) / np.sqrt(2)
    else:
        shape, size = mujoco.mjtGeom.mjGEOM_BOX, [hx, hy, table.thickness]
        corners = np.array([(sx * (hx - 0.04), sy * (hy - 0.04)) for sx in (-1, 1) for sy in (-1, 1)])
    table_body.add_geom(
        name="table_top", type=shape, size=size, material=add_material(spec, "table_mat", table.material),
        contype=WORLD_CONTYPE, conaffinity=WORLD_CONAFFINITY, friction=[1.0, 0.005, 0.0001],
    )
    leg_h = (top - 2 * table.thickness) / 2
    legs = add_material(spec, "table_leg_mat", table.leg_material)
    for x, y in corners:
        table_body.add_geom(
            type=mujoco.mjtGeom.mjGEOM_BOX, size=[0.025, 0.025, leg_h], material=legs,
            pos=[float(x), float(y), -table.thickness - leg_h], contype=0, conaffinity=0,
        )


def add_fixture(spec: mujoco.MjSpec, name: str, fixture: Fixture) -> None:
    """A static box of furniture; non-colliding fixtures are decoration only."""
    c, s = np.cos(fixture.yaw / 2), np.sin(fixture.yaw / 2)
    spec.worldbody.add_geom(
        name=name, type=mujoco.mjtGeom.mjGEOM_BOX, size=list(fixture.half_size), pos=list(fixture.pos),
        quat=[c, 0.0, 0.0, s], material=add_material(spec, f"{name}_mat", fixture.material),
        contype=WORLD_CONTYPE if fixture.collide else 0, conaffinity=WORLD_CONAFFINITY if fixture.collide else 0,
    )


def add_appliance(spec: mujoco.MjSpec, name: str, appliance: Appliance) -> None:
    """An appliance of the kitchen pack, its base at ``appliance.pos``; its elements prefixed ``<name>_``."""
    base = np.asarray(APPLIANCES[appliance.kind].base)
    c, s = np.cos(appliance.yaw), np.sin(appliance.yaw)
    offset = np.array([c * base[0] - s * base[1], s * base[0] + c * base[1], base[2]])
    frame = spec.worldbody.add_frame(pos=list(np.asarray(appliance.pos) - offset),
                                     quat=[np.cos(appliance.yaw / 2), 0.0, 0.0, np.sin(appliance.yaw / 2)])
    spec.attach(appliance_spec(appliance.kind), frame=frame, prefix=f"{name}_")


def add_distractor(spec: mujoco.MjSpec, name: str, distractor: Distractor, top: float = TABLE_TOP_Z) -> None:
    """A loose object resting on the table (free joint ``<name>_joint``)."""
    if distractor.shape in ("mug", "bowl"):
        _add_vessel(spec, name, distractor, top)
        return
    shape = {
        "box": (mujoco.mjtGeom.mjGEOM_BOX, list(distractor.half_size), distractor.half_size[2]),
        "cylinder": (mujoco.mjtGeom.mjGEOM_CYLINDER, [distractor.half_size[0], distractor.half_size[2], 0], distractor.half_size[2]),
        "sphere": (mujoco.mjtGeom.mjGEOM_SPHERE, [distractor.half_size[0], 0, 0], distractor.half_size[0]),
    }[distractor.shape]
    c, s = np.cos(distractor.yaw / 2), np.sin(distractor.yaw / 2)
    body = spec.worldbody.add_body(name=name, pos=[*distractor.xy, top + shape[2]], quat=[c, 0.0, 0.0, s])
    body.add_freejoint(name=f"{name}_joint")
    body.add_geom(
        name=f"{name}_geom", type=shape[0], size=shape[1], mass=distractor.mass,
        material=add_material(spec, f"{name}_mat", distractor.material),
        contype=WORLD_CONTYPE, conaffinity=WORLD_CONAFFINITY, condim=4,
    )


def _add_vessel(spec: mujoco.MjSpec, name: str, distractor: Distractor, top: float) -> None:
    """A mug or bowl distractor: a free body of primitive pieces, frame at its bounding box centre."""
    radius, half_height = distractor.half_size[0], distractor.half_size[2]
    c, s = np.cos(distractor.yaw / 2), np.sin(distractor.yaw / 2)
    body = spec.worldbody.add_body(name=name, pos=[*distractor.xy, top + half_height], quat=[c, 0.0, 0.0, s])
    body.add_freejoint(name=f"{name}_joint")
    look = {
        "material": add_material(spec, f"{name}_mat", distractor.material), "contype": WORLD_CONTYPE,
        "conaffinity": WORLD_CONAFFINITY, "condim": 4, "density": 0.0,
    }
    build = add_mug if distractor.shape == "mug" else add_bowl
    build(body, radius, half_height, **look)
    # Inertia of a thin cylindrical shell (radius r, height 2h), mass centre a little low, like a real vessel.
    mass, side = distractor.mass, distractor.mass * (radius**2 / 2 + (2 * half_height) ** 2 / 12)
    body.mass = mass
    body.ipos = [0.0, 0.0, -0.3 * half_height]
    body.inertia = [side, side, mass * radius**2]
    body.explicitinertial = True


DEFAULT_GEOM_RGBA = (0.5, 0.5, 0.5, 1.0)


def apply_object_looks(spec: mujoco.MjSpec, scene: SceneSpec) -> None:
    """Recolour, resize and re-weigh task objects as the scene says (after the task built them).

    Density-based masses follow the new size; ``mass_scale`` multiplies on top.
    """
    for name, look in scene.objects.items():
        body = spec.body(name)
        if body is None:
            raise ValueError(f"scene has a look for {name!r}, which the task did not build")
        geoms = subtree_spec_geoms(body)
        material = None
        if look.material is not None:  # the object keeps its own transparency (a glass stays see-through)
            alpha = float(geoms[0].rgba[3]) if geoms else 1.0
            own = look.material.model_copy(update={"rgba": (*look.material.rgba[:3], alpha)})
            material = add_material(spec, f"{name}_look", own)
        for geom in geoms:
            if look.scale != 1.0 or look.aspect != (1.0, 1.0, 1.0):
                _scale_geom(geom, look.scale * np.asarray(look.aspect))
            if look.shape == "cylinder" and geom.type == mujoco.mjtGeom.mjGEOM_BOX:
                geom.type = mujoco.mjtGeom.mjGEOM_CYLINDER  # a can: radius = the block's smaller half width
                geom.size = [min(geom.size[0], geom.size[1]), geom.size[2], 0.0]
            if material is not None and geom.type != mujoco.mjtGeom.mjGEOM_MESH:  # a mesh keeps its photograph
                geom.material = material
                geom.rgba = list(DEFAULT_GEOM_RGBA)  # a geom colour other than MuJoCo's default hides the material
            geom.friction = [look.friction * geom.friction[0], geom.friction[1], geom.friction[2]]
            if geom.mass > 0:
                geom.mass = geom.mass * look.mass_scale
            else:
                geom.density = geom.density * look.mass_scale


def _scale_geom(geom: mujoco.MjsGeom, factor: np.ndarray) -> None:
    """Stretch a geom and its offset by (sx, sy, sz) in its body's frame.

    Boxes scale per axis (exact for boxes turned only about z when sx = sy, as vessel walls are);
    cylinders and capsules take sx on the radius and sz on the half height; spheres take sx.
    """
    geom.pos = list(factor * np.asarray(geom.pos))
    size = np.asarray(geom.size, dtype=float)
    if geom.type in (mujoco.mjtGeom.mjGEOM_CYLINDER, mujoco.mjtGeom.mjGEOM_CAPSULE):
        geom.size = [factor[0] * size[0], factor[2] * size[1], size[2]]
    elif geom.type == mujoco.mjtGeom.mjGEOM_SPHERE:
        geom.size = [factor[0] * size[0], size[1], size[2]]
    else:
        geom.size = list(factor * size)


def scene_xml(spec: mujoco.MjSpec) -> str:
    """The spec's exact MJCF text (what a demo stores to replay without demoforge). MuJoCo 4 compiles inside
    ``to_xml``; 3.x writes only a compiled spec. A GR1 scene costs about 0.4 s per compile, so none is spent
    twice."""
    try:
        return spec.to_xml()
    except mujoco.FatalError:  # MuJoCo 3.x: compile first
        spec.compile()
        return spec.to_xml()


def model_from_xml(xml: str, quality: Quality = "fast") -> mujoco.MjModel:
    """A model from stored MJCF text, drawn at ``quality``; mesh files of an asset pack are looked up in this
    machine's install."""
    if 'file="' in xml:
        xml = for_quality(relocate(xml), quality)
    return apply_quality(mujoco.MjModel.from_xml_string(xml), quality)


def free_joint_qpos_adr(model: mujoco.MjModel, body: str) -> int:
    """Address in qpos of a body's free joint (7 numbers: position, then w-x-y-z quaternion)."""
    jnt = model.body(body).jntadr[0]
    if jnt < 0 or model.jnt_type[jnt] != mujoco.mjtJoint.mjJNT_FREE:
        raise ValueError(f"body {body!r} has no free joint")
    return int(model.jnt_qposadr[jnt])


def set_free_body_pose(model: mujoco.MjModel, data: mujoco.MjData, body: str, world_T_body: np.ndarray) -> None:
    from demoforge.geometry import pose_to_quat

    adr = free_joint_qpos_adr(model, body)
    data.qpos[adr : adr + 3] = world_T_body[:3, 3]
    data.qpos[adr + 3 : adr + 7] = pose_to_quat(world_T_body)

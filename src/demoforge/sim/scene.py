"""Compose a MuJoCo model from small pieces with ``mujoco.MjSpec``: floor, table, lights, cameras, robot.

Tasks add their objects to the returned spec; ``compile_scene`` turns it into a model plus the exact
MJCF text that is stored with every demo.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from demoforge.sim.robot import ROBOT_PREFIX, RobotConfig

TABLE_TOP_Z = 0.8  # world height of the table surface, metres
ROBOT_BASE_POS = (0.0, 0.0, TABLE_TOP_Z)  # Panda clamped to the table's back edge
TABLE_CENTER_XY = (0.55, 0.0)
TABLE_HALF_SIZE = (0.45, 0.6, 0.025)

# Collision bits: world geoms touch everything (robot geoms use contype=2 conaffinity=1).
WORLD_CONTYPE, WORLD_CONAFFINITY = 1, 3


@dataclass(frozen=True)
class PhysicsSettings:
    """Simulation settings shared by every scene; 20 Hz control with ``timestep`` physics."""

    timestep: float = 0.002
    control_hz: float = 20.0
    impratio: float = 10.0

    @property
    def substeps(self) -> int:
        return int(round(1.0 / (self.control_hz * self.timestep)))


def base_scene(robot: RobotConfig, physics: PhysicsSettings = PhysicsSettings()) -> mujoco.MjSpec:
    """Floor, table, lights, a front camera, and the robot mounted at ``ROBOT_BASE_POS``."""
    spec = mujoco.MjSpec()
    spec.modelname = "demoforge_scene"
    spec.compiler.degree = False  # radians throughout; attached robots keep their joint ranges on MuJoCo 3.3 too
    spec.option.timestep = physics.timestep
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    spec.option.cone = mujoco.mjtCone.mjCONE_ELLIPTIC
    spec.option.impratio = physics.impratio
    spec.visual.quality.shadowsize = 0  # offscreen CPU rendering: 10-30x faster without shadows/MSAA
    spec.visual.quality.offsamples = 0
    spec.visual.global_.offwidth = 640
    spec.visual.global_.offheight = 480

    world = spec.worldbody
    world.add_geom(
        name="floor", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[3, 3, 0.1], rgba=[0.55, 0.55, 0.5, 1],
        contype=WORLD_CONTYPE, conaffinity=WORLD_CONAFFINITY,
    )
    table = world.add_body(name="table", pos=[*TABLE_CENTER_XY, TABLE_TOP_Z - TABLE_HALF_SIZE[2]])
    table.add_geom(
        name="table_top", type=mujoco.mjtGeom.mjGEOM_BOX, size=list(TABLE_HALF_SIZE), rgba=[0.72, 0.6, 0.45, 1],
        contype=WORLD_CONTYPE, conaffinity=WORLD_CONAFFINITY, friction=[1.0, 0.005, 0.0001],
    )
    leg_h = (TABLE_TOP_Z - 2 * TABLE_HALF_SIZE[2]) / 2
    for sx in (-1, 1):
        for sy in (-1, 1):
            table.add_geom(
                type=mujoco.mjtGeom.mjGEOM_BOX, size=[0.025, 0.025, leg_h], rgba=[0.4, 0.32, 0.25, 1],
                pos=[sx * (TABLE_HALF_SIZE[0] - 0.04), sy * (TABLE_HALF_SIZE[1] - 0.04), -TABLE_HALF_SIZE[2] - leg_h],
                contype=0, conaffinity=0,
            )
    world.add_geom(
        name="pedestal", type=mujoco.mjtGeom.mjGEOM_CYLINDER, size=[0.09, TABLE_TOP_Z / 2, 0],
        pos=[-0.05, 0, TABLE_TOP_Z / 2], rgba=[0.3, 0.3, 0.32, 1], contype=0, conaffinity=0,
    )
    world.add_light(name="key_light", pos=[0.6, -0.6, 2.5], dir=[-0.1, 0.3, -1], diffuse=[0.7, 0.7, 0.7])
    world.add_light(name="fill_light", pos=[-0.5, 0.8, 2.2], dir=[0.4, -0.4, -1], diffuse=[0.35, 0.35, 0.35])
    # robosuite's "agentview": in front of the table, looking back at the robot.
    world.add_camera(name="agentview", pos=[1.3, 0.0, 1.5], xyaxes=[0, 1, 0, -0.6, 0, 0.8], fovy=50)
    world.add_camera(name="sideview", pos=[0.55, -1.2, 1.25], xyaxes=[1, 0, 0, 0, 0.4, 0.92], fovy=45)

    robot_spec = mujoco.MjSpec.from_file(str(robot.mjcf))
    mount = world.add_frame(pos=list(ROBOT_BASE_POS))
    spec.attach(robot_spec, frame=mount, prefix=ROBOT_PREFIX)
    return spec


def compile_scene(spec: mujoco.MjSpec) -> tuple[mujoco.MjModel, str]:
    """Compiled model and its exact MJCF text (what a demo stores to replay without demoforge)."""
    model = spec.compile()
    return model, spec.to_xml()


def model_from_xml(xml: str) -> mujoco.MjModel:
    return mujoco.MjModel.from_xml_string(xml)


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

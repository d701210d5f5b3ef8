"""Build the simulated world for a task: base scene + task objects, compiled once per process."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import mujoco
import numpy as np

from demoforge.data.demo import Demo
from demoforge.version import __version__
from demoforge.errors import DemoforgeError
from demoforge.rollout.episode import Recorder
from demoforge.sim.env import SimEnv, subtree_geoms, vertical_extent
from demoforge.sim.render import CameraRig, segmentation_labels
from demoforge.sim.quality import Quality, quality_settings
from demoforge.sim.robot import BUILTIN_ROBOTS, RobotConfig, load_robot
from demoforge.scenes.spec import SceneSpec
from demoforge.scenes.catalogue import CATALOGUE
from demoforge.sim.object_models import add_object_model
from demoforge.sim.scene import (
    PhysicsSettings,
    apply_object_looks,
    base_scene,
    model_from_xml,
    scene_xml,
)
from demoforge.tasks import FileTask, task_ref
from demoforge.tasks.base import Task


@dataclass
class World:
    """A ready environment for one task and the exact MJCF it was compiled from."""

    env: SimEnv
    task: Task
    model_xml: str
    scene: SceneSpec = field(default_factory=SceneSpec)
    _rigs: dict = field(default_factory=dict, repr=False)

    def camera_rig(self, names: list[str], size: int, depth: bool = False, segmentation: bool = False) -> CameraRig:
        """A renderer for these cameras on this world's model, made once and reused across attempts."""
        key = (tuple(names), size, depth, segmentation)
        if key not in self._rigs:
            labels = segmentation_labels(self.env.model, self.segment_groups()) if segmentation else None
            self._rigs[key] = CameraRig(self.env.model, list(names), size, depth, labels)
        return self._rigs[key]

    def segment_groups(self) -> list[np.ndarray]:
        """Geoms of each instance label from 1 on: the robot, then the task objects in order."""
        env = self.env
        return [np.flatnonzero(env.robot_geom_mask), *(subtree_geoms(env.model, n) for n in self.task.objects)]

    # ---- what the generator may ask (mimic/protocol.py: GenerationWorld) ---------------------------
    @property
    def arm_names(self) -> list[str]:
        return [arm.name for arm in self.env.arms]

    @property
    def eef_dim(self) -> int:
        return self.env.robot.eef_dim

    @property
    def substeps(self) -> int:
        return self.env.substeps

    def reset(self, rng: np.random.Generator, variation: str) -> None:
        self.task.reset(self.env, rng, variation)

    def start_is_valid(self) -> bool:
        return self.task.start_is_valid(self.env)

    def eef_pose(self, arm: int = 0) -> np.ndarray:
        return self.env.eef_pose(arm)

    def object_pose(self, name: str) -> np.ndarray:
        return self.task.object_pose(self.env, name)

    def object_extent(self, name: str) -> tuple[float, float]:
        return vertical_extent(self.env.model, name)

    def symmetry_order(self, name: str) -> int:
        return self.task.symmetry_order(self.env, name)

    def is_grasping(self, name: str, arm: int = 0) -> bool:
        return self.env.is_grasping(name, arm)

    def success(self) -> bool:
        return self.task.success(self.env)

    def failure_reason(self) -> str:
        return self.task.failure_reason(self.env)

    def episode(self, cameras: list[str], image_size: int = 84, depth: bool = False,
                segmentation: bool = False, max_steps: int | None = None) -> Recorder:
        rig = self.camera_rig(cameras, image_size, depth, segmentation) if cameras else None
        recorder = Recorder(self, max_steps=max_steps, cameras=rig)
        recorder.start()
        return recorder


def segment_names(task: Task) -> list[str]:
    """Name of each instance-segmentation label (index = label value)."""
    return ["scene", "robot", *task.objects]


def make_world(
    task: Task, robot: RobotConfig | None = None, physics: PhysicsSettings = PhysicsSettings(),
    scene: SceneSpec | None = None, quality: Quality = "fast",
) -> World:
    """Compile ``scene`` (default: the plain tabletop) with the task's objects and ``robot`` (default: the
    task's own) into a ready environment, drawn at ``quality`` (sim/quality.py; the physics is the same)."""
    robot = robot or load_robot(task.robot)
    task.check_robot(robot)
    scene = scene or SceneSpec()
    spec = base_scene(robot, physics, scene)
    task.build(spec)
    for name, candidates in task.instances.items():  # an object of a category: the instance the scene chose
        look = scene.objects.get(name)
        instance = look.instance if look is not None and look.instance else candidates[0]
        if instance not in candidates:
            raise DemoforgeError(f"scene makes {name!r} a {instance!r}; task {task.name!r} takes {', '.join(candidates)}")
        add_object_model(spec, name, CATALOGUE[instance])
    _park_objects(spec, task, scene.table_top_z)
    apply_object_looks(spec, scene)
    try:
        xml = scene_xml(spec)
        # Simulate the model parsed from the stored MJCF text, so replays from that text are bit-exact.
        model = model_from_xml(xml, quality)
    except ValueError as exc:  # a task file's object named like a part of the scene, a file MuJoCo refuses
        raise task.world_error(exc) from None
    env = SimEnv(model, robot, physics)
    task.check_world(env)
    return World(env, task, xml, scene)


def env_args_for(world: World, variation: str) -> dict:
    """robomimic's ``env_args`` attribute: enough to rebuild the environment that made the data."""
    return {
        "env_name": world.task.name,
        "type": 4,  # not a robomimic EnvType (1-3): marks a demoforge MuJoCo environment
        "env_lib": "demoforge",
        "env_version": __version__,
        "env_kwargs": {
            "robot": world.env.robot.name,
            "arms": [arm.name for arm in world.env.robot.arms],
            "action_layout": world.env.robot.action_layout(),  # which action columns are whose (docs/formats.md)
            "variation": variation,
            "control_freq": world.env.physics.control_hz,
            "timestep": float(world.env.model.opt.timestep),
            "controller": "delta_pose_diffik",
            "action_scale": {"pos_m": 0.05, "rot_rad": 0.5},
            "mujoco_version": mujoco.__version__,
            "description": world.task.description,  # language instruction (LeRobot export, VLA policies)
            "objects": list(world.task.objects),  # in obs/object order
            "task": task_ref(world.task),  # how `get_task` finds the task again (a task file's path, module:Class)
            **({"task_file": world.task.text} if isinstance(world.task, FileTask) else {}),  # the file, as it was
            "segmentation_labels": segment_names(world.task),
            "render": quality_settings("fast"),  # how obs/<camera>_image were drawn (sim/quality.py)
        },
    }


def _park_objects(spec: mujoco.MjSpec, task: Task, table_z: float) -> None:
    """Give objects a default resting place on the table (a row across it), so a bare reset is valid."""
    for i, name in enumerate(task.objects):
        body = spec.body(name)
        if body is not None and not np.any(body.pos):
            y = -0.2 + 0.4 * i / max(len(task.objects) - 1, 1)
            body.pos = [0.6, y, table_z + 0.1]  # above the table; resets set the resting height


def has_body(model: mujoco.MjModel, name: str) -> bool:
    """Whether the model has a body of that name (a stored demo may come from another task's world)."""
    try:
        model.body(name)
    except KeyError:
        return False
    return True


def robot_for_demo(demo: Demo, requested: str | RobotConfig | None = None, fallback: str = "panda") -> RobotConfig:
    """The robot to rebuild a stored demo with: ``requested``, else the one its file's ``env_args`` names.

    Files of a robot from a config file name only the robot, so they need ``requested`` (``--robot FILE``);
    files from before robots were recorded are the Panda's; a demo not read from a file gets ``fallback``
    (its task's robot, when the caller knows the task).
    """
    if isinstance(requested, RobotConfig):
        return requested
    if requested:
        return load_robot(requested)
    name = _robot_name(demo.meta.get("file"))
    if name is None:
        return load_robot("panda" if demo.meta.get("file") else fallback)
    if name not in BUILTIN_ROBOTS:
        raise DemoforgeError(f"{demo.meta.get('file')}: made with robot {name!r} from a config file; pass --robot FILE")
    return BUILTIN_ROBOTS[name]


@functools.lru_cache(maxsize=64)
def _robot_name(path: str | None) -> str | None:
    if not path or not Path(path).is_file():
        return None
    from demoforge.data.hdf5 import read_env_args

    return (read_env_args(path).get("env_kwargs") or {}).get("robot")


def env_for_demo(demo: Demo, robot: str | RobotConfig | None = None, fallback: str = "panda",
                 quality: Quality = "fast") -> SimEnv:
    """An environment on the exact model a demo stored (its ``model_file`` MJCF), with its robot (see
    ``robot_for_demo``), drawn at ``quality``."""
    name = f"{demo.meta.get('file', '?')}: demo {demo.meta.get('name', '?')}"
    if demo.meta.get("states_of") == "robosuite":
        raise DemoforgeError(f"{name}: imported from a robosuite recording; its states are robosuite's, which "
                             "demoforge does not simulate (generate from it; re-simulating or rendering it is robosuite's)")
    robot = robot_for_demo(demo, robot, fallback)
    if not demo.model_file:
        raise DemoforgeError(f"{name}: no model_file attribute, cannot rebuild its scene")
    try:
        model = model_from_xml(demo.model_file, quality)
    except ValueError as exc:
        raise DemoforgeError(f"{name} [model_file]: not a loadable MJCF model ({exc})") from None
    env = SimEnv(model, robot)
    if demo.states.ndim != 2 or demo.states.shape[1] != env.state_size:
        raise DemoforgeError(
            f"{name} [states]: rows of {demo.states.shape[1:]} numbers, but its model_file's full physics "
            f"state has {env.state_size}"
        )
    return env


def object_extents(task: Task, demo: Demo, label: str = "source") -> dict[str, tuple[float, float]]:
    """(bottom, top) of every task object in the demo's own model (empty without a model: centres are used);
    an imported demo, whose model names its objects otherwise, states them in its ``meta``."""
    stated = demo.meta.get("object_extents")
    if isinstance(stated, dict) and all(isinstance(stated.get(name), list) and len(stated[name]) == 2
                                        for name in task.objects):
        return {name: (float(stated[name][0]), float(stated[name][1])) for name in task.objects}
    if not demo.model_file:
        return {}
    where = f"{label} {demo.meta.get('name', '?')}: attribute model_file"
    try:
        model = model_from_xml(demo.model_file)
    except ValueError as exc:
        reason = " ".join(str(exc).split())[:160]
        raise DemoforgeError(f"{where} is not a loadable MuJoCo model ({reason})") from None
    missing = [name for name in task.objects if not _has_geoms(model, name)]
    if missing:
        raise DemoforgeError(f"{where} has no body with geoms for {missing}, needed by task {task.name!r}")
    return {name: vertical_extent(model, name) for name in task.objects}


def _has_geoms(model: mujoco.MjModel, body: str) -> bool:
    try:
        return len(subtree_geoms(model, body)) > 0
    except KeyError:
        return False

"""What every import shares: the object map, the frame change into demoforge's world, and the output file.

An imported demo drives generation through what the generator reads (``datagen_info``): per step the
end-effector pose, the target the action asked for, the gripper command, the objects' poses and the
subtask signals, all in demoforge's world frame. The recording's own arrays (its states, its actions)
are kept beside them as they were, and ``env_args`` says where they came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from demoforge import geometry as geo
from demoforge.data.demo import DatagenInfo, Demo
from demoforge.data.hdf5 import DatasetWriter, env_kwargs_of
from demoforge.errors import DemoforgeError
from demoforge.outputs import check_output_file
from demoforge.rollout.world import World, env_args_for, make_world
from demoforge.sim.controller import target_to_abs_action
from demoforge.sim.robot import load_robot
from demoforge.tasks import get_task
from demoforge.tasks.base import Task


def imported_format(env_args: dict) -> str | None:
    """``robomimic`` or ``lerobot`` for a file ``demoforge import`` wrote, else None."""
    imported = env_kwargs_of(env_args).get("imported")
    return str(imported.get("format")) if isinstance(imported, dict) else None


def import_world(task_ref: str, out: Path, robot: str | None, overwrite: bool, what: str) -> tuple[Task, World]:
    """The task and the demoforge world imported demos are sources for; refused before any reading when the output
    is taken or the task is not one arm with a gripper (what imports read today)."""
    task = get_task(task_ref)
    check_output_file(out, overwrite)
    world = make_world(task, load_robot(robot) if robot else None)
    if task.num_arms != 1 or world.env.robot.action_dim != 7:
        raise DemoforgeError(f"import {what} reads one-arm gripper recordings; task {task.name!r} on robot "
                             f"{world.env.robot.name!r} needs {task.num_arms} arm(s), {world.env.robot.action_dim}-D actions")
    return task, world


def parse_map(text: str | None) -> dict[str, str]:
    """``--map cubeA=cube_a,cubeB=cube_b`` as {recording's name: task's object}."""
    if not text:
        return {}
    pairs = {}
    for item in text.split(","):
        theirs, sep, ours = (part.strip() for part in item.partition("="))
        if not sep or not theirs or not ours:
            raise DemoforgeError(f"--map {text!r}: expected RECORDED=OBJECT pairs separated by commas, e.g. cubeA=cube_a")
        pairs[theirs] = ours
    return pairs


def check_map(mapping: dict[str, str], objects: tuple[str, ...], task: str, source: str, available: list[str]) -> None:
    """Every task object has exactly one counterpart, and the map names only the task's objects."""
    unknown = [ours for ours in mapping.values() if ours not in objects]
    if unknown:
        raise DemoforgeError(f"--map names {', '.join(map(repr, unknown))}, not objects of task {task!r} "
                             f"({', '.join(objects)})")
    missing = [o for o in objects if o not in mapping.values()]
    if missing:
        raise DemoforgeError(
            f"{source}: no counterpart for task {task!r}'s object(s) {', '.join(map(repr, missing))}; pass "
            f"--map RECORDED={missing[0]} (the recording has: {', '.join(available) or 'nothing that could be one'})")


def aligned_frame(world_T_base: np.ndarray, table_z: float) -> np.ndarray:
    """The frame both worlds are matched on: on the table top, under the robot base, facing the robot's way."""
    yaw = float(np.arctan2(world_T_base[1, 0], world_T_base[0, 0]))
    return geo.make_pose([world_T_base[0, 3], world_T_base[1, 3], table_z], geo.yaw_mat(yaw))


@dataclass
class ImportedTrack:
    """One imported demo in demoforge's world frame, before it becomes a ``Demo``."""

    eef_pose: np.ndarray  # (T, 4, 4)
    target_pose: np.ndarray  # (T, 4, 4)
    gripper: np.ndarray  # (T, 1): -1 open .. +1 closed
    object_poses: dict[str, np.ndarray]  # task object -> (T, 4, 4)
    signals: dict[str, np.ndarray]  # (T,) int8
    success: np.ndarray  # (T,) bool: the task's success, step by step
    actions: np.ndarray  # (T, 7) as recorded (normalised delta pose + gripper)
    states: np.ndarray  # (T, S) the recording's own states
    model_file: str  # the recording's MJCF ("" when it has none)
    meta: dict = field(default_factory=dict)


def read_task(task: Task, world: object) -> tuple[dict[str, bool], bool]:
    """The task's signals and success in ``world``; a task that reads what an import cannot give (a joint of a
    recording, a body the map leaves out) is refused by name, not with a traceback."""
    try:
        return task.signals(world), bool(task.success(world))
    except DemoforgeError:
        raise
    except (KeyError, AttributeError, IndexError) as exc:
        raise DemoforgeError(f"task {task.name!r} reads something an imported demo does not have ({type(exc).__name__}: "
                             f"{exc}); its signals and success need demoforge's own world") from None


def to_demo(track: ImportedTrack, world: World) -> Demo:
    T = len(track.actions)
    base = world.env.world_T_base
    return Demo(
        actions=track.actions,
        actions_abs=target_to_abs_action(base, track.target_pose, track.gripper),
        states=track.states,
        rewards=track.success.astype(np.float64),
        dones=np.eye(1, T, T - 1, dtype=np.int64)[0],
        obs={},
        datagen=DatagenInfo(track.eef_pose, track.target_pose, track.gripper, track.object_poses, track.signals),
        model_file=track.model_file,
        meta=track.meta,
    )


def write_imported(out: Path, world: World, tracks: list[ImportedTrack], imported: dict, replace: bool) -> Path:
    """The source file: demoforge's ``env_args`` for the task and robot, plus ``imported`` (where from, how)."""
    env_args = env_args_for(world, "D0")  # sources, as demoforge records them (the recording's own spread is unknown)
    env_args["env_kwargs"]["imported"] = imported
    with DatasetWriter(out, env_args, replace=replace) as writer:
        for track in tracks:
            writer.add(to_demo(track, world))
    return out


def held_at_end(success: np.ndarray, hold: int) -> bool:
    """Success held over the last ``hold`` steps, as demoforge keeps its own demos."""
    return bool(len(success) >= hold and success[-hold:].all())

"""``demoforge import robomimic``: demos recorded in robosuite (1.4, 1.5; MimicGen's and RoboCasa's source
files) in robomimic's HDF5 layout, re-read in MuJoCo and written as demoforge source demos.

Each demo's ``model_file`` is loaded in MuJoCo (its asset paths, absolute on the recording machine, are
found again under the installed robosuite pack or ``--assets``) and set to each stored state: the grip
site and the objects give the poses, the actions give the gripper command and the target each step asked
for (robosuite's OSC_POSE delta convention, 0.05 m and 0.5 rad per unit in the base frame, which is also
demoforge's), and the demoforge task's own signals, asked of the recorded contacts, give the subtask
ends. Poses move into demoforge's world by matching the robot bases' place on the table top.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Callable
from pathlib import Path

import h5py
import mujoco
import numpy as np

from demoforge import geometry as geo
from demoforge.assetpacks import ROBOSUITE
from demoforge.capture.imports.common import (
    ImportedTrack, aligned_frame, check_map, held_at_end, import_world, parse_map, read_task, write_imported,
)
from demoforge.capture.imports.recorded import RecordedWorld
from demoforge.errors import InputFileError
from demoforge.sim.controller import action_to_target
from demoforge.sim.env import vertical_extent
from demoforge.tasks.base import fold_symmetry

# Object names of robosuite's own tasks -> demoforge's (MimicGen's variants, Stack_D1, share them).
ROBOSUITE_OBJECTS: dict[str, dict[str, str]] = {
    "Stack": {"cubeA": "cube_a", "cubeB": "cube_b"},
    "StackThree": {"cubeA": "cube_a", "cubeB": "cube_b", "cubeC": "cube_c"},
    "Lift": {"cube": "cube"},
    "NutAssemblySquare": {"SquareNut": "nut", "peg1": "peg"},
    "Square": {"SquareNut": "nut", "peg1": "peg"},
}
MAX_DROPPED = 10  # attributes a newer MuJoCo wrote that may be dropped to load a recording
GRIP_SITES = ("gripper0_right_grip_site", "gripper0_grip_site")  # robosuite 1.5, 1.4
BASE_BODY = "robot0_base"
# robosuite's grip site closes its fingers along its x axis; demoforge's end-effector along its y (both approach
# along z): the same hand pose, turned -90 degrees about the approach axis.
GRIP_T_EEF = geo.make_pose(np.zeros(3), geo.yaw_mat(-np.pi / 2))
RENAMED = ("mounts/", "bases/")  # robosuite 1.4's folder, 1.5's name for it
ASSETS_IN_PATH = re.compile(r'(file=")([^"]*?/robosuite/models/assets/)([^"]*)(")')


def import_robomimic(
    path: Path, task_ref: str, out: Path, mapping: str | None = None, assets: Path | None = None,
    robot: str | None = None, overwrite: bool = False, on_demo: Callable[[str, bool], None] | None = None,
) -> tuple[Path, list[ImportedTrack]]:
    """Import every demo of ``path`` as a source of ``task_ref``; nothing is written unless all of them import."""
    task, world = import_world(task_ref, out, robot, overwrite, "robomimic")
    with _open(path) as f:
        env_args = _env_args(path, f)
        env_name = str(env_args.get("env_name") or f["data"].attrs.get("env", "") or "")
        names = _demo_names(path, f)
        given = parse_map(mapping)
        defaults = ROBOSUITE_OBJECTS.get(re.sub(r"_D\d+$", "", env_name), {})
        wanted = given or {theirs: ours for theirs, ours in defaults.items() if ours in task.objects}
        tracks, model_cache = [], {}
        for name in names:
            group = f["data"][name]
            xml = _model_file(path, group, assets)
            if xml not in model_cache:
                model_cache[xml] = _recorded_world(path, group, xml, wanted, task, env_name)
            recorded = model_cache[xml]
            track = _import_demo(path, group, recorded, world, task, xml)
            track.meta = {"imported_from": str(path), "imported_demo": name, "states_of": "robosuite",
                          "dropped_attributes": recorded.dropped,
                          "object_extents": {
                ours: list(vertical_extent(recorded.model, recorded.model.body(body).name))
                for ours, body in recorded.bodies.items()}}
            tracks.append(track)
            if on_demo is not None:
                on_demo(name, held_at_end(track.success, task.success_hold_steps))
        version = env_args.get("env_version") or _text(f["data"].attrs.get("repository_version", ""))
    dropped = sorted({a for world in model_cache.values() for a in world.dropped})
    imported = {"format": "robomimic", "file": str(path), "env_name": env_name, "env_version": str(version),
                "map": wanted, "demos": names, "grip_t_eef": GRIP_T_EEF.tolist(), "dropped_attributes": dropped}
    return write_imported(out, world, tracks, imported, replace=overwrite), tracks


def _open(path: Path) -> h5py.File:
    if not path.is_file():
        raise InputFileError(path, "no such file")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise InputFileError(path, f"not an HDF5 file ({exc})") from None


def _env_args(path: Path, f: h5py.File) -> dict:
    if "data" not in f or not isinstance(f["data"], h5py.Group):
        raise InputFileError(path, "has no data group: not a robomimic-layout file", field="data")
    raw = f["data"].attrs.get("env_args")
    if raw is None:
        return {}
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        raise InputFileError(path, "is not JSON", field="data.attrs[env_args]") from None
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _demo_names(path: Path, f: h5py.File) -> list[str]:
    names = sorted((k for k in f["data"] if re.fullmatch(r"demo_\d+", k)), key=lambda k: int(k[5:]))
    if not names:
        raise InputFileError(path, "holds no demos (expected data/demo_0, data/demo_1, ...)", field="data")
    return names


def relocate_robosuite_assets(xml: str, assets: Path | None) -> tuple[str, list[str]]:
    """``model_file`` with robosuite's asset paths pointed at ``assets`` (default: the installed robosuite pack);
    the referenced files that are not there."""
    folder = assets if assets is not None else ROBOSUITE.folder
    missing: list[str] = []

    def here(match: re.Match) -> str:
        relative = posixpath.normpath(match[3])  # robosuite 1.4 writes arenas/../textures/...
        target = folder / relative
        if not target.is_file() and relative.startswith(RENAMED[0]):  # 1.4's mounts are 1.5's bases
            target = folder / (RENAMED[1] + relative.removeprefix(RENAMED[0]))
        if not target.is_file():
            missing.append(relative)
        return f"{match[1]}{target.as_posix()}{match[4]}"

    return ASSETS_IN_PATH.sub(here, xml), missing


def _model_file(path: Path, group: h5py.Group, assets: Path | None) -> str:
    field = f"{group.name}.attrs[model_file]"
    raw = group.attrs.get("model_file")
    if raw is None:
        raise InputFileError(path, "is missing: the recording's MJCF is needed to recompute poses", field=field)
    xml = raw.decode() if isinstance(raw, bytes) else str(raw)
    xml, missing = relocate_robosuite_assets(xml, assets)
    if missing:
        where = f"--assets {assets}" if assets else f"the installed robosuite pack ({ROBOSUITE.folder})"
        raise InputFileError(path, f"names {len(missing)} asset file(s) not in {where}, e.g. "
                             f"{', '.join(sorted(set(missing))[:3])}; pass "
                             "--assets DIR (robosuite's models/assets folder of the recording's version)", field=field)
    return xml


def load_recorded_model(xml: str) -> tuple[mujoco.MjModel, list[str]]:
    """The recording's model, and the attributes dropped to load it: a model written by a newer MuJoCo than this
    one may carry attributes this one does not know (robosuite on MuJoCo 3.3.7 writes textures' ``colorspace``,
    which 3.3.0 refuses); each is removed where MuJoCo names it, and reported."""
    dropped: list[str] = []
    for _ in range(MAX_DROPPED):
        try:
            return mujoco.MjModel.from_xml_string(xml), dropped
        except ValueError as exc:
            unknown = re.search(r"unrecognized attribute: '([\w:-]+)'\s+Element '(\w+)'", str(exc))
            if unknown is None:
                raise
            attribute, element = unknown[1], unknown[2]
            xml = re.sub(rf'(<{element}\b[^>]*?)\s+{re.escape(attribute)}="[^"]*"', r"\1", xml)
            dropped.append(f"{element}.{attribute}")
    return mujoco.MjModel.from_xml_string(xml), dropped


def _recorded_world(path: Path, group: h5py.Group, xml: str, wanted: dict[str, str], task: object,
                    env_name: str) -> RecordedWorld:
    field = f"{group.name}.attrs[model_file]"
    try:
        model, dropped = load_recorded_model(xml)
    except ValueError as exc:
        raise InputFileError(path, f"does not load in MuJoCo {mujoco.__version__}: {' '.join(str(exc).split())}",
                             field=field) from None
    bodies = [model.body(b).name for b in range(model.nbody)]
    resolved = {}
    for theirs, ours in wanted.items():
        body = theirs if theirs in bodies else f"{theirs}_main" if f"{theirs}_main" in bodies else None
        if body is None:
            raise InputFileError(path, f"--map names {theirs!r}, but the recorded model has no body {theirs!r} or "
                                 f"{theirs}_main", field=field)
        resolved[ours] = body
    candidates = sorted({b.removesuffix("_main") for b in bodies if b.endswith("_main")})
    check_map({v: k for k, v in resolved.items()}, task.objects, task.name, f"{path} ({env_name or 'unnamed env'})",
              candidates)
    site = next((s for s in GRIP_SITES if mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, s) >= 0), None)
    if site is None or BASE_BODY not in bodies:
        raise InputFileError(path, f"has no robosuite single-arm robot (site {' or '.join(GRIP_SITES)} and body "
                             f"{BASE_BODY})", field=field)
    fingers = tuple(b for b in bodies if "finger" in b and "finger" not in model.body(int(model.body(b).parentid[0])).name)
    if len(fingers) != 2:
        raise InputFileError(path, f"expected a two-finger gripper, found finger bodies {list(fingers)}", field=field)
    world = RecordedWorld(model, resolved, site, fingers, BASE_BODY, table_z=0.0)
    world.dropped = dropped
    top = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, "table_top")  # robosuite's tables mark their top
    world.table_z = float(world.data.site_xpos[top, 2] if top >= 0 else world.world_T_base[2, 3])
    return world


def _import_demo(path: Path, group: h5py.Group, recorded: RecordedWorld, world: object, task: object,
                 xml: str) -> ImportedTrack:
    model = recorded.model
    states = _dataset(path, group, "states")
    actions = _dataset(path, group, "actions")
    T = len(actions)
    if T == 0 or states.ndim != 2 or len(states) != T:
        raise InputFileError(path, f"expected one state per action ({T} actions), got shape {states.shape}",
                             field=f"{group.name}/states")
    if actions.ndim != 2 or actions.shape[1] != 7:
        raise InputFileError(path, f"expected (T, 7) actions (delta pose + gripper), got {actions.shape}",
                             field=f"{group.name}/actions")
    flat = 1 + model.nq + model.nv
    full = mujoco.mj_stateSize(model, mujoco.mjtState.mjSTATE_FULLPHYSICS)
    if states.shape[1] not in (flat, full):
        raise InputFileError(path, f"states have {states.shape[1]} numbers per step; its model_file needs {flat} "
                             f"([time, qpos({model.nq}), qvel({model.nv})], robosuite) or {full} (MuJoCo full physics)",
                             field=f"{group.name}/states")
    env = world.env
    df_T_rec = aligned_frame(env.world_T_base, env.table_z)
    rec_T_world = None
    eef, target = np.zeros((T, 4, 4)), np.zeros((T, 4, 4))
    objects = {name: np.zeros((T, 4, 4)) for name in task.objects}
    signals = {name: np.zeros(T, dtype=np.int8) for name in task.signal_names}
    success = np.zeros(T, dtype=bool)
    for t in range(T):
        if states.shape[1] == flat:
            recorded.set_state(states[t, 1:1 + model.nq], states[t, 1 + model.nq:])
        else:
            mujoco.mj_setState(model, recorded.data, states[t], mujoco.mjtState.mjSTATE_FULLPHYSICS)
            recorded.set_state(recorded.data.qpos.copy(), recorded.data.qvel.copy())
        if rec_T_world is None:
            rec_T_world = geo.invert(aligned_frame(recorded.world_T_base, recorded.table_z))
        move = df_T_rec @ rec_T_world
        grip = recorded.eef_pose()
        eef[t] = move @ grip @ GRIP_T_EEF
        target[t] = move @ action_to_target(grip, recorded.world_T_base, np.clip(actions[t], -1, 1)) @ GRIP_T_EEF
        for name in task.objects:  # folded by the object's symmetry, as demoforge's own sources are
            objects[name][t] = fold_symmetry(move @ recorded.body_pose(name), task.symmetry_order(recorded, name))
        values, success[t] = read_task(task, recorded)
        for name, value in values.items():
            signals[name][t] = value
    gripper = np.clip(actions[:, 6:7], -1.0, 1.0)
    return ImportedTrack(eef, target, gripper, objects, signals, success, actions.astype(np.float64),
                         states.astype(np.float64), xml)


def _dataset(path: Path, group: h5py.Group, key: str) -> np.ndarray:
    node = group.get(key)
    if not isinstance(node, h5py.Dataset):
        raise InputFileError(path, "is missing", field=f"{group.name}/{key}")
    value = np.asarray(node[()])
    if value.dtype.kind not in "biuf" or not np.all(np.isfinite(value)):
        raise InputFileError(path, "is not an array of finite numbers", field=f"{group.name}/{key}")
    return value.astype(np.float64)

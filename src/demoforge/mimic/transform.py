"""Re-target a source segment to where its reference object is now, and bridge between segments."""

from __future__ import annotations

import numpy as np

from demoforge import geometry as geo


def retarget(src_world_T_eef: np.ndarray, src_world_T_object: np.ndarray, world_T_object_now: np.ndarray) -> np.ndarray:
    """Keep every end-effector pose fixed relative to the object:
    ``world_T_eef_new = world_T_object_now @ inv(src_world_T_object) @ src_world_T_eef``."""
    return world_T_object_now @ geo.invert(src_world_T_object) @ src_world_T_eef


def anchor_pose(world_T_object: np.ndarray, extent: tuple[float, float] | None, where: str) -> np.ndarray:
    """Pose of an object's centre (its frame), top face (``"top"``) or bottom face (``"bottom"``).

    ``extent`` is the object's (bottom, top) z in its own frame; re-targeting between a top face and a
    held object's bottom face makes objects of any height land on one another as in the source.
    """
    if where == "center" or extent is None:
        return world_T_object
    return world_T_object @ geo.make_pose([0.0, 0.0, extent[1] if where == "top" else extent[0]])


EEF_CHANGE = 0.05  # a change of an end-effector command (normalised) larger than this is a grasp or release


def approach_start(src_world_T_mover: np.ndarray, src_world_T_object: np.ndarray, grippers: np.ndarray, radius: float) -> int:
    """Index where a source segment's *approach* begins: the first step at which the mover (the hand, or the
    object it carries) is within ``radius`` metres of the reference object, measured horizontally.

    What comes before is free-space travel from wherever the source's previous subtask ended. Re-targeted
    with the object, that travel turns with the object's yaw into a detour (on stack, a median 8 cm and up
    to 15 cm sideways), and a detour that depends on which source was drawn is noise a policy must average.
    The generator bridges straight to the approach instead. Horizontal, because approaches come from above
    and object frames sit at different heights. Never skips past a change of the end-effector command
    (``grippers``, (T, k): any actuator of a hand moving by more than ``EEF_CHANGE``), so every grasp and
    release of the source is replayed; 0 when ``radius`` is 0 (MimicGen: replay it all) or nothing comes
    that close.
    """
    if radius <= 0:
        return 0
    near = np.linalg.norm(src_world_T_mover[:, :2, 3] - src_world_T_object[:2, 3], axis=1) < radius
    if not near.any():
        return 0
    grippers = np.asarray(grippers).reshape(len(grippers), -1)
    changes = np.flatnonzero(np.any(np.abs(grippers - grippers[0]) > EEF_CHANGE, axis=1))
    return int(min(np.argmax(near), changes[0] if len(changes) else len(grippers) - 1))


def grasp_correction(
    src_world_T_eef: np.ndarray,
    src_world_T_held: np.ndarray,
    world_T_eef_now: np.ndarray,
    world_T_held_now: np.ndarray,
    symmetry: int = 1,
) -> np.ndarray:
    """``eef_T_eef``: right-multiply re-targeted eef poses by it so the *held object* follows the source's path.

    With ``C = eef_T_held_src @ inv(eef_T_held_now)``, ``world_T_eef_new @ eef_T_held_now`` equals the source
    object's re-targeted pose. For an n-fold symmetric object the equivalent grasp nearest the source's is used,
    so a cube never makes the wrist turn by a quarter turn for nothing (``symmetry`` 0: any yaw, as a can).
    """
    eef_T_held_src = geo.invert(src_world_T_eef) @ src_world_T_held
    eef_T_held_now = geo.invert(world_T_eef_now) @ world_T_held_now
    best, best_angle = eef_T_held_now, np.inf
    turns = 72 if symmetry == 0 else max(symmetry, 1)  # 5-degree steps stand in for a continuous symmetry
    for k in range(turns):
        candidate = eef_T_held_now.copy()
        candidate[:3, :3] = eef_T_held_now[:3, :3] @ geo.yaw_mat(2 * np.pi * k / turns)
        angle = geo.pose_error(candidate, eef_T_held_src)[1]
        if angle < best_angle:
            best, best_angle = candidate, angle
    return eef_T_held_src @ geo.invert(best)


def bridge(
    world_T_from: np.ndarray, world_T_to: np.ndarray, min_steps: int, max_step: float = 0.0, lift: float = 0.0
) -> np.ndarray:
    """Poses from ``world_T_from`` (excluded) to ``world_T_to`` (included).

    At least ``min_steps`` (MimicGen's fixed interpolation); with ``max_step`` > 0, enough steps that no
    step moves more than ``max_step`` metres, so the arm can follow instead of cutting corners. With
    ``lift`` > 0 the path arcs up by ``lift`` x its horizontal length (at most 0.1 m) in the middle,
    so whatever the gripper carries passes over objects in between rather than through them.
    """
    delta = world_T_to[:3, 3] - world_T_from[:3, 3]
    steps = min_steps
    if max_step > 0:
        steps = max(steps, int(np.ceil(np.linalg.norm(delta) / max_step)))
    poses = geo.interpolate_poses(world_T_from, world_T_to, steps)
    if lift > 0 and steps > 1:
        arc = np.sin(np.pi * np.arange(1, steps + 1) / steps)
        poses[:, 2, 3] += min(lift * float(np.linalg.norm(delta[:2])), 0.1) * arc
    return poses


def select_source(
    src_object_poses: np.ndarray,
    world_T_object_now: np.ndarray,
    strategy: str,
    k: int,
    rng: np.random.Generator,
    rot_weight: float = 0.1,
) -> int:
    """Index of the source segment to use.

    ``random``: uniform. ``nearest``: uniform among the ``k`` sources whose reference object pose at
    segment start is closest to the current one (metres + ``rot_weight`` * radians).
    """
    n = len(src_object_poses)
    if strategy == "random" or n == 1:
        return int(rng.integers(n))
    pos = np.linalg.norm(src_object_poses[:, :3, 3] - world_T_object_now[:3, 3], axis=1)
    rel = np.einsum("nji,jk->nik", src_object_poses[:, :3, :3], world_T_object_now[:3, :3])
    angle = np.arccos(np.clip((np.trace(rel, axis1=1, axis2=2) - 1.0) / 2.0, -1.0, 1.0))
    order = np.argsort(pos + rot_weight * angle, kind="stable")
    return int(order[rng.integers(min(k, n))])

"""Pose math: properties that must hold for any pose, checked on random ones."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from demoforge import geometry as geo
from demoforge.mimic.transform import retarget

finite = st.floats(-2.0, 2.0, allow_nan=False)
vec3 = st.tuples(finite, finite, finite).map(np.array)
seeds = st.integers(0, 2**31)


def random_pose(seed: int, pos: np.ndarray) -> np.ndarray:
    return geo.make_pose(pos, Rotation.random(random_state=seed).as_matrix())


@given(seeds, vec3)
def test_invert_is_inverse(seed: int, pos: np.ndarray) -> None:
    pose = random_pose(seed, pos)
    np.testing.assert_allclose(pose @ geo.invert(pose), np.eye(4), atol=1e-12)
    np.testing.assert_allclose(geo.invert(pose), np.linalg.inv(pose), atol=1e-12)


@given(seeds)
def test_quaternion_round_trip_in_mujoco_order(seed: int) -> None:
    rot = Rotation.random(random_state=seed)
    quat = geo.mat_to_quat(rot.as_matrix())
    assert quat[0] >= 0  # canonical sign, w first
    np.testing.assert_allclose(geo.quat_to_mat(quat), rot.as_matrix(), atol=1e-12)
    xyzw = rot.as_quat()
    assert np.allclose(geo.xyzw_to_wxyz(xyzw), quat) or np.allclose(geo.xyzw_to_wxyz(xyzw), -quat)


@given(seeds, st.floats(0.0, 3.1, allow_nan=False))
def test_axisangle_round_trip(seed: int, angle: float) -> None:
    axis = Rotation.random(random_state=seed).apply([1.0, 0.0, 0.0])
    rotvec = axis * angle
    mat = geo.axisangle_to_mat(rotvec)
    np.testing.assert_allclose(mat, Rotation.from_rotvec(rotvec).as_matrix(), atol=1e-10)
    np.testing.assert_allclose(geo.mat_to_axisangle(mat), rotvec, atol=1e-8)


@given(seeds, seeds, vec3, vec3, st.integers(1, 30))
def test_interpolation_ends_at_goal_and_moves_monotonically(s1: int, s2: int, p1: np.ndarray, p2: np.ndarray, n: int) -> None:
    a, b = random_pose(s1, p1), random_pose(s2, p2)
    path = geo.interpolate_poses(a, b, n)
    assert path.shape == (n, 4, 4)
    np.testing.assert_allclose(path[-1], b, atol=1e-9)
    dists = [geo.pose_error(a, p)[0] for p in path]
    assert np.all(np.diff(dists) >= -1e-9)


@settings(max_examples=50)
@given(seeds, seeds, seeds, vec3, vec3, vec3)
def test_retarget_keeps_pose_relative_to_object(s1: int, s2: int, s3: int, p1: np.ndarray, p2: np.ndarray, p3: np.ndarray) -> None:
    src_obj, new_obj = random_pose(s1, p1), random_pose(s2, p2)
    eef = np.stack([random_pose(s3 + i, p3 + i * 0.01) for i in range(4)])
    moved = retarget(eef, src_obj, new_obj)
    np.testing.assert_allclose(geo.invert(new_obj) @ moved, geo.invert(src_obj) @ eef, atol=1e-9)


@settings(max_examples=50)
@given(seeds, seeds, seeds, seeds, vec3, vec3)
def test_grasp_correction_makes_the_held_object_follow_the_source(s1: int, s2: int, s3: int, s4: int, p1: np.ndarray, p2: np.ndarray) -> None:
    from demoforge.mimic.transform import grasp_correction

    src_ref, new_ref = random_pose(s1, p1), random_pose(s2, p2)
    src_eef, src_held = random_pose(s3, p1 * 0.5), random_pose(s3 + 1, p1 * 0.5 + 0.02)
    now_eef = random_pose(s4, p2 * 0.5)
    now_held = now_eef @ geo.make_pose([0.01, -0.003, 0.02], geo.yaw_mat(0.3))  # a different grasp than the source's
    eef_new = retarget(src_eef[None], src_ref, new_ref)[0] @ grasp_correction(src_eef, src_held, now_eef, now_held)
    held_new = eef_new @ geo.invert(now_eef) @ now_held
    np.testing.assert_allclose(held_new, retarget(src_held[None], src_ref, new_ref)[0], atol=1e-9)


def test_grasp_correction_uses_the_nearest_symmetric_grasp() -> None:
    from demoforge.mimic.transform import grasp_correction

    eef = np.eye(4)
    held_src = geo.make_pose([0, 0, 0.1], geo.yaw_mat(0.05))
    held_now = geo.make_pose([0, 0, 0.1], geo.yaw_mat(0.05 + np.pi / 2))  # the same cube grasp, a quarter turn on
    correction = grasp_correction(eef, held_src, eef, held_now, symmetry=4)
    assert geo.pose_error(np.eye(4), correction)[1] < 1e-9
    assert geo.pose_error(np.eye(4), grasp_correction(eef, held_src, eef, held_now, symmetry=1))[1] > 1.5


def test_top_and_bottom_anchors_land_objects_of_other_heights() -> None:
    """Placing with anchors keeps the held object's bottom on the reference's top, whatever their heights."""
    from demoforge.mimic.transform import anchor_pose, grasp_correction

    src_ref, src_eef = geo.make_pose([0.5, 0.0, 0.825]), geo.make_pose([0.5, 0.0, 0.89], np.diag([1.0, -1.0, -1.0]))
    src_held = geo.make_pose([0.5, 0.0, 0.87])  # 2 cm half-height cube resting on a 2.5 cm half-height one
    src_ext_ref, src_ext_held = (-0.025, 0.025), (-0.02, 0.02)
    now_ref = geo.make_pose([0.6, 0.1, 0.8375])  # a taller base (3.75 cm half height) elsewhere
    now_ext_ref, now_ext_held = (-0.0375, 0.0375), (-0.015, 0.015)  # and a smaller held cube
    now_eef = geo.make_pose([0.3, -0.1, 1.0], np.diag([1.0, -1.0, -1.0]))
    now_held = now_eef @ geo.make_pose([0.0, 0.0, 0.02])
    new_eef = retarget(
        src_eef[None], anchor_pose(src_ref, src_ext_ref, "top"), anchor_pose(now_ref, now_ext_ref, "top")
    )[0] @ grasp_correction(
        src_eef, anchor_pose(src_held, src_ext_held, "bottom"), now_eef, anchor_pose(now_held, now_ext_held, "bottom")
    )
    held_bottom = anchor_pose(new_eef @ geo.invert(now_eef) @ now_held, now_ext_held, "bottom")
    np.testing.assert_allclose(held_bottom[:3, 3], anchor_pose(now_ref, now_ext_ref, "top")[:3, 3], atol=1e-9)


def test_approach_starts_where_the_hand_first_comes_near_the_object() -> None:
    from demoforge.mimic.transform import approach_start

    obj = geo.make_pose([0.5, 0.0, 0.05])
    path = np.stack([geo.make_pose([0.5 + 0.3 - 0.01 * t, 0.0, 0.05]) for t in range(30)])  # 30 cm away, closing in
    grippers = np.ones(30)
    assert approach_start(path, obj, grippers, 0.1) == 21  # 0.3 - 0.01 * 21 = 0.09 m: the first pose inside
    assert approach_start(path, obj, grippers, 0.0) == 0  # radius 0: the whole segment, as MimicGen
    assert approach_start(path, obj, grippers, 0.001) == 0  # never that close: nothing skipped
    grippers[5:] = -1.0
    assert approach_start(path, obj, grippers, 0.1) == 5  # a release on the way is replayed, not skipped

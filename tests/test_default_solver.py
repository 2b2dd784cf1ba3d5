"""The default estimator's numpy parts: landmarks -> SMPL rotations, landmark conversion, gap filling, crop camera."""

import numpy as np
import pytest
from mediapipe.framework.formats import landmark_pb2

from backend.default_estimator.crop_camera import fit_crop_camera
from backend.default_estimator.landmark_rig import BodyMeasures, build_rig, landmarks_from_pose
from backend.default_estimator.landmarks import Landmarks, fill_missing, landmark_arrays
from backend.default_estimator.solver import aim_keeping_child_twist, fit_rotation, solve_pose
from smpl_rig.camera import crop_cam_to_orig_cam
from smpl_rig.fk import forward_kinematics
from smpl_rig.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from smpl_rig.skeleton import PARENTS

UPRIGHT = axis_angle_to_matrix(np.array([np.pi, 0.0, 0.0]))  # SMPL rest -> facing the camera, y down
SUBJECT = BodyMeasures(torso=0.55, hip_width=0.17, shoulder_width=0.37, thigh=0.44, shin=0.42, upper_arm=0.3,
                       forearm=0.27, neck=0.11, face=1.15)
TWIST_FREE = (4, 5, 7, 8, 15, 18, 19, 20, 21)  # knees, ankles, head, elbows, wrists: no twist about the parent bone
AT_REST = (10, 11, 13, 14, 22, 23)  # feet, collars, hands


def _about(axis: int, angle: np.ndarray) -> np.ndarray:
    return axis_angle_to_matrix(np.outer(angle, np.eye(3)[axis]))


def random_poses(rng: np.random.Generator, n: int, rest: np.ndarray, conventional: bool) -> np.ndarray:
    """Plausible random local rotations (n, 24, 3, 3) around a person standing upright facing the camera; with
    `conventional`, what the landmarks cannot tell follows the solver's conventions (see solver.py)."""
    aa = rng.normal(scale=0.45, size=(n, 24, 3))
    aa[:, 0] = matrix_to_axis_angle(UPRIGHT @ axis_angle_to_matrix(rng.normal(scale=0.5, size=(n, 3))))
    local = axis_angle_to_matrix(aa)
    if conventional:
        for j in TWIST_FREE:
            bone = (rest[j] - rest[PARENTS[j]]) / np.linalg.norm(rest[j] - rest[PARENTS[j]])
            aa[:, j] -= np.outer(aa[:, j] @ bone, bone)
        aa[:, AT_REST] = 0.0
        local = axis_angle_to_matrix(aa)
        bend = _about(2, rng.uniform(-0.6, 0.6, n) / 3)
        local[:, 3] = local[:, 6] = bend
        local[:, 9] = bend @ _about(1, rng.uniform(-0.9, 0.9, n))
    return local


def test_solver_reproduces_poses_that_follow_its_conventions_exactly():
    rng = np.random.default_rng(7)
    rig = build_rig(SUBJECT)
    local = random_poses(rng, 300, rig.rest_joints, conventional=True)
    trans = rng.normal(scale=2.0, size=(300, 3))
    solution = solve_pose(landmarks_from_pose(local, rig, trans))
    positions, _ = forward_kinematics(local, rig.rest_joints, trans)
    for field in ("torso", "hip_width", "shoulder_width", "thigh", "shin", "upper_arm", "forearm", "neck", "face"):
        assert getattr(solution.measures, field) == pytest.approx(getattr(SUBJECT, field), abs=1e-9), field
    assert np.allclose(solution.rig.rest_joints, rig.rest_joints, atol=1e-9)
    assert np.abs(solution.joints - positions).max() < 1e-6
    assert np.abs(solution.rotations - local).max() < 1e-6
    assert np.allclose(axis_angle_to_matrix(solution.axis_angle.reshape(-1, 24, 3)), local, atol=1e-6)


def test_solver_recovers_what_landmarks_determine_for_any_pose():
    """Arbitrary spine, collar, hand and foot rotations and twists: the hip line, every limb bone's direction and
    the full orientation of the hands, feet and head are still exact; only the conventions absorb the rest."""
    rng = np.random.default_rng(11)
    rig = build_rig(BodyMeasures())
    local = random_poses(rng, 300, rig.rest_joints, conventional=False)
    solution = solve_pose(landmarks_from_pose(local, rig))
    _, world = forward_kinematics(local, rig.rest_joints)
    positions, _ = forward_kinematics(local, rig.rest_joints)
    solved_positions, solved_world = forward_kinematics(solution.rotations, solution.rig.rest_joints)
    assert np.abs(solved_world[:, [7, 8, 15, 20, 21]] - world[:, [7, 8, 15, 20, 21]]).max() < 1e-6

    def directions(p: np.ndarray, child: list[int], parent: list[int]) -> np.ndarray:
        d = p[:, child] - p[:, parent]
        return d / np.linalg.norm(d, axis=-1, keepdims=True)

    limbs = [4, 5, 7, 8, 18, 19, 20, 21]
    bones = [PARENTS[j] for j in limbs]
    assert np.abs(directions(solved_positions, limbs, bones) - directions(positions, limbs, bones)).max() < 1e-6
    assert np.abs(directions(solved_positions, [1], [2]) - directions(positions, [1], [2])).max() < 1e-6
    # The twists the landmarks cannot see do differ: the test is not trivially satisfied.
    assert np.abs(solution.rotations[:, 9] - local[:, 9]).max() > 0.1


def test_aim_keeps_child_untwisted_and_fit_rotation_is_exact():
    rng = np.random.default_rng(3)
    rest_dir = np.array([0.2, -1.0, 0.1])
    child = axis_angle_to_matrix(rng.normal(size=(50, 3)))
    target = rng.normal(size=(50, 3))
    aim = aim_keeping_child_twist(rest_dir, target, child)
    aimed = aim @ (rest_dir / np.linalg.norm(rest_dir))
    assert np.allclose(aimed, target / np.linalg.norm(target, axis=-1, keepdims=True), atol=1e-12)
    child_local = matrix_to_axis_angle(np.swapaxes(aim, -1, -2) @ child)
    assert np.abs(child_local @ rest_dir).max() < 1e-9
    points = rng.normal(size=(5, 3))
    assert np.allclose(fit_rotation(points, np.einsum("nij,kj->nki", child, points) + 3.0), child, atol=1e-9)


def test_solver_rejects_wrong_shapes():
    with pytest.raises(ValueError, match=r"\(N, 33, 3\)"):
        solve_pose(np.zeros((4, 17, 3)))


def test_mediapipe_landmark_lists_convert_to_camera_and_crop_coordinates():
    world_list, image_list = landmark_pb2.LandmarkList(), landmark_pb2.NormalizedLandmarkList()
    rng = np.random.default_rng(0)
    world, image, visibility = rng.normal(size=(33, 3)), rng.uniform(size=(33, 2)), rng.uniform(size=33)
    for w, i, v in zip(world, image, visibility, strict=True):
        world_list.landmark.add(x=w[0], y=w[1], z=w[2], visibility=v)
        image_list.landmark.add(x=i[0], y=i[1], z=0.0, visibility=v)
    got_world, got_image, got_visibility = landmark_arrays(world_list, image_list)
    assert np.allclose(got_world, world, atol=1e-6)  # float32 in the protobuf
    assert np.allclose(got_image, image * 2 - 1, atol=1e-6)
    assert np.allclose(got_visibility, visibility, atol=1e-6)
    image_list.landmark.pop()
    with pytest.raises(ValueError, match="33 BlazePose landmarks"):
        landmark_arrays(world_list, image_list)


def test_missing_frames_are_interpolated_and_held():
    n = 7
    ramp = np.arange(n, dtype=float)
    marks = Landmarks(world=np.broadcast_to(ramp[:, None, None], (n, 33, 3)).copy(),
                      image=np.broadcast_to(-ramp[:, None, None], (n, 33, 2)).copy(),
                      visibility=np.ones((n, 33)), found=np.array([0, 1, 0, 0, 1, 1, 0], dtype=bool))
    filled = fill_missing(marks)
    assert np.allclose(filled.world[:, 0, 0], [1, 1, 2, 3, 4, 5, 5])
    assert np.allclose(filled.image[:, 5, 1], [-1, -1, -2, -3, -4, -5, -5])
    assert filled.found is marks.found
    with pytest.raises(ValueError, match="no frame has a pose"):
        fill_missing(Landmarks(marks.world, marks.image, marks.visibility, np.zeros(n, dtype=bool)))


def test_crop_camera_lands_points_on_their_pixels_in_the_full_image():
    """Crops cover 1.1 x the tracked box; the fitted camera, converted by the official formula with the box itself,
    projects every point onto the pixel it was seen at."""
    rng = np.random.default_rng(5)
    width, height, n = 640, 480, 20
    points = rng.normal(scale=0.4, size=(n, 33, 3))
    s, tx, ty = rng.uniform(0.8, 1.2, n), rng.normal(scale=0.1, size=n), rng.normal(scale=0.1, size=n)
    boxes = np.stack([rng.uniform(200, 440, n), rng.uniform(150, 330, n), np.full(n, 200.0), np.full(n, 200.0)], 1)
    pixels = boxes[:, None, :2] + boxes[:, 3, None, None] / 2 * s[:, None, None] * (
        points[..., :2] + np.stack([tx, ty], -1)[:, None])
    crop_coords = (pixels - boxes[:, None, :2]) / (1.1 * boxes[:, 3, None, None] / 2)
    cam = fit_crop_camera(points, crop_coords, rng.uniform(0.2, 1.0, size=(n, 33)), crop_scale=1.1)
    assert np.allclose(cam, np.stack([s, tx, ty], -1), atol=1e-9)
    sx, sy, otx, oty = crop_cam_to_orig_cam(cam, boxes, width, height).T
    u = width / 2 * (1 + sx[:, None] * (points[..., 0] + otx[:, None]))
    v = height / 2 * (1 + sy[:, None] * (points[..., 1] + oty[:, None]))
    assert np.allclose(np.stack([u, v], -1), pixels, atol=1e-6)

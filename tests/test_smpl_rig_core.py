import os
import pickle

import joblib
import numpy as np
import pytest

from smpl_rig.camera import CAMERA_TO_BLENDER, camera_to_blender, crop_cam_to_orig_cam, orig_cam_to_translation
from smpl_rig.fk import forward_kinematics
from smpl_rig.motion import Motion, MotionFileError, Person, load_motion, save_motion
from smpl_rig.perspective import ray_rotations
from smpl_rig.rotations import (
    axis_angle_to_matrix,
    axis_angle_to_quaternion,
    make_quaternions_continuous,
    matrix_to_axis_angle,
    matrix_to_quaternion,
    quaternion_to_matrix,
)
from smpl_rig.safe_pickle import UnsafePickleError, load_untrusted_pickle
from smpl_rig.smpl_model import SmplModelError, load_smpl_model
from tests.synthetic import make_smpl_arrays, write_smpl_model


def test_rotation_round_trips_including_near_pi():
    rng = np.random.default_rng(1)
    aa = rng.normal(size=(200, 3))
    aa[:10] = aa[:10] / np.linalg.norm(aa[:10], axis=1, keepdims=True) * (np.pi - 1e-7)
    m = axis_angle_to_matrix(aa)
    assert np.allclose(m @ np.swapaxes(m, -1, -2), np.eye(3), atol=1e-12)
    assert np.allclose(quaternion_to_matrix(matrix_to_quaternion(m)), m, atol=1e-9)
    assert np.allclose(quaternion_to_matrix(axis_angle_to_quaternion(aa)), m, atol=1e-9)
    assert np.allclose(axis_angle_to_matrix(matrix_to_axis_angle(m)), m, atol=1e-6)


def test_quaternion_continuity_flips_to_one_hemisphere():
    q = axis_angle_to_quaternion(np.linspace([0, 0, 0.1], [0, 0, 6.0], 50))
    q[::3] *= -1
    fixed = make_quaternions_continuous(q)
    assert np.all(np.sum(fixed[1:] * fixed[:-1], axis=-1) > 0)
    assert np.allclose(np.abs(fixed), np.abs(q))


@pytest.mark.parametrize("chumpy", [False, True])
def test_smpl_model_loads_with_and_without_chumpy_objects(tmp_path, chumpy):
    path = write_smpl_model(tmp_path / "SMPL_NEUTRAL.pkl", chumpy=chumpy)
    model = load_smpl_model(path)
    ref = make_smpl_arrays()
    assert np.allclose(model.v_template, ref["v_template"])
    assert model.parents[0] == -1 and list(model.parents[1:4]) == [0, 0, 0]
    betas = np.linspace(-1, 1, 10)
    expected = ref["J_regressor"] @ (ref["v_template"] + ref["shapedirs"] @ betas)
    assert np.allclose(model.rest_joints(betas), expected)


def test_smpl_model_errors_name_the_problem(tmp_path):
    with pytest.raises(SmplModelError, match="not found"):
        load_smpl_model(tmp_path / "missing.pkl")
    arrays = make_smpl_arrays()
    del arrays["weights"]
    (tmp_path / "bad.pkl").write_bytes(pickle.dumps(arrays, protocol=2))
    with pytest.raises(SmplModelError, match="missing weights"):
        load_smpl_model(tmp_path / "bad.pkl")
    arrays = make_smpl_arrays()
    arrays["kintree_table"][0, 15] = 9  # the head hangs off Spine3: not SMPL's tree, which the rig assumes
    (tmp_path / "other_tree.pkl").write_bytes(pickle.dumps(arrays, protocol=2))
    with pytest.raises(SmplModelError, match="kinematic tree"):
        load_smpl_model(tmp_path / "other_tree.pkl")


def test_unsafe_pickle_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "ran"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    with pytest.raises(UnsafePickleError):
        load_untrusted_pickle(pickle.dumps({"v_template": Exploit()}))
    assert not marker.exists()
    sparse_without_data = b"\x80\x02cscipy.sparse.csc\ncsc_matrix\n)\x81}b."  # allowed class, state missing
    with pytest.raises(ValueError, match="not a readable pickle"):
        load_untrusted_pickle(sparse_without_data)


def test_fk_root_and_children():
    rest = np.array(make_smpl_arrays()["J"])
    pose = np.zeros((1, 72))
    pose[0, 3 * 4 : 3 * 4 + 3] = [np.pi / 2, 0, 0]  # left knee bends 90 degrees about x
    pos, _ = forward_kinematics(pose, rest, trans=np.array([[1.0, 2.0, 3.0]]))
    assert np.allclose(pos[0, 0], rest[0] + [1, 2, 3])
    shin = rest[7] - rest[4]
    assert np.allclose(pos[0, 7] - pos[0, 4], axis_angle_to_matrix(np.array([np.pi / 2, 0, 0])) @ shin)


def test_camera_to_blender_matches_rotated_fk():
    rng = np.random.default_rng(2)
    rest = np.array(make_smpl_arrays()["J"])
    pose = rng.normal(scale=0.5, size=(5, 72))
    trans = rng.normal(size=(5, 3))
    cam_pos, _ = forward_kinematics(pose, rest, trans)
    root, transl = camera_to_blender(axis_angle_to_matrix(pose[:, :3]), trans, rest[0])
    local = axis_angle_to_matrix(pose.reshape(5, 24, 3))
    local[:, 0] = root
    blender_pos, _ = forward_kinematics(local, rest, transl)
    assert np.allclose(blender_pos, cam_pos @ CAMERA_TO_BLENDER.T)
    upright = axis_angle_to_matrix(np.array([np.pi, 0, 0]))  # VIBE: upright, facing the camera
    head_dir = (CAMERA_TO_BLENDER @ upright) @ np.array([0, 1.0, 0])
    facing = (CAMERA_TO_BLENDER @ upright) @ np.array([0, 0, 1.0])
    assert np.allclose(head_dir, [0, 0, 1]) and np.allclose(facing, [0, -1, 0])


def test_weak_perspective_translation_reprojects():
    width, height, f = 640, 480, np.hypot(640, 480)
    cam = np.array([[0.9, 0.05, 0.1]])
    boxes = np.array([[400.0, 200.0, 180.0, 180.0]])
    orig = crop_cam_to_orig_cam(cam, boxes, width, height)
    t = orig_cam_to_translation(orig)[0]
    point = np.array([0.1, -0.2, 0.0])
    u = f * (point[0] + t[0]) / t[2] + width / 2
    weak_u = (orig[0, 0] * (point[0] + orig[0, 2]) + 1) * width / 2
    assert np.isclose(u, weak_u)


def _person(n, rng):
    return Person(pose=rng.normal(size=(n, 72)), betas=rng.normal(size=(n, 10)), trans=rng.normal(size=(n, 3)),
                  cam=rng.normal(size=(n, 3)), orig_cam=rng.normal(size=(n, 4)), bboxes=rng.normal(size=(n, 4)),
                  frame_ids=np.arange(n), joints3d=rng.normal(size=(n, 49, 3)))


def test_motion_file_round_trip_and_atomic_write(tmp_path):
    rng = np.random.default_rng(3)
    motion = Motion(fps=25.0, width=640, height=360, estimator="vibe", people={3: _person(7, rng), 5: _person(2, rng)})
    path = save_motion(motion, tmp_path / "motion.npz")
    loaded = load_motion(path)
    assert loaded.fps == 25.0 and sorted(loaded.people) == [3, 5]
    assert np.allclose(loaded.people[3].pose, motion.people[3].pose)
    assert [p.name for p in tmp_path.iterdir()] == ["motion.npz"]


def test_official_joblib_output_is_read_and_bad_files_named(tmp_path):
    rng = np.random.default_rng(4)
    n = 6
    cam = np.abs(rng.normal(size=(n, 3))) + 0.5
    boxes = np.tile([300.0, 200.0, 150.0, 150.0], (n, 1))
    official = {1: {"pred_cam": cam, "orig_cam": crop_cam_to_orig_cam(cam, boxes, 640, 480),
                    "verts": rng.normal(size=(n, 6890, 3)), "pose": rng.normal(size=(n, 72)),
                    "betas": rng.normal(size=(n, 10)), "joints3d": rng.normal(size=(n, 49, 3)),
                    "joints2d": None, "bboxes": boxes, "frame_ids": np.arange(n)}}
    joblib.dump(official, tmp_path / "vibe_output.pkl")
    motion = load_motion(tmp_path / "vibe_output.pkl")
    assert (motion.width, motion.height) == (640, 480)  # not in the file: from how the demo converted the camera
    assert np.allclose(motion.people[1].pose[:, 3:], official[1]["pose"][:, 3:])
    turn = ray_rotations(boxes[:, :2], 640, 480)  # the root is seen from the camera, not from the crop
    assert np.allclose(axis_angle_to_matrix(motion.people[1].pose[:, :3]),
                       turn @ axis_angle_to_matrix(official[1]["pose"][:, :3]))
    trans = orig_cam_to_translation(official[1]["orig_cam"])
    assert np.allclose(motion.people[1].trans, trans)
    assert np.allclose(motion.people[1].root, trans + official[1]["joints3d"][:, 8])  # OP MidHip: SMPL's pelvis
    (tmp_path / "notes.pkl").write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(MotionFileError, match="not a VIBE/TCMR output"):
        load_motion(tmp_path / "notes.pkl")
    (tmp_path / "clip.npz").write_text("hello")
    with pytest.raises(MotionFileError, match="not a motion file"):
        load_motion(tmp_path / "clip.npz")


@pytest.mark.parametrize("field, value, message", [
    ("trans", np.zeros((3, 2)), r"'trans' must be \(N, 3\)"),
    ("root", np.zeros((3, 4)), r"'root' must be \(N, 3\)"),
    ("pose", np.float64(0.0), "'pose' has shape"),
    ("frame_ids", np.int64(0), "'frame_ids' must be"),
])
def test_person_fields_of_the_wrong_shape_are_named(field, value, message):
    fields = vars(_person(3, np.random.default_rng(7)))
    with pytest.raises(MotionFileError, match=message):
        Person(**{**fields, field: value})


def test_root_places_any_skeleton_pelvis_at_the_estimated_root():
    rng = np.random.default_rng(5)
    person = _person(4, rng)
    person.root = rng.normal(size=(4, 3))
    for rest in (np.asarray(make_smpl_arrays()["J"]), np.zeros((24, 3)) + [0.0, 0.5, 0.1]):
        pelvis = forward_kinematics(person.pose, rest, person.transl_for(rest[0]))[0][:, 0]
        assert np.allclose(pelvis, person.root)
    person.root = None
    assert person.transl_for(np.ones(3)) is person.trans


def test_motion_file_keeps_root_when_present(tmp_path):
    rng = np.random.default_rng(6)
    with_root, without = _person(3, rng), _person(2, rng)
    with_root.root = rng.normal(size=(3, 3))
    loaded = load_motion(save_motion(Motion(fps=30, width=4, height=4, estimator="default",
                                            people={1: with_root, 2: without}), tmp_path / "m.npz"))
    assert np.allclose(loaded.people[1].root, with_root.root) and loaded.people[2].root is None

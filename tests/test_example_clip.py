"""The committed example clip and its ground truth, and the accuracy benchmark's scoring on that truth."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from bench.accuracy import find_clips, format_table, main, score_motion
from smpl_rig.motion import Motion, Person
from smpl_rig.skeleton import JOINT_NAMES
from tools.anny_body import ANKLES, stand_in_place
from tools.check_detection import MEDIAPIPE_TO_SMPL, mediapipe_landmarks, project_points
from tools.make_example_clip import intrinsics, world_to_camera

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CLIP = EXAMPLES / "squat_march.mp4"
WIDTH, HEIGHT, FPS, FRAMES = 480, 640, 30.0, 150  # as examples/README.md documents


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(CLIP))
    assert capture.isOpened(), f"OpenCV cannot open {CLIP}"
    assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(FPS)
    decoded = []
    ok, frame = capture.read()
    while ok:
        decoded.append(frame)
        ok, frame = capture.read()
    capture.release()
    return decoded


@pytest.fixture(scope="module")
def truth() -> dict[str, np.ndarray]:
    with np.load(EXAMPLES / "squat_march_truth.npz", allow_pickle=False) as data:
        return dict(data)


def test_clip_has_the_documented_size_rate_and_length(frames):
    assert len(frames) == FRAMES
    assert {f.shape for f in frames} == {(HEIGHT, WIDTH, 3)}
    assert CLIP.stat().st_size < 3_000_000


def test_truth_matches_the_clip(truth, frames):
    assert truth["joints3d"].shape == (len(frames), 24, 3)
    np.testing.assert_array_equal(truth["frame_ids"], np.arange(len(frames)))
    assert tuple(truth["joint_names"]) == JOINT_NAMES
    assert (float(truth["fps"]), int(truth["width"]), int(truth["height"])) == (FPS, WIDTH, HEIGHT)
    f = np.hypot(WIDTH, HEIGHT)
    np.testing.assert_allclose(truth["intrinsics"], [[f, 0, WIDTH / 2], [0, f, HEIGHT / 2], [0, 0, 1]])


def test_truth_is_an_upright_person_inside_every_frame(truth):
    joints = truth["joints3d"]
    assert (joints[..., 2] > 1.0).all()  # in front of the camera
    pixels = project_points(joints, truth["intrinsics"])
    assert (pixels >= 0).all() and (pixels[..., 0] < WIDTH).all() and (pixels[..., 1] < HEIGHT).all()
    y = {name: pixels[:, JOINT_NAMES.index(name), 1] for name in ("Head", "Neck", "Pelvis", "L_Ankle", "R_Ankle")}
    assert (y["Head"] < y["Neck"]).all() and (y["Neck"] < y["Pelvis"]).all()  # image y grows downwards
    assert (y["Pelvis"] < np.minimum(y["L_Ankle"], y["R_Ankle"])).all()
    standing = (np.maximum(y["L_Ankle"], y["R_Ankle"]) - y["Head"])[0] / HEIGHT
    assert 0.4 < standing < 0.8
    bones = np.linalg.norm(joints[:, 4] - joints[:, 7], axis=1)  # left shin: a rigid length throughout
    assert bones.std() < 1e-6 and 0.3 < bones.mean() < 0.5


def test_truth_torso_projects_onto_the_shirt(truth, frames):
    pixels = project_points(truth["joints3d"][:, JOINT_NAMES.index("Spine2")], truth["intrinsics"]).round()
    patches = np.array([np.median(f[int(v) - 2:int(v) + 3, int(u) - 2:int(u) + 3].reshape(-1, 3), axis=0)
                        for f, (u, v) in zip(frames, pixels, strict=True)])
    blue, green, red = patches.T
    assert (red > green + 40).mean() > 0.95 and (red > blue + 40).mean() > 0.95  # the red shirt, not the grey wall


def test_truth_agrees_with_mediapipe_landmarks(truth, frames):
    ids = np.arange(0, len(frames), 15)
    landmarks = mediapipe_landmarks([frames[i] for i in ids])
    assert all(lm is not None for lm in landmarks)
    pixels = project_points(truth["joints3d"][ids], truth["intrinsics"])
    smpl = [JOINT_NAMES.index(name) for name in MEDIAPIPE_TO_SMPL.values()]
    distance = np.linalg.norm(np.stack(landmarks)[:, list(MEDIAPIPE_TO_SMPL)] - pixels[:, smpl], axis=-1)
    assert np.median(distance) < 12.0  # pixels, on a body ~380 pixels tall


def estimate(joints: np.ndarray, frame_ids: np.ndarray) -> Motion:
    """A motion file whose one person has these 3D joints on these frames."""
    n = len(frame_ids)
    person = Person(pose=np.zeros((n, 72)), betas=np.zeros((n, 10)), trans=np.zeros((n, 3)), cam=np.ones((n, 3)),
                    orig_cam=np.ones((n, 4)), bboxes=np.ones((n, 4)), frame_ids=frame_ids, joints3d=joints)
    return Motion(fps=FPS, width=WIDTH, height=HEIGHT, estimator="test", people={1: person})


def as_vibe49(smpl: np.ndarray) -> np.ndarray:
    """VIBE's 49-joint layout holding these SMPL joints where VIBE's OpenPose-order part has them."""
    vibe = np.full((len(smpl), 49, 3), 7.0)  # every other joint far away: it must not be used
    openpose = {1: "Neck", 2: "R_Shoulder", 3: "R_Elbow", 4: "R_Wrist", 5: "L_Shoulder", 6: "L_Elbow",
                7: "L_Wrist", 8: "Pelvis", 9: "R_Hip", 10: "R_Knee", 11: "R_Ankle", 12: "L_Hip", 13: "L_Knee",
                14: "L_Ankle"}
    for index, name in openpose.items():
        vibe[:, index] = smpl[:, JOINT_NAMES.index(name)]
    return vibe


def test_score_of_an_estimate_with_one_joint_off(truth):
    joints = truth["joints3d"].copy()
    joints[:, JOINT_NAMES.index("L_Wrist")] += [0.0, 0.14, 0.0]  # 140 mm on one of the 14 scored joints
    joints += [0.3, -0.2, 1.5]  # a wrong global position is not scored: skeletons are centred on the hips
    frame_ids = np.r_[0:40, 60:150]  # the person was lost for 20 frames
    smpl = score_motion(estimate(joints[frame_ids], frame_ids), truth["joints3d"])
    vibe = score_motion(estimate(as_vibe49(joints[frame_ids]), frame_ids), truth["joints3d"])
    assert smpl.found == pytest.approx(130 / 150)
    assert smpl.mpjpe == pytest.approx(10.0)
    assert smpl.pa_mpjpe > 1.0  # a similarity transform cannot move one joint alone
    assert smpl.accel == pytest.approx(0.0, abs=1e-9)  # a constant error has no acceleration
    np.testing.assert_allclose([vibe.found, vibe.mpjpe, vibe.pa_mpjpe, vibe.accel],
                               [smpl.found, smpl.mpjpe, smpl.pa_mpjpe, smpl.accel], atol=1e-9)


def test_score_of_a_jittering_joint(truth):
    joints = truth["joints3d"].copy()
    flip = np.where(np.arange(len(joints)) % 2 == 0, 1.0, -1.0)
    joints[:, JOINT_NAMES.index("R_Knee"), 0] += 0.0035 * flip  # +-3.5 mm: second difference 14 mm on 1/14 joints
    score = score_motion(estimate(joints, np.arange(len(joints))), truth["joints3d"])
    assert score.accel == pytest.approx(1.0)
    assert score.mpjpe == pytest.approx(3.5 / 14)
    row = format_table([("squat_march.mp4", "test", score)]).splitlines()[-1]
    assert row.startswith("| squat_march.mp4 | test | 100% |") and "| 1.0 |" in row


def test_benchmark_skips_an_unavailable_estimator_with_a_note(capsys, tmp_path):
    assert CLIP in find_clips(EXAMPLES, [])  # with the other one-person clips
    main(["--estimators", "no-such-estimator", "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    assert "| clip | estimator |" in printed
    assert "- no-such-estimator on squat_march.mp4: skipped: " in printed


def test_generator_camera_convention():
    ahead_and_up = np.array([[0.0, 4.0, 1.0], [1.0, 4.0, 0.0]])  # Blender world: camera at the origin, looking +Y
    np.testing.assert_allclose(world_to_camera(ahead_and_up), [[0.0, -1.0, 4.0], [1.0, 0.0, 4.0]])
    pixels = project_points(world_to_camera(ahead_and_up), intrinsics(480, 640))
    np.testing.assert_allclose(pixels, [[240.0, 320.0 - 200.0], [240.0 + 200.0, 320.0]])  # f = 800 px


def test_generator_keeps_the_supporting_foot_planted():
    labels = ["root", *ANKLES]
    rest = np.array([[0.0, 0.0, 0.9], [0.1, 0.0, 0.1], [-0.1, 0.0, 0.1]])
    heads = np.repeat(rest[None], 2, axis=0)
    heads[1] += [0.05, -0.2, 0.0]  # the whole body slid forward and sideways...
    heads[1, 1] += [0.0, -0.1, 0.3]  # ...and the left foot is lifted
    vertices = heads - [0.0, 0.0, 0.1]  # the lowest "vertex" is 0.1 below the lowest ankle
    moved_vertices, moved = stand_in_place(vertices, heads, labels, rest, yaw=np.zeros(2))
    np.testing.assert_allclose(moved[:, 2] - rest[2], 0.0, atol=1e-6)  # the right ankle is back where it stood
    np.testing.assert_allclose(moved_vertices[..., 2].min(axis=1), 0.0, atol=1e-12)  # standing on z = 0
    turned_vertices, turned = stand_in_place(vertices, heads, labels, rest, yaw=np.full(2, np.pi / 2))
    np.testing.assert_allclose(turned[..., :2], moved[..., :2] @ np.array([[0.0, 1.0], [-1.0, 0.0]]), atol=1e-12)
    np.testing.assert_allclose(turned[..., 2], moved[..., 2])

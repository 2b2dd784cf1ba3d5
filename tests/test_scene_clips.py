"""The scene clips' ground truth (examples/*_truth.npz), its reader, and the numpy parts of the clip generator:
camera conventions, the gait's planted feet and inverse kinematics, visibility."""

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest

from smpl_rig.skeleton import JOINT_NAMES
from tools.gait import SIDES, Plan, RestBody, Stand, WalkTo, centre_path, walk
from tools.scene import Camera, Keys, camera_angles, camera_poses, camera_rotation, project, world_to_camera
from tools.truth import load_truth
from tools.visibility import boxes_and_heights, visible_fraction
from tools.world import Box

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SCENE_TRUTHS = sorted(p for p in EXAMPLES.glob("*_truth.npz") if "joints_world" in np.load(p).files)
ANKLES = [JOINT_NAMES.index("L_Ankle"), JOINT_NAMES.index("R_Ankle")]


@pytest.fixture(scope="module", params=SCENE_TRUTHS, ids=[p.name for p in SCENE_TRUTHS])
def truth(request):
    return load_truth(request.param)


def test_there_are_scene_clips_with_their_videos():
    assert SCENE_TRUTHS, "no scene clip truth in examples/"
    for path in SCENE_TRUTHS:
        clip = load_truth(path)
        video = cv2.VideoCapture(str(path.with_name(path.name.replace("_truth.npz", ".mp4"))))
        assert video.isOpened()
        size = (int(video.get(cv2.CAP_PROP_FRAME_WIDTH)), int(video.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        assert size == (clip.width, clip.height)
        assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == len(clip.frame_ids)
        assert video.get(cv2.CAP_PROP_FPS) == pytest.approx(clip.fps)
        video.release()


def test_camera_poses_are_rotations_and_joints3d_follow_them(truth):
    r = truth.camera_rotation
    np.testing.assert_allclose(r.swapaxes(-1, -2) @ r, np.broadcast_to(np.eye(3), r.shape), atol=1e-9)
    np.testing.assert_allclose(np.linalg.det(r), 1.0, atol=1e-9)
    assert (truth.camera_position[:, 2] > 0.5).all()  # above the floor
    np.testing.assert_allclose(truth.joints3d, world_to_camera(truth.joints_world, r, truth.camera_position),
                               atol=1e-9)
    f = np.hypot(truth.width, truth.height)
    np.testing.assert_allclose(truth.intrinsics, [[f, 0, truth.width / 2], [0, f, truth.height / 2], [0, 0, 1]])


def test_people_are_upright_adults_standing_on_the_floor(truth):
    assert ((truth.stature > 1.55) & (truth.stature < 1.95)).all()
    head = truth.joints_world[..., JOINT_NAMES.index("Head"), 2]
    ankles = truth.joints_world[..., ANKLES, 2]
    assert (head > 1.2).all() and (ankles > 0.03).all() and (ankles < 0.6).all()
    up = truth.root_rotation_world[..., :, 1]  # the SMPL body's up axis in the world
    assert (up[..., 2] > np.cos(np.radians(15))).all()


def test_people_do_not_walk_into_each_other(truth):
    pelvis = truth.joints_world[:, :, JOINT_NAMES.index("Pelvis"), :2]
    gaps = np.linalg.norm(pelvis[:, :, None] - pelvis[:, None], axis=-1)
    apart = gaps[:, ~np.eye(len(truth.person_ids), dtype=bool)]
    assert apart.size == 0 or apart.min() > 0.6


def test_planted_feet_are_still_and_on_the_floor(truth):
    ankles = truth.joints_world[:, :, ANKLES]
    contacts = truth.contacts
    assert contacts.any(axis=0).all()  # every foot of every person is planted at some time
    planted = contacts[1:] & contacts[:-1]
    assert np.linalg.norm(np.diff(ankles, axis=0), axis=-1)[planted].max() < 1e-4  # metres per frame
    for p in range(len(truth.person_ids)):
        heights = ankles[:, p, :, 2][contacts[:, p]]
        assert np.ptp(heights) < 1e-3 and 0.04 < heights.mean() < 0.12  # the same ankle height whenever planted
        lifted = ankles[:, p, :, 2][~contacts[:, p]]
        assert (lifted > heights.min() - 1e-3).all()  # a foot never sinks below its planted height


def test_projected_joints_lie_inside_their_boxes(truth):
    pixels, boxes = truth.pixels(), truth.boxes[:, :, None]
    in_picture = ((pixels >= 0) & (pixels < [truth.width, truth.height])).all(axis=-1)
    considered = in_picture & ~np.isnan(boxes[..., 0]) & (truth.joints3d[..., 2] > 0.1)
    assert considered.sum() > 1000
    inside = ((pixels[..., 0] >= boxes[..., 0] - 0.5) & (pixels[..., 0] <= boxes[..., 2] + 0.5)
              & (pixels[..., 1] >= boxes[..., 1] - 0.5) & (pixels[..., 1] <= boxes[..., 3] + 0.5))
    assert inside[considered].all()


def test_boxes_agree_with_heights_and_visibility(truth):
    boxes, seen = truth.boxes, ~np.isnan(truth.boxes[..., 0])
    assert ((boxes[seen][:, [0, 1]] >= 0) & (boxes[seen][:, [2, 3]] <= [truth.width, truth.height])).all()
    box_height = boxes[..., 3] - boxes[..., 1]
    assert (box_height[seen] <= truth.height_px[seen] + 1e-6).all()
    whole = seen & (boxes[..., 1] > 0) & (boxes[..., 3] < truth.height)  # not cut by the top or bottom edge
    np.testing.assert_allclose(box_height[whole], truth.height_px[whole], atol=1e-6)
    assert ((truth.visible >= 0) & (truth.visible <= 1)).all()
    assert (truth.visible[~seen] == 0).all()
    assert (truth.visible[whole] > 0).any()


def test_reader_reads_the_single_person_example_truth():
    old = load_truth(EXAMPLES / "squat_march_truth.npz")
    with np.load(EXAMPLES / "squat_march_truth.npz") as raw:
        np.testing.assert_array_equal(old.person_joints3d(), raw["joints3d"])
        assert old.joints3d.shape == (len(raw["frame_ids"]), 1, 24, 3)
    assert not old.has_world and old.contacts is None and old.person_ids.tolist() == [1]
    assert old.text["joint_mapping"].startswith("Pelvis=")
    with pytest.raises(ValueError, match="no camera poses"):
        old.camera_angles_deg()


def test_reader_names_the_person_ids_it_has(tmp_path):
    clip = SCENE_TRUTHS[0]
    truth = load_truth(clip)
    np.testing.assert_array_equal(truth.joints3d[:, truth.index(int(truth.person_ids[-1]))], truth.joints3d[:, -1])
    with pytest.raises(KeyError, match="no person 99"):
        truth.index(99)
    np.savez(tmp_path / "bad_truth.npz", fps=30.0)
    with pytest.raises(ValueError, match="not a clip truth file"):
        load_truth(tmp_path / "bad_truth.npz")


def test_camera_angles_round_trip_and_conventions():
    yaw, pitch, roll = np.radians([[30.0, -120.0, 5.0], [25.0, 10.0, 60.0], [-4.0, 0.0, 2.0]])
    r = camera_rotation(yaw, pitch, roll)
    np.testing.assert_allclose(np.stack(camera_angles(r)), [yaw, pitch, roll], atol=1e-12)
    level = camera_rotation(0.0, 0.0, 0.0)
    np.testing.assert_allclose(level[:, 2], [0, 1, 0], atol=1e-12)  # looks along +y
    down = camera_rotation(0.0, np.radians(30.0), 0.0)
    assert down[2, 2] == pytest.approx(-0.5)  # the optical axis points 30 degrees below the horizon
    left = camera_rotation(np.radians(90.0), 0.0, 0.0)
    np.testing.assert_allclose(left[:, 2], [-1, 0, 0], atol=1e-12)  # yaw turns counter-clockwise seen from above
    rolled = camera_rotation(0.0, 0.0, np.radians(10.0))
    assert rolled[2, 0] < 0  # rolled clockwise: the camera's right side dips


def test_camera_follows_a_person_and_projects_them_to_the_centre():
    times = np.arange(60) / 30.0
    target = np.stack([np.linspace(-3, 3, 60), np.full(60, 8.0), np.full(60, 1.0)], axis=1)
    rotation, position = camera_poses(Camera(0.0, 0.0, 1.6, follow=1, follow_smoothing=0.0), times, 30.0,
                                      {1: target})
    k = np.array([[1000.0, 0, 640], [0, 1000.0, 360], [0, 0, 1]])
    centred = project(world_to_camera(target[:, None], rotation, position)[:, 0], k)
    np.testing.assert_allclose(centred, np.tile([640.0, 360.0], (60, 1)), atol=1e-6)
    keyed = Keys((0.0, 1.0), (10.0, 30.0))
    np.testing.assert_allclose(keyed(np.array([-1.0, 0.0, 0.5, 1.0, 2.0])), [10, 10, 20, 30, 30])


def stick_body() -> RestBody:
    """A rest body shaped like Anny's (x left, y back, z up, root between the hips) with only the bones the gait
    moves: legs 0.9 m long, feet 0.25 m."""
    heads = {"root": np.zeros(3)}
    for sign, side in ((1.0, "L"), (-1.0, "R")):
        heads |= {f"upperleg01.{side}": np.array([0.1 * sign, 0.0, 0.0]),
                  f"lowerleg01.{side}": np.array([0.11 * sign, -0.02, -0.45]),
                  f"foot.{side}": np.array([0.12 * sign, 0.0, -0.88]),
                  f"upperarm01.{side}": np.array([0.18 * sign, 0.0, 0.5]),
                  f"lowerarm01.{side}": np.array([0.35 * sign, 0.0, 0.28]),
                  f"wrist.{side}": np.array([0.48 * sign, -0.15, 0.15])}
        for toe in range(1, 6):
            heads[f"toe{toe}-1.{side}"] = np.array([0.12 * sign + 0.01 * (toe - 3), -0.15, -0.93])
    heel = {side: np.array([heads[f"foot.{side}"][0], 0.06, -0.95]) for side in SIDES}
    ball = {side: np.array([heads[f"foot.{side}"][0], -0.15, -0.95]) for side in SIDES}
    return RestBody(heads=heads, sole=-0.95, heel=heel, ball=ball, stature=1.75)


def leg_fk(rest: RestBody, rotations: dict[str, np.ndarray], root: np.ndarray, side: str) -> np.ndarray:
    """Ankle positions (N, 3) by forward kinematics of the local-ref chain root -> hip -> knee -> ankle."""
    h = {b: rest.heads[f"{b}.{side}"] for b in ("upperleg01", "lowerleg01", "foot")}
    thigh = rotations["root"] @ rotations[f"upperleg01.{side}"]
    shin = thigh @ rotations[f"lowerleg01.{side}"]
    hip = root + rotations["root"] @ h["upperleg01"]
    knee = hip + thigh @ (h["lowerleg01"] - h["upperleg01"])
    return knee + shin @ (h["foot"] - h["lowerleg01"])


def test_gait_plants_feet_and_walks_the_planned_path():
    rest = stick_body()
    plan = Plan(0.0, 0.0, 0.0, (Stand(0.5), WalkTo(0.0, 4.0, 1.3), Stand(1.5, facing=90.0), WalkTo(-2.0, 4.0, 1.0)))
    fps, frames = 30.0, 330
    motion = walk(rest, plan, fps, frames)
    ankles = np.stack([leg_fk(rest, motion.rotations, motion.root, side) for side in SIDES], axis=1)
    np.testing.assert_allclose(ankles, motion.ankles, atol=1e-9)  # the legs reach every ankle target exactly
    planted = motion.contacts[1:] & motion.contacts[:-1]
    assert planted.sum() > 200
    assert np.abs(np.diff(ankles, axis=0))[planted].max() < 1e-9
    np.testing.assert_allclose(ankles[..., 2][motion.contacts], 0.95 - 0.88)  # soles on z = 0
    assert (ankles[..., 2] > 0.95 - 0.88 - 1e-9).all()
    np.testing.assert_allclose(motion.root[0, :2], [0.0, 0.0], atol=0.03)
    np.testing.assert_allclose(motion.root[-1, :2], [-2.0, 4.0], atol=0.05)
    assert np.degrees(motion.heading[-1]) == pytest.approx(90.0, abs=1.0)  # walked towards -x
    reach = np.linalg.norm(motion.root[:, None] + np.einsum("nij,sj->nsi", motion.rotations["root"], np.stack(
        [rest.heads[f"upperleg01.{s}"] for s in SIDES])) - ankles, axis=-1)
    assert (reach < 0.9).all()  # knees never straighten past the leg's length
    steps = [t for _, t in motion.steps]
    assert 14 <= len(steps) <= 24 and (np.diff(sorted(steps)) > 0.2).all()


def test_a_standing_person_stays_planted():
    motion = walk(stick_body(), Plan(1.0, 2.0, 45.0, (Stand(3.0),)), 25.0, 75)
    assert motion.contacts.all() and not motion.steps
    assert np.ptp(motion.ankles, axis=0).max() < 1e-12


def test_plans_refuse_what_is_not_a_walk():
    with pytest.raises(ValueError, match="not a walk"):
        WalkTo(1.0, 2.0, speed=4.0)
    with pytest.raises(ValueError, match="positive number of seconds"):
        Stand(0.0)


def test_centre_path_turns_on_the_spot_and_rounds_corners():
    t = np.arange(-1.0, 12.0, 0.005)
    plan = Plan(0.0, 0.0, 0.0, (WalkTo(0.0, 3.0, stop=False), WalkTo(3.0, 3.0), Stand(2.0, facing=180.0)))
    xy, heading = centre_path(plan, t)
    np.testing.assert_allclose(xy[-1], [3.0, 3.0], atol=1e-6)
    assert np.degrees(heading[-1]) == pytest.approx(-180.0, abs=0.5)  # from -90 (walking +x) the short way round
    corner = np.linalg.norm(xy - [0.0, 3.0], axis=1).min()
    assert 0.02 < corner < 0.5  # the corner is cut, not walked to


def test_boxes_heights_and_visibility_of_simple_shapes():
    k = np.array([[1000.0, 0, 500], [0, 1000.0, 500], [0, 0, 1]])
    grid = np.stack(np.meshgrid(np.linspace(-0.2, 0.2, 41), np.linspace(-0.9, 0.9, 91)), -1).reshape(-1, 2)
    near = np.column_stack([grid, np.full(len(grid), 4.0)])  # a 0.4 x 1.8 m sheet 4 m ahead
    far = near + [0.4, 0.0, 4.0]  # twice as far, its left half behind the near one
    cam = np.stack([near, far])
    pixels = project(cam, k)
    boxes, heights = boxes_and_heights(pixels, cam[..., 2], 1000, 1000)
    np.testing.assert_allclose(heights, [450.0, 225.0])
    np.testing.assert_allclose(boxes[0], [450.0, 275.0, 550.0, 725.0])
    seen = visible_fraction(pixels, cam[..., 2], cam, np.zeros(3), [], 1000, 1000)
    assert seen[0] == 1.0 and 0.4 < seen[1] < 0.6
    wall = Box(np.array([0.0, 0.0, 2.0]), np.array([1.0, 1.0, 0.1]))  # a wall between the camera and both
    assert (visible_fraction(pixels, cam[..., 2], cam, np.zeros(3), [wall], 1000, 1000) == 0).all()
    offside = cam + [10.0, 0.0, 0.0]
    boxes, _ = boxes_and_heights(project(offside, k), offside[..., 2], 1000, 1000)
    assert np.isnan(boxes).all()


@pytest.mark.skipif(importlib.util.find_spec("anny") is None, reason="needs requirements-clip.txt (anny)")
def test_a_tiny_scene_renders_with_its_truth(tmp_path):
    from tools.make_scene_clip import make_clip
    from tools.scene import Person, Scene

    red = {"shirt": (0.9, 0.05, 0.05)}
    scene = Scene(name="tiny", description="two frames", camera=Camera(0.0, -5.0, 1.6, pitch=10.0),
                  people=(Person(1, Plan(0.0, 0.0, 180.0, (WalkTo(0.0, -1.0),)), stature=1.7, colours=red),),
                  width=160, height=96, fps=10.0, seconds=0.2)
    video, truth_path = make_clip(scene, tmp_path)
    truth = load_truth(truth_path)
    assert truth.joints3d.shape == (2, 1, 24, 3) and 60 < truth.height_px[0, 0] < 80
    capture = cv2.VideoCapture(str(video))
    ok, frame = capture.read()
    capture.release()
    assert ok and frame.shape == (96, 160, 3)
    u, v = truth.pixels()[0, 0, JOINT_NAMES.index("Spine2")].round().astype(int)
    blue, green, red_ = np.median(frame[v - 1:v + 2, u - 1:u + 2].reshape(-1, 3), axis=0)
    assert red_ > green + 40 and red_ > blue + 40  # the truth's chest lies on the red shirt


def test_crowd_clip_has_crossings_small_people_and_a_return():
    path = EXAMPLES / "crowd_crossing_truth.npz"
    if not path.is_file():
        pytest.skip("crowd_crossing is not rendered")
    from tools.check_truth import crossings

    truth = load_truth(path)
    assert (truth.width, truth.height) == (1280, 720) and 6 <= len(truth.person_ids) <= 8
    assert crossings(truth) >= 10
    seen = ~np.isnan(truth.boxes[..., 0])
    heights = truth.height_px[seen]
    assert heights.min() < 60 and heights.max() > 200

    def leaves_and_comes_back(in_picture: np.ndarray) -> bool:
        changes = np.flatnonzero(np.diff(in_picture.astype(int)))
        return bool(in_picture[0]) and len(changes) >= 2 and (changes[1] - changes[0]) / truth.fps > 2.0

    assert any(leaves_and_comes_back(seen[:, p]) for p in range(seen.shape[1]))

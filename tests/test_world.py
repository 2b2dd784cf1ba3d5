"""People in a world (numpy): perspective correction, floor, contacts, depth from the floor, foot lock, motion file."""

from dataclasses import replace

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter1d

from smpl_rig.camera import crop_cam_to_orig_cam
from smpl_rig.contacts import PLANTED_HEIGHT, planted_feet, sole_points
from smpl_rig.fk import forward_kinematics
from smpl_rig.floor import fit_floor
from smpl_rig.foot_lock import lock_feet, two_bone_ik
from smpl_rig.motion import Motion, World, load_motion, save_motion
from smpl_rig.perspective import correct_root_orientation, official_image_size, pixel_rays, ray_rotations
from smpl_rig.rotations import axis_angle_to_matrix
from smpl_rig.timeline import local_linear, smooth
from smpl_rig.world import place_in_world
from tests.walking import filmed, jump, pitched_camera, stand, walk

ANKLES = [7, 8]


def ankle_skate(joints: np.ndarray, planted: np.ndarray) -> float:
    """Mean ankle movement (mm per frame) between consecutive frames on which that foot is planted."""
    steps = np.linalg.norm(np.diff(joints[:, ANKLES], axis=0), axis=-1)
    return float(steps[planted[1:] & planted[:-1]].mean() * 1000)


def noisy_depth(share: float, seed: int = 0):
    """A depth error: `share` of Gaussian noise per frame, smoothed as the backend smooths (sigma 1.5 frames)."""
    rng = np.random.default_rng(seed)
    return lambda depth: 1.0 + gaussian_filter1d(rng.normal(scale=share, size=len(depth)), 1.5)


def world_joints(person, rest):
    return forward_kinematics(person.world_pose, rest, person.world_root - rest[0])[0]


def test_the_crop_view_turned_onto_the_viewing_ray_is_the_cameras_view():
    rays = pixel_rays(np.array([[10.0, 470.0], [320.0, 240.0]]), 640, 480)
    turns = ray_rotations(np.array([[10.0, 470.0], [320.0, 240.0]]), 640, 480)
    np.testing.assert_allclose(turns[:, :, 2], rays, atol=1e-12)  # the optical axis goes onto the ray
    np.testing.assert_allclose(turns[1], np.eye(3), atol=1e-12)  # the image centre needs no turn
    scene = walk((1.5, 4.0), 200)  # off-centre, so the views differ by up to ~20 degrees
    camera = pitched_camera(1.6, 10)
    seen = filmed(scene, camera)
    cropped = filmed(scene, camera, crop_view=True)
    corrected = correct_root_orientation(cropped.pose, cropped.bboxes, camera.width, camera.height)
    np.testing.assert_allclose(axis_angle_to_matrix(corrected[:, :3]), axis_angle_to_matrix(seen.pose[:, :3]),
                               atol=1e-9)
    np.testing.assert_allclose(corrected[:, 3:], cropped.pose[:, 3:])
    assert not np.allclose(cropped.pose[:, :3], seen.pose[:, :3], atol=0.1)


def test_official_image_size_follows_from_the_demos_camera_conversion():
    rng = np.random.default_rng(1)
    cam = rng.uniform(0.7, 1.2, size=(20, 3))
    boxes = np.column_stack([rng.uniform(100, 800, size=(20, 2)), np.full((20, 2), 300.0)])
    assert official_image_size(cam, crop_cam_to_orig_cam(cam, boxes, 1280, 720), boxes) == (1280, 720)
    assert official_image_size(cam[:0], np.zeros((0, 4)), boxes[:0]) == (0, 0)


def test_floor_is_found_through_jumps_and_stairs_and_leans_on_the_prior_where_contacts_lie_on_a_line():
    rng = np.random.default_rng(2)
    camera = pitched_camera(2.0, 25)
    up = camera.rotation.T @ [0.0, 0.0, 1.0]  # the world's up in the camera frame
    on_floor = rng.uniform([-3, 2, 0], [3, 9, 0], size=(300, 3))
    jumps = rng.uniform([-3, 2, 0.3], [3, 9, 0.6], size=(40, 3))
    stairs = rng.uniform([-3, 2, 0.5], [-2, 3, 0.5], size=(40, 3))
    world_points = np.concatenate([on_floor + rng.normal(scale=0.03, size=on_floor.shape), jumps, stairs])
    points = camera.to_camera(world_points[None])[0]
    floor = fit_floor(points, up + [0.05, 0.0, 0.0])  # the people's up direction is off by ~3 degrees
    assert floor.normal @ up > np.cos(np.radians(0.5))
    assert floor.height == pytest.approx(2.0, abs=0.02)
    assert floor.inliers[:300].mean() > 0.95 and not floor.inliers[300:].any()
    line = camera.to_camera(rng.uniform([-3, 5, 0], [3, 5, 0], size=(100, 3))[None])[0]  # one walk across the view
    prior = axis_angle_to_matrix(np.array([np.radians(2.0), 0.0, 0.0])) @ up
    assert fit_floor(line, prior).normal @ prior > np.cos(np.radians(0.3))
    assert fit_floor(points[:2], up) is None


def test_a_high_camera_finds_the_floor_of_far_people_whose_depths_are_off_by_a_few_per_cent():
    """Under a CCTV camera 7.5 m up, a depth off by 6 % moves a contact 0.45 m off the floor: they still count."""
    rng = np.random.default_rng(3)
    camera = pitched_camera(7.5, 22)
    up = camera.rotation.T @ [0.0, 0.0, 1.0]
    people = [rng.uniform([-8, 12, 0], [8, 35, 0], size=(80, 3)) for _ in range(5)]
    factors = [0.93, 0.97, 1.0, 1.03, 1.06]  # each person's scale error (stature), and 2 % noise per frame
    points = np.concatenate([camera.to_camera(p[None])[0] * (f * (1 + rng.normal(scale=0.02, size=(len(p), 1))))
                             for p, f in zip(people, factors, strict=True)])
    floor = fit_floor(points, up)
    assert floor.inliers.mean() > 0.9
    assert floor.normal @ up > np.cos(np.radians(2.0))
    assert floor.height == pytest.approx(7.5, rel=0.05)


def agreement(found: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """(recall, precision) of contact flags."""
    return float(found[truth].mean()), float(truth[found].mean())


def test_contacts_are_found_on_planted_feet():
    scene = walk((0.0, 0.0), 30)
    found = planted_feet(scene.joints(), 0.085, scene.frame_ids, scene.fps)
    recall, precision = agreement(found, scene.contacts)
    assert recall > 0.98 and precision > 0.8  # a foot also rests a frame or two longer as it eases into its swing
    assert not planted_feet(scene.joints() + [0.0, 0.0, 0.2], 0.085, scene.frame_ids, scene.fps).any()  # in the air
    np.testing.assert_allclose(sole_points(scene.joints(), np.array([0.0, 0.0, 1.0]), 0.085)[scene.contacts][:, 2],
                               0.0, atol=1e-9)


def test_two_bone_ik_reaches_targets_in_reach_and_points_at_the_others():
    rng = np.random.default_rng(3)
    hip = np.zeros((50, 3))
    knee = np.tile([0.0, 0.0, -0.45], (50, 1)) + rng.normal(scale=0.05, size=(50, 3)) * [1, 1, 0]
    ankle = knee + np.tile([0.0, 0.05, -0.42], (50, 1))
    direction = rng.normal(size=(50, 3)) + [0.0, 0.0, -2.0]
    target = direction / np.linalg.norm(direction, axis=-1, keepdims=True) * rng.uniform(0.2, 0.8, size=(50, 1))
    target[:5] = [[0.0, 0.0, -3.0]] * 5  # out of reach
    thigh, shin = two_bone_ik(hip, knee, ankle, target, np.tile([1.0, 0.0, 0.0], (50, 1)))
    new_knee = hip + np.einsum("nij,nj->ni", thigh, knee - hip)
    new_ankle = new_knee + np.einsum("nij,nj->ni", shin, ankle - knee)
    np.testing.assert_allclose(new_ankle[5:], target[5:], atol=1e-6)
    direction = (new_ankle[:5] - hip[:5]) / np.linalg.norm(new_ankle[:5] - hip[:5], axis=-1, keepdims=True)
    np.testing.assert_allclose(direction, [[0.0, 0.0, -1.0]] * 5, atol=1e-4)


def test_foot_lock_pins_planted_ankles_without_pops_and_keeps_the_feet_turned_as_they_were():
    rng = np.random.default_rng(4)
    scene = walk((0.0, 0.0), 60)
    noisy_pose = scene.pose + rng.normal(scale=0.02, size=scene.pose.shape) * (np.arange(72) >= 3)
    noisy_root = scene.root + np.cumsum(rng.normal(scale=0.004, size=scene.root.shape), axis=0)
    noisy = forward_kinematics(noisy_pose, scene.rest, noisy_root - scene.rest[0])
    pose, root = lock_feet(noisy_pose, noisy_root, scene.rest, scene.contacts, scene.frame_ids, scene.fps)
    joints, rotations = forward_kinematics(pose, scene.rest, root - scene.rest[0])
    assert ankle_skate(noisy[0], scene.contacts) > 5 * ankle_skate(joints, scene.contacts)
    assert ankle_skate(joints, scene.contacts) < 0.5
    steps = np.linalg.norm(np.diff(joints[:, ANKLES], axis=0), axis=-1)
    noisy_steps = np.linalg.norm(np.diff(noisy[0][:, ANKLES], axis=0), axis=-1)
    assert steps.max() < noisy_steps.max() + 0.01  # no pop where a contact starts or ends
    np.testing.assert_allclose(rotations[:, ANKLES], noisy[1][:, ANKLES], atol=1e-9)
    assert np.abs(root - noisy_root).max() < 0.05  # the root moves a little at most
    again = lock_feet(pose, root, scene.rest, scene.contacts, scene.frame_ids, scene.fps)
    np.testing.assert_allclose(forward_kinematics(again[0], scene.rest, again[1] - scene.rest[0])[0], joints,
                               atol=0.02)  # locking twice changes little


def motion_of(*people, camera, camera_rotations=None, fps=30.0):
    return Motion(fps=fps, width=camera.width, height=camera.height, estimator="test",
                  people={k + 1: person for k, person in enumerate(people)},
                  camera_frame_ids=None if camera_rotations is None else np.arange(len(camera_rotations)),
                  camera_rotations=camera_rotations)


def test_walk_towards_a_pitched_camera_stands_on_the_floor_and_keeps_its_length():
    camera = pitched_camera(1.6, 10)
    scene = walk((0.3, 7.0), 180)
    person = filmed(scene, camera, depth_error=noisy_depth(0.03))
    motion = place_in_world(motion_of(person, camera=camera), {1: scene.rest})
    world = motion.world
    assert motion.foot_lock and "Floor found" in motion.world_note
    assert world.camera_position[0, 2] == pytest.approx(1.6, abs=0.05)
    forward = world.camera_rotation[0] @ [0.0, 0.0, 1.0]
    assert np.degrees(np.arcsin(-forward[2])) == pytest.approx(10.0, abs=0.5)
    located = motion.people[1]
    length = np.linalg.norm(located.world_root[-1] - located.world_root[0])
    assert length == pytest.approx(np.linalg.norm(scene.root[-1] - scene.root[0]), rel=0.03)
    assert np.linalg.norm(located.world_root - scene.root, axis=1).mean() < 0.15
    recall, precision = agreement(located.contacts, scene.contacts)
    assert recall > 0.9 and precision > 0.75
    joints = world_joints(located, scene.rest)
    assert ankle_skate(joints, scene.contacts & located.contacts) < 1.0
    assert np.abs(np.median(joints[:, ANKLES, 2][scene.contacts]) - 0.085) < 0.02


def test_a_jump_leaves_the_floor_and_lands_where_it_took_off():
    camera = pitched_camera(1.6, 10)
    walker, jumper = walk((-1.0, 6.0), 80), jump((1.0, 5.0), 200, seconds=4.0)
    people = [filmed(s, camera, seed=k, depth_error=noisy_depth(0.01, seed=k)) for k, s in enumerate((walker, jumper))]
    motion = place_in_world(motion_of(*people, camera=camera), {1: walker.rest, 2: jumper.rest})
    located = motion.people[2]
    flight = ~jumper.contacts.any(axis=1)
    airborne = jumper.root[:, 2] - jumper.root[0, 2] > PLANTED_HEIGHT  # near take-off and landing a foot may count
    assert airborne.sum() >= 8 and not located.contacts[airborne].any()
    rise = located.world_root[:, 2] - np.median(located.world_root[~flight, 2])
    assert rise.max() == pytest.approx(0.25, abs=0.05)
    np.testing.assert_allclose(located.world_root[flight, 2] - jumper.root[flight, 2], 0.0, atol=0.1)


def test_two_people_at_different_depths_share_one_floor():
    camera = pitched_camera(4.0, 30)
    scenes = (walk((-1.0, 5.0), 90), walk((1.5, 9.0), 250, first_frame=10))
    people = [filmed(s, camera, seed=k) for k, s in enumerate(scenes)]
    motion = place_in_world(motion_of(*people, camera=camera), {1: scenes[0].rest, 2: scenes[1].rest})
    assert motion.world.camera_position[0, 2] == pytest.approx(4.0, abs=0.1)
    assert list(motion.world.frame_ids) == list(range(scenes[1].frame_ids[-1] + 1))
    for k, scene in enumerate(scenes):
        located = motion.people[k + 1]
        assert np.linalg.norm(located.world_root - scene.root, axis=1).mean() < 0.15


def test_under_a_panning_camera_somebody_standing_still_stays_still():
    scene = stand((0.5, 5.0), 170)
    yaw = np.linspace(-15.0, 15.0, len(scene.frame_ids))
    camera = pitched_camera(1.6, 10, yaw)
    to_first = np.swapaxes(camera.rotation[0], -1, -2) @ camera.rotation  # camera t -> camera 0
    person = filmed(scene, camera)
    motion = place_in_world(motion_of(person, camera=camera, camera_rotations=to_first), {1: scene.rest})
    root = motion.people[1].world_root  # 1 cm of jitter, and no drift
    assert np.linalg.norm(root[:10].mean(axis=0) - root[-10:].mean(axis=0)) < 0.02
    turned = motion.world.camera_rotation @ [0.0, 0.0, 1.0]
    yaw_found = np.degrees(np.arctan2(turned[:, 0], turned[:, 1]))
    np.testing.assert_allclose(yaw_found - yaw_found[0], yaw - yaw[0], atol=0.2)
    assert motion.people[1].contacts.all()


def test_without_visible_feet_the_people_stay_in_the_camera_frame_and_the_note_says_why():
    camera = pitched_camera(1.5, 0, image_height=480)
    scene = stand((0.0, 1.2), 180)  # so close that only the upper body is in view
    motion = place_in_world(motion_of(filmed(scene, camera), camera=camera), {1: scene.rest})
    assert motion.world is None and not motion.foot_lock
    assert "No floor" in motion.world_note and "camera's frame" in motion.world_note
    assert motion.people[1].world_pose is None


def test_people_walking_above_the_camera_stay_in_the_camera_frame_and_the_note_says_so():
    camera = pitched_camera(-1.0, -15)  # a camera below the floor the people walk on, looking up at them
    scene = walk((-1.5, 6.0), 90)
    motion = place_in_world(motion_of(filmed(scene, camera), camera=camera), {1: scene.rest})
    assert motion.world is None and not motion.foot_lock
    assert "above the camera" in motion.world_note and "camera's frame" in motion.world_note


def test_motion_file_keeps_the_world_and_reads_version_1(tmp_path):
    camera = pitched_camera(1.6, 10)
    scene = walk((0.3, 7.0), 180, seconds=2)
    rotations = np.broadcast_to(np.eye(3), (60, 3, 3))
    motion = place_in_world(motion_of(filmed(scene, camera), camera=camera, camera_rotations=rotations),
                            {1: scene.rest})
    loaded = load_motion(save_motion(motion, tmp_path / "motion.npz"))
    assert loaded.world_note == motion.world_note and loaded.foot_lock
    for name in ("frame_ids", "camera_rotation", "camera_position"):
        np.testing.assert_allclose(getattr(loaded.world, name), getattr(motion.world, name))
    np.testing.assert_allclose(loaded.camera_rotations, rotations)
    for name in ("contacts", "world_pose", "world_root", "rest_joints"):
        np.testing.assert_allclose(getattr(loaded.people[1], name), getattr(motion.people[1], name))
    with np.load(tmp_path / "motion.npz") as data:  # a version 1 file: the same without the new keys
        version_1 = {k: data[k] for k in data if not k.startswith(("world", "camera/", "foot_lock"))
                     and k.split("/")[-1] not in ("contacts", "world_pose", "world_root", "rest_joints")}
    np.savez(tmp_path / "old.npz", **{**version_1, "format_version": np.array(1)})
    old = load_motion(tmp_path / "old.npz")
    assert old.world is None and old.world_note == "" and old.camera_rotations is None
    assert old.people[1].world_pose is None and np.allclose(old.people[1].pose, motion.people[1].pose)
    with pytest.raises(ValueError, match="world camera poses"):
        World(frame_ids=np.arange(3), camera_rotation=np.zeros((2, 3, 3)), camera_position=np.zeros((3, 3)))


def test_world_scores_of_a_panned_clip_compare_in_the_first_cameras_frame(tmp_path):
    from bench.accuracy import format_world_table
    from bench.world_figures import draw_foot_heights, draw_top_view
    from bench.world_metrics import match_tracks, score_camera, score_person
    from tools.truth import Truth

    yaw = np.linspace(20.0, 40.0, 120)  # the first frame's camera is turned 20 degrees: the truth's frame is not ours
    camera = pitched_camera(3.0, 25, yaw)
    scenes = (walk((2.0, 5.0), 100), walk((4.0, 9.0), 230))
    people = [filmed(s, camera, seed=k) for k, s in enumerate(scenes)]
    to_first = np.swapaxes(camera.rotation[0], -1, -2) @ camera.rotation
    motion = place_in_world(motion_of(people[1], people[0], camera=camera, camera_rotations=to_first),
                            {1: scenes[1].rest, 2: scenes[0].rest})
    joints_world = np.stack([s.joints() for s in scenes], axis=1)
    truth = Truth(fps=30.0, width=640, height=480, intrinsics=np.array([[camera.focal, 0, 320], [0, camera.focal, 240],
                                                                       [0, 0, 1.0]]),
                  frame_ids=np.arange(120), person_ids=np.array([7, 8]), joint_names=(),
                  joints3d=np.stack([camera.to_camera(j) for j in np.swapaxes(joints_world, 0, 1)], axis=1),
                  camera_rotation=camera.rotation, camera_position=np.broadcast_to(camera.position, (120, 3)),
                  joints_world=joints_world, contacts=np.stack([s.contacts for s in scenes], axis=1),
                  visible=np.ones((120, 2)))
    matches = match_tracks(motion, truth)
    assert matches == {1: 1, 2: 0}
    for track, p in matches.items():
        score = score_person(motion.people[track], track, p, truth, motion)
        assert score.frames == 120 and score.root_error < 0.15 and score.distance_error < 0.05
        assert score.skate < 1.0 < score.skate_camera  # the pan moves every foot in the camera frame
        assert score.ankle_height_error < 0.02
    camera_score = score_camera(motion, truth)
    assert camera_score.height_error < 0.1 and camera_score.pitch_error < 1.0 and camera_score.yaw_error < 0.5
    people = [score_person(motion.people[track], track, p, truth, motion) for track, p in matches.items()]
    row = format_world_table([("pan.mp4", "test", "floor", people, camera_score)]).splitlines()[-1]
    assert row.startswith("| pan.mp4 | test | floor | 0.") and row.count("|") == 12
    for draw in (draw_top_view, draw_foot_heights):
        path = draw(motion, truth, matches, "synthetic", tmp_path / f"{draw.__name__}.png")
        assert path.stat().st_size > 10_000


def test_local_linear_follows_a_trend_to_the_ends_and_across_gaps():
    frames = np.arange(60)
    line = 0.1 * frames + 2.0
    weights = np.ones(60)
    weights[20:35] = 0.0  # nothing measured here: the line through the neighbours
    np.testing.assert_allclose(local_linear(line, weights, frames, sigma=5.0), line, atol=1e-9)
    assert np.abs(smooth(line, frames, 5.0)[:3] - line[:3]).min() > 0.1  # a moving average falls short at the ends
    lonely = np.zeros(60)
    lonely[3] = 1.0
    fitted = local_linear(line, lonely, frames, sigma=2.0)
    assert np.allclose(fitted[:11], line[3]) and np.isnan(fitted[12:]).all()


def seen_as_average(person, scene, height: float):
    """What an estimator that knows only an average body (1.7 m) reports for somebody `height` tall filmed in `scene`:
    the same pixels, the body and its distance scaled to 1.7 m; and that body's rest joints."""
    k = 1.7 / height
    sx, sy, tx, ty = person.orig_cam.T
    return replace(person, root=person.root * k, trans=(person.root - scene.rest[0]) * k, joints3d=person.joints3d * k,
                   orig_cam=np.column_stack([sx / k, sy / k, tx * k, ty * k])), scene.rest * k


def test_far_walkers_with_noisy_depth_and_legs_walk_smooth_paths_of_the_right_length():
    camera = pitched_camera(7.5, 22, width=1280, image_height=720)  # a CCTV camera over a square
    scenes = (walk((-3.0, 18.0), 60, seconds=6), walk((2.0, 28.0), 200, seconds=6))
    rng = np.random.default_rng(3)
    people, rests = [], {}
    for k, scene in enumerate(scenes):
        depth_error = noisy_depth(0.08, seed=k)
        blow_up = 1.0 + 1.5 * (np.abs(np.arange(len(scene.root)) - 90) < 3)  # metres off for a few frames
        person = filmed(scene, camera, seed=k, depth_error=lambda d, noise=depth_error, spike=blow_up: noise(d) * spike)
        legs = rng.normal(scale=0.12, size=person.joints3d[:, :12].shape)  # small people's legs miss the gait
        person.joints3d[:, :12] += legs
        people.append(person)
        rests[k + 1] = scene.rest
    motion = place_in_world(motion_of(*people, camera=camera), rests)
    assert motion.world.camera_position[0, 2] == pytest.approx(7.5, rel=0.05)
    for k, scene in enumerate(scenes):
        root = motion.people[k + 1].world_root
        assert np.linalg.norm(root - scene.root, axis=1).max() < 0.06 * np.linalg.norm(scene.root[:, :2], axis=1).min()
        length, true_length = (np.linalg.norm(np.diff(smooth(path[:, :2], scene.frame_ids, 7.5), axis=0), axis=1).sum()
                               for path in (root, scene.root))  # the paths smoothed over 0.25 s, as the bench does
        assert length == pytest.approx(true_length, rel=0.1)  # no zig-zag along the viewing ray


def test_a_tall_person_near_and_a_short_one_far_do_not_tilt_the_floor():
    camera = pitched_camera(7.5, 22, width=1280, image_height=720)
    tall, short = walk((-2.0, 12.0), 30, seconds=6, height=1.85), walk((2.0, 20.0), 20, seconds=6, height=1.6)
    seen = [seen_as_average(filmed(s, camera, seed=k), s, h) for k, (s, h) in enumerate(((tall, 1.85), (short, 1.6)))]
    motion = place_in_world(motion_of(*(p for p, _ in seen), camera=camera), {1: seen[0][1], 2: seen[1][1]})
    forward = motion.world.camera_rotation[0] @ [0.0, 0.0, 1.0]
    assert np.degrees(np.arcsin(-forward[2])) == pytest.approx(22.0, abs=2.0)  # 16 degrees were they as tall
    assert motion.world.camera_position[0, 2] == pytest.approx(7.5, rel=0.1)  # the mean stature is a guess

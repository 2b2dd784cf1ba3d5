"""How well a motion's world matches a clip's truth (numpy): root paths, planted feet, floor, camera.

The world step builds its frame from the first frame's camera: z up, y its view direction along the floor, origin on
the floor below it (`smpl_rig.world`). The same construction on the true camera gives the frame the truth is
compared in, so nothing is fitted to the truth: for a panning clip this aligns exactly the yaw at the first frame,
which no estimate can know.

Metrics per person (a track matched to a true person by where their pelvis is seen in the image):
- root error: mean distance (m) of the estimated pelvis from the true one in that frame, per frame both have (a
  monocular estimate knows distances only up to the body size its estimator assumes: a person 5 % taller than that
  is placed 5 % too near, and the camera 5 % too low);
- walking distance error: the estimated path's length against the true one's (both smoothed over 0.25 s), a share;
- foot skate: mean movement (mm per frame) of an ankle between consecutive frames on which the truth has it planted;
  `skate_camera` is the same in the camera frame without the world step (what a v0.1 import shows);
- ankle height error: median |estimated - true| ankle height above the floor (m) on truly planted frames.
Per clip: camera height error (m), pitch error (degrees) at the first frame, and pan yaw error (degrees): the largest
difference over frames between the estimated and the true turn since the first frame.
"""

from dataclasses import dataclass

import numpy as np

from smpl_rig.fk import forward_kinematics
from smpl_rig.motion import Motion, Person
from smpl_rig.rest_skeleton import person_rest_joints
from smpl_rig.timeline import smooth
from tools.truth import Truth

ANKLES = [7, 8]
PATH_SMOOTHING_SECONDS = 0.25
SEEN = 0.3  # a true person counts as present on frames where this share of the body is in view


def present(truth: Truth) -> np.ndarray:
    """(F, P) bool: the true person is in the clip and enough of them is seen."""
    return np.nan_to_num(truth.visible) > SEEN


@dataclass
class PersonScore:
    track: int
    truth: int  # index of the true person
    frames: int
    root_error: float = float("nan")
    distance_error: float = float("nan")
    skate: float = float("nan")
    skate_camera: float = float("nan")
    ankle_height_error: float = float("nan")


@dataclass
class CameraScore:
    height_error: float = float("nan")
    pitch_error: float = float("nan")
    yaw_error: float = float("nan")


def comparison_frame(camera_rotation: np.ndarray, camera_position: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rotation (3, 3), origin (3,)) of the frame the world step would build from this first camera."""
    forward = camera_rotation @ [0.0, 0.0, 1.0]
    y = np.array([forward[0], forward[1], 0.0])
    y = y / np.linalg.norm(y) if np.linalg.norm(y) > 1e-6 else -camera_rotation[:, 1] * [1, 1, 0]
    y /= np.linalg.norm(y)
    z = np.array([0.0, 0.0, 1.0])
    return np.stack([np.cross(y, z), y, z]), np.array([camera_position[0], camera_position[1], 0.0])


def match_tracks(motion: Motion, truth: Truth) -> dict[int, int]:
    """Track id -> true person: the one whose pelvis is nearest the tracked box centre in the image (median over the
    frames both have), if nearer than half a box. A person the tracker lost and found again has several tracks."""
    with np.errstate(divide="ignore", invalid="ignore"):
        pelvis = truth.pixels()[:, :, 0]  # (F, P, 2)
    seen = present(truth)
    matches = {}
    for track, person in motion.people.items():
        rows = person.frame_ids < len(pelvis)
        frames = person.frame_ids[rows]
        distance = np.linalg.norm(pelvis[frames] - person.bboxes[rows, None, :2], axis=-1)  # (N, P)
        distance = np.where(seen[frames], distance, np.nan)
        with np.errstate(all="ignore"):
            median = np.nanmedian(distance, axis=0) / np.median(person.bboxes[rows, 3])
        if np.isfinite(median).any() and np.nanmin(median) < 0.5:
            matches[track] = int(np.nanargmin(median))
    return matches


def score_person(person: Person, track: int, p: int, truth: Truth, motion: Motion) -> PersonScore:
    """Compare one track with true person p on the frames both have."""
    seen = present(truth)
    rows = person.frame_ids < len(seen)
    rows[rows] = seen[person.frame_ids[rows], p]
    frames = person.frame_ids[rows]
    score = PersonScore(track=track, truth=p, frames=int(rows.sum()))
    if not rows.any():
        return score
    planted = truth.contacts[frames, p]
    rest = person.rest_joints if person.rest_joints is not None else person_rest_joints(person, None)
    camera_joints = forward_kinematics(person.pose[rows], rest, person.transl_for(rest[0])[rows])[0]
    score.skate_camera = _skate(camera_joints[:, ANKLES], planted, frames)
    if motion.world is None or person.world_pose is None:
        return score
    rotation, origin = comparison_frame(truth.camera_rotation[motion.world.frame_ids[0]],
                                        truth.camera_position[motion.world.frame_ids[0]])
    true_joints = (truth.joints_world[frames, p] - origin) @ rotation.T
    joints = forward_kinematics(person.world_pose[rows], rest, person.world_root[rows] - rest[0])[0]
    score.root_error = float(np.linalg.norm(joints[:, 0] - true_joints[:, 0], axis=-1).mean())
    true_length, length = (_path_length(j[:, 0, :2], frames, truth.fps) for j in (true_joints, joints))
    score.distance_error = float(abs(length - true_length) / true_length) if true_length > 0.5 else float("nan")
    score.skate = _skate(joints[:, ANKLES], planted, frames)
    if planted.any():
        score.ankle_height_error = float(np.median(np.abs(joints[:, ANKLES, 2] - true_joints[:, ANKLES, 2])[planted]))
    return score


def score_camera(motion: Motion, truth: Truth) -> CameraScore:
    """Camera height, first-frame pitch and the pan's yaw against the truth; NaN without a world."""
    if motion.world is None:
        return CameraScore()
    frames = motion.world.frame_ids
    true_rotation, true_position = truth.camera_rotation[frames], truth.camera_position[frames]
    pitch = [np.degrees(np.arcsin(-(r[0] @ [0.0, 0.0, 1.0])[2])) for r in (motion.world.camera_rotation,
                                                                           true_rotation)]
    turns = [_yaw(r) - _yaw(r[:1]) for r in (motion.world.camera_rotation, true_rotation)]
    difference = (turns[0] - turns[1] + 180.0) % 360.0 - 180.0
    return CameraScore(height_error=float(abs(motion.world.camera_position[0, 2] - true_position[0, 2])),
                       pitch_error=float(abs(pitch[0] - pitch[1])), yaw_error=float(np.abs(difference).max()))


def _yaw(rotations: np.ndarray) -> np.ndarray:
    """Heading (degrees) of the cameras' view directions along the floor."""
    forward = rotations @ [0.0, 0.0, 1.0]
    return np.degrees(np.unwrap(np.arctan2(forward[:, 0], forward[:, 1])))


def _skate(ankles: np.ndarray, planted: np.ndarray, frames: np.ndarray) -> float:
    """Mean ankle movement (mm per frame) between consecutive video frames on which that foot is planted."""
    consecutive = (np.diff(frames) == 1)[:, None] & planted[1:] & planted[:-1]
    if not consecutive.any():
        return float("nan")
    steps = np.linalg.norm(np.diff(ankles, axis=0), axis=-1)
    return float(steps[consecutive].mean() * 1000)


def _path_length(points: np.ndarray, frames: np.ndarray, fps: float) -> float:
    smoothed = smooth(points, frames, PATH_SMOOTHING_SECONDS * fps)
    steps = np.linalg.norm(np.diff(smoothed, axis=0), axis=-1)
    return float(steps[np.diff(frames) == 1].sum())

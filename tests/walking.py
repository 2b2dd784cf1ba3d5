"""Synthetic people walking with truly planted feet, filmed by a known camera (for the world and foot-lock tests).

The skeleton is the default one; the pelvis glides at walking speed with a little bounce, each ankle is either on
its footprint (stance, 60 % of a stride) or swings to the next one on an arc, and two-bone IK bends the legs to reach.
The camera follows VIBE's axes (x right, y down, z forward) and the project's pinhole, f = image diagonal.
"""

from dataclasses import dataclass

import numpy as np

from smpl_rig.contacts import BALL_HEIGHT, ankle_height
from smpl_rig.default_skeleton import default_rest_joints
from smpl_rig.fk import forward_kinematics
from smpl_rig.foot_lock import two_bone_ik
from smpl_rig.motion import Person
from smpl_rig.rotations import axis_angle_to_matrix, matrix_to_axis_angle

STEP_LENGTH = 0.45  # metres
STEP_SECONDS = 0.55
STANCE = 0.45  # share of a stride a foot is planted
LEGS = ((1, 4, 7), (2, 5, 8))


@dataclass
class Walk:
    """A walk in the world frame (floor z = 0, z up)."""

    rest: np.ndarray  # (24, 3)
    pose: np.ndarray  # (N, 72), root orientation in the world
    root: np.ndarray  # (N, 3) pelvis
    contacts: np.ndarray  # (N, 2) bool
    frame_ids: np.ndarray  # (N,)
    fps: float

    def joints(self) -> np.ndarray:
        return forward_kinematics(self.pose, self.rest, self.root - self.rest[0])[0]


def stand(position, heading_degrees: float, seconds: float = 3.0, fps: float = 30.0, height: float = 1.7) -> Walk:
    """Somebody standing still, both feet flat on the floor, facing `heading_degrees`."""
    return walk(position, heading_degrees, seconds, fps, height=height, speed=0.0)


def jump(position, heading_degrees: float, height: float = 0.25, flight_seconds: float = 0.45,
         seconds: float = 3.0, fps: float = 30.0) -> Walk:
    """Standing, one jump straight up in the middle (the whole body rises on a parabola), standing again."""
    person = stand(position, heading_degrees, seconds, fps)
    t = (person.frame_ids - person.frame_ids[0]) / fps - (seconds - flight_seconds) / 2
    flight = (t > 0) & (t < flight_seconds)
    rise = np.where(flight, 4 * height * t * (flight_seconds - t) / flight_seconds**2, 0.0)
    person.root = person.root + rise[:, None] * [0.0, 0.0, 1.0]
    person.contacts &= ~flight[:, None]
    return person


def walk(start, heading_degrees: float, seconds: float = 4.0, fps: float = 30.0, first_frame: int = 0,
         height: float = 1.7, speed: float = STEP_LENGTH / STEP_SECONDS) -> Walk:
    """A straight walk from `start` (x, y on the floor) towards `heading_degrees` (0: +y, 90: +x); speed 0 stands."""
    rest = default_rest_joints(height)
    n = int(round(seconds * fps))
    t = np.arange(n) / fps
    heading = np.radians(heading_degrees)
    forward = np.array([np.sin(heading), np.cos(heading), 0.0])
    up = np.array([0.0, 0.0, 1.0])
    left = np.cross(up, forward)
    facing = np.stack([left, up, forward], axis=-1)  # canonical (left, up, forward) -> world
    ankle_z = ankle_height(rest)
    leg = np.linalg.norm(rest[4] - rest[1]) + np.linalg.norm(rest[7] - rest[4])
    pelvis_z = ankle_z + (rest[0, 1] - rest[1, 1]) + 0.99 * leg
    start = np.array([start[0], start[1], 0.0])
    bounce = -0.03 * (0.5 + 0.5 * np.cos(2 * np.pi * t / STEP_SECONDS)) * (speed > 0)  # lowest at double support
    root = start + np.outer(speed * t, forward) + np.outer(pelvis_z + bounce, up)
    stride = 2 * STEP_SECONDS
    ankles, contacts = np.empty((n, 2, 3)), np.zeros((n, 2), dtype=bool)
    for foot, side in enumerate((1.0, -1.0)):
        phase = (t / stride + 0.5 * foot) % 1.0
        cycle = np.floor(t / stride + 0.5 * foot)
        # the footprint of this stride's stance: under the hip at mid-stance
        mid_stance = (cycle + STANCE / 2 - 0.5 * foot) * stride
        print_at = start + np.outer(speed * mid_stance, forward) + side * 0.09 * left * height / 1.7 + ankle_z * up
        next_print = print_at + forward * speed * stride
        swing = np.clip((phase - STANCE) / (1 - STANCE), 0.0, 1.0)
        ease = swing * swing * (3 - 2 * swing)
        ankles[:, foot] = np.where((phase < STANCE)[:, None], print_at,
                                   print_at + ease[:, None] * (next_print - print_at)
                                   + (0.08 * np.sin(np.pi * swing))[:, None] * up)
        contacts[:, foot] = (phase < STANCE) | (speed == 0)
        if speed == 0:
            ankles[:, foot] = print_at
    pose = np.zeros((n, 24, 3))
    pose[:, 0] = matrix_to_axis_angle(np.broadcast_to(facing, (n, 3, 3)))
    local = axis_angle_to_matrix(pose)
    positions, world = forward_kinematics(local, rest, root - rest[0])
    for foot, (hip, knee, ankle) in enumerate(LEGS):
        thigh_turn, shin_turn = two_bone_ik(positions[:, hip], positions[:, knee], positions[:, ankle],
                                            ankles[:, foot], -world[:, hip, :, 0])
        thigh, shin = thigh_turn @ world[:, hip], shin_turn @ world[:, knee]
        local[:, hip] = np.swapaxes(world[:, 0], -1, -2) @ thigh
        local[:, knee] = np.swapaxes(thigh, -1, -2) @ shin
        local[:, ankle] = np.swapaxes(shin, -1, -2) @ world[:, ankle]
    return Walk(rest=rest, pose=matrix_to_axis_angle(local).reshape(n, 72), root=root, contacts=contacts,
                frame_ids=np.arange(first_frame, first_frame + n), fps=fps)


@dataclass
class Camera:
    rotation: np.ndarray  # (3, 3) world from camera, or (N, 3, 3) one per frame
    position: np.ndarray  # (3,)
    width: int = 640
    height: int = 480

    @property
    def focal(self) -> float:
        return float(np.hypot(self.width, self.height))

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """World points (N, K, 3) in each frame's camera frame."""
        return np.einsum("...ji,...kj->...ki", self.rotation, np.asarray(points) - self.position)

    def project(self, points_camera: np.ndarray) -> np.ndarray:
        return self.focal * points_camera[..., :2] / points_camera[..., 2:] + [self.width / 2, self.height / 2]


def pitched_camera(height: float, pitch_degrees: float, yaw_degrees=0.0, width: int = 640,
                   image_height: int = 480) -> Camera:
    """A camera `height` metres above the origin looking `pitch_degrees` down, turned `yaw_degrees` (a number, or
    one per frame for a panning camera) from +y towards +x."""
    pitch, yaw = np.radians(pitch_degrees), np.radians(np.asarray(yaw_degrees, dtype=np.float64))
    forward = np.stack([np.sin(yaw) * np.cos(pitch), np.cos(yaw) * np.cos(pitch), np.full(yaw.shape, -np.sin(pitch))],
                       axis=-1)
    right = np.stack([np.cos(yaw), -np.sin(yaw), np.zeros(yaw.shape)], axis=-1)
    down = np.cross(forward, right)
    return Camera(rotation=np.stack([right, down, forward], axis=-1), position=np.array([0.0, 0.0, height]),
                  width=width, height=image_height)


def image_consistent(joints: np.ndarray, camera: "Camera") -> tuple[np.ndarray, np.ndarray]:
    """What an estimator that fits the image exactly reports: joints relative to the pelvis (N, J, 3) whose x, y
    through its weak-perspective camera (N, 4) (sx, sy, tx, ty; scale of the pelvis's depth) land on the true pixels
    of the camera-frame joints (N, J, 3); depths relative to the pelvis as they are."""
    pixels = camera.project(joints)
    scale = camera.focal / joints[:, 0, 2]  # pixels per metre at the pelvis
    relative = joints - joints[:, :1]
    relative[..., :2] = (pixels - camera.project(joints[:, :1])) / scale[:, None, None]
    orig_cam = np.column_stack([2 * scale / camera.width, 2 * scale / camera.height, joints[:, 0, 0], joints[:, 0, 1]])
    return relative, orig_cam


def outline(joints: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """(N, 28, 3) what a detector's box is drawn around: the world joints (N, 24, 3, z up), the soles below the
    ankles and the balls of the feet, and the top of the head above the head joint."""
    soles = np.concatenate([joints[:, [7, 8]] - [0.0, 0.0, ankle_height(rest)],
                            joints[:, [10, 11]] - [0.0, 0.0, BALL_HEIGHT]], axis=1)
    crown = joints[:, [15]] + [0.0, 0.0, 0.12]
    return np.concatenate([joints, soles, crown], axis=1)


def filmed(walk: Walk, camera: Camera, depth_error=None, seed: int = 0, crop_view: bool = False) -> Person:
    """The person an estimator would report: camera-frame pose and pelvis, boxes; `depth_error(depth) -> factor`
    scales each frame's distance along the pelvis ray (the estimators' depth errors), plus 1 cm pelvis jitter; the
    joints and weak-perspective camera `orig_cam` put the joints where the image has them (`image_consistent`).
    With `crop_view`, the root orientation is as seen in the crop (what the estimators output before correction)."""
    rng = np.random.default_rng(seed)
    joints = camera.to_camera(walk.joints())
    relative, orig_cam = image_consistent(joints, camera)
    root = joints[:, 0]
    if depth_error is not None:
        root = root * np.asarray(depth_error(root[:, 2]))[:, None]
    root = root + rng.normal(scale=0.01, size=root.shape)
    rotation = np.swapaxes(camera.rotation, -1, -2) @ axis_angle_to_matrix(walk.pose[:, :3])
    pixels = camera.project(camera.to_camera(outline(walk.joints(), walk.rest)))
    centre = (pixels.min(axis=1) + pixels.max(axis=1)) / 2
    side = np.max(pixels.max(axis=1) - pixels.min(axis=1), axis=1)
    bboxes = np.column_stack([centre, side, side])  # the tracker's boxes: square, around the person's outline
    if crop_view:
        from smpl_rig.perspective import ray_rotations

        rotation = np.swapaxes(ray_rotations(centre, camera.width, camera.height), -1, -2) @ rotation
    pose = walk.pose.copy()
    pose[:, :3] = matrix_to_axis_angle(rotation)
    n = len(pose)
    return Person(pose=pose, betas=np.zeros((n, 10)), trans=root - walk.rest[0], cam=np.tile([1.0, 0.0, 0.0], (n, 1)),
                  orig_cam=orig_cam, bboxes=bboxes, frame_ids=walk.frame_ids, joints3d=relative, root=root)

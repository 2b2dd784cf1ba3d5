"""What a scene clip is made of (numpy, no bpy): people with phenotypes, colours and plans, a camera with a pose per
frame, props in the square, image size, fps and length; and the camera conventions of the truth files.

World: z up, floor z = 0, metres. Camera pose: `rotation` (3, 3) world-from-camera whose columns are the camera's
axes in VIBE's convention (x right, y down, z forward) and `position` (3,), so a world point X is at
rotation.T @ (X - position) in the camera frame. Angles (degrees): yaw is where the camera looks, counter-clockwise
from +y about +z (yaw 0 looks along +y, as the example clip's camera); pitch is how far it looks down from the
horizon; roll turns it clockwise about its optical axis as seen from behind (the picture's horizon then slopes down
to the left).
"""

from dataclasses import dataclass, field

import numpy as np

from tools.gait import Plan, gaussian_smooth
from tools.world import Prop

CAMERA_LEVEL = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])  # yaw = pitch = roll = 0
SKIN = ((0.87, 0.67, 0.54), (0.80, 0.58, 0.45), (0.62, 0.43, 0.31), (0.45, 0.30, 0.21), (0.92, 0.76, 0.64))
SHIRTS = ((0.70, 0.16, 0.12), (0.15, 0.35, 0.65), (0.90, 0.80, 0.20), (0.20, 0.55, 0.30), (0.95, 0.95, 0.92),
          (0.55, 0.25, 0.60), (0.95, 0.50, 0.15), (0.10, 0.10, 0.12), (0.40, 0.75, 0.80), (0.85, 0.45, 0.55))
TROUSERS = ((0.15, 0.18, 0.30), (0.25, 0.25, 0.27), (0.30, 0.35, 0.22), (0.08, 0.08, 0.10), (0.35, 0.45, 0.65),
            (0.20, 0.25, 0.45))
SHOES = ((0.08, 0.08, 0.08), (0.25, 0.25, 0.27), (0.30, 0.17, 0.10), (0.12, 0.15, 0.30))
HAIR = ((0.16, 0.10, 0.06), (0.05, 0.05, 0.05), (0.55, 0.40, 0.20), (0.60, 0.58, 0.55), (0.35, 0.18, 0.08))


@dataclass(frozen=True)
class Keys:
    """A value keyed at times (seconds), eased in and out between keys (smoothstep), held before and after."""

    times: tuple[float, ...]
    values: tuple[float, ...]

    def __call__(self, t: np.ndarray) -> np.ndarray:
        times, values = np.asarray(self.times, float), np.asarray(self.values, float)
        i = np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 1)
        j = np.minimum(i + 1, len(times) - 1)
        span = np.where(j > i, times[j] - times[np.minimum(i, j)], 1.0)
        u = np.clip((t - times[i]) / span, 0.0, 1.0)
        return values[i] + u * u * (3.0 - 2.0 * u) * (values[j] - values[i])


def _value(value: float | Keys, t: np.ndarray) -> np.ndarray:
    return value(t) if isinstance(value, Keys) else np.full(len(t), float(value))


@dataclass(frozen=True)
class Camera:
    """A camera on a tripod at (x, y, z) metres. Angles in degrees, fixed or keyed over time. With `follow` (a
    person id) it pans and tilts to keep that person's pelvis at the centre of the picture, smoothly (Gaussian,
    `follow_smoothing` seconds), and yaw/pitch are offsets from that aim."""

    x: float
    y: float
    z: float
    yaw: float | Keys = 0.0
    pitch: float | Keys = 0.0
    roll: float | Keys = 0.0
    follow: int | None = None
    follow_smoothing: float = 0.4


@dataclass(frozen=True)
class Person:
    """Someone in the scene: an id (1..P), the plan they follow, and who they are. `colours` maps the garments of
    tools.anny_body.GARMENTS to RGB; missing ones are picked from the palettes above by id. `gait_phase` (seconds)
    shifts their step clock."""

    id: int
    plan: Plan
    stature: float = 1.75
    gender: float = 0.0  # Anny's: 0 male, 1 female
    weight: float = 0.5
    muscle: float = 0.5
    age: float = 0.5
    colours: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    gait_phase: float = 0.0

    def garment_colours(self) -> dict[str, tuple[float, float, float]]:
        rng = np.random.default_rng(self.id * 7919)
        chosen = {name: palette[rng.integers(len(palette))]
                  for name, palette in (("skin", SKIN), ("shirt", SHIRTS), ("trousers", TROUSERS), ("shoes", SHOES),
                                        ("hair", HAIR))}
        return {**chosen, "eyes": (0.05, 0.04, 0.04), **self.colours}


@dataclass(frozen=True)
class Scene:
    """A clip: what it shows, its format, the camera, the people and the props of the square."""

    name: str
    description: str
    camera: Camera
    people: tuple[Person, ...]
    props: tuple[Prop, ...] = ()
    width: int = 1280
    height: int = 720
    fps: float = 30.0
    seconds: float = 8.0
    seed: int = 0  # of the square's paving and facades
    half_size: float = 22.0  # metres from the square's centre to its facades

    @property
    def num_frames(self) -> int:
        return int(round(self.seconds * self.fps))

    def intrinsics(self) -> np.ndarray:
        return intrinsics(self.width, self.height)


def intrinsics(width: int, height: int) -> np.ndarray:
    """Pinhole matrix with the focal length equal to the image diagonal, principal point at the centre."""
    f = float(np.hypot(width, height))
    return np.array([[f, 0.0, width / 2.0], [0.0, f, height / 2.0], [0.0, 0.0, 1.0]])


def _axis_rotation(axis: int, angle: np.ndarray) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    out = np.zeros(np.shape(angle) + (3, 3))
    i, j = [k for k in range(3) if k != axis]
    out[..., axis, axis] = 1.0
    out[..., i, i], out[..., i, j], out[..., j, i], out[..., j, j] = c, -s, s, c
    return out


def camera_rotation(yaw: np.ndarray, pitch: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """World-from-camera rotations (..., 3, 3) for yaw, pitch (down) and roll in radians (conventions above)."""
    return (_axis_rotation(2, np.asarray(yaw, float)) @ CAMERA_LEVEL @ _axis_rotation(0, -np.asarray(pitch, float))
            @ _axis_rotation(2, np.asarray(roll, float)))


def camera_angles(rotation: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Yaw, pitch (down) and roll in radians of world-from-camera rotations (..., 3, 3); inverse of
    `camera_rotation` for pitch within +-90 degrees."""
    rotation = np.asarray(rotation, float)
    forward = rotation[..., :, 2]
    yaw = np.arctan2(-forward[..., 0], forward[..., 1])
    pitch = np.arcsin(np.clip(-forward[..., 2], -1.0, 1.0))
    unrolled = (_axis_rotation(2, yaw) @ CAMERA_LEVEL @ _axis_rotation(0, -pitch)).swapaxes(-1, -2) @ rotation
    return yaw, pitch, np.arctan2(unrolled[..., 1, 0], unrolled[..., 0, 0])


def camera_poses(camera: Camera, times: np.ndarray, fps: float,
                 targets: dict[int, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: rotation (F, 3, 3) and position (F, 3). `targets` holds each person's pelvis (F, 3) for
    `follow`."""
    position = np.tile([camera.x, camera.y, camera.z], (len(times), 1)).astype(float)
    yaw, pitch = np.radians(_value(camera.yaw, times)), np.radians(_value(camera.pitch, times))
    if camera.follow is not None:
        if camera.follow not in targets:
            raise ValueError(f"the camera follows person {camera.follow}, who is not in the scene")
        to = targets[camera.follow] - position
        aim_yaw = np.unwrap(np.arctan2(-to[:, 0], to[:, 1]))
        aim_pitch = np.arctan2(-to[:, 2], np.linalg.norm(to[:, :2], axis=1))
        aim = gaussian_smooth(np.stack([aim_yaw, aim_pitch], axis=1), camera.follow_smoothing * fps)
        yaw, pitch = yaw + aim[:, 0], pitch + aim[:, 1]
    return camera_rotation(yaw, pitch, np.radians(_value(camera.roll, times))), position


def world_to_camera(points: np.ndarray, rotation: np.ndarray, position: np.ndarray) -> np.ndarray:
    """World points (F, ..., 3) into each frame's camera frame, for poses (F, 3, 3) and (F, 3)."""
    points = np.asarray(points, float)
    extra = points.ndim - 2
    centred = points - position.reshape(position.shape[:1] + (1,) * extra + (3,))
    return np.einsum("f...j,fjk->f...k", centred, rotation)


def project(points: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Pinhole projection of camera-frame points (..., 3) to pixels (..., 2)."""
    uvw = np.asarray(points) @ np.asarray(k).T
    return uvw[..., :2] / uvw[..., 2:3]

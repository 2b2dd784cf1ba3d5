"""MediaPipe BlazePose runner: square RGB crops of one tracked person -> 33 landmarks per frame.

mediapipe 0.10.14's wheel carries the pose detector and the full landmark model (`model_complexity=1`); the lite and
heavy models would be downloaded at run time, so they are never asked for. One `Pose` per tracklet, in tracking mode,
so the person is followed from frame to frame as the official demo's tracker does.

MediaPipe's world landmarks are metres around the hip midpoint on the camera's axes: x right, y down, z away from the
camera (smaller z is nearer). That is VIBE's camera frame, so they are used as they are; `tests/test_default_estimator`
checks this on a real photo.
"""

from dataclasses import dataclass, fields

import numpy as np
from mediapipe.python.solutions import pose as mp_pose

from .landmark_rig import NUM_LANDMARKS


@dataclass(frozen=True)
class Landmarks:
    """Per frame: world landmarks, image landmarks in crop coordinates, visibility, and whether a pose was found."""

    world: np.ndarray       # (N, 33, 3) metres, camera axes, origin at the hip midpoint
    image: np.ndarray       # (N, 33, 2) crop coordinates in [-1, 1], x right, y down (may lie outside the crop)
    visibility: np.ndarray  # (N, 33) in [0, 1]
    found: np.ndarray       # (N,) bool


def detect_landmarks(crops: np.ndarray) -> Landmarks:
    """Run BlazePose over uint8 RGB crops (N, S, S, 3) of one person, in frame order."""
    n = len(crops)
    world = np.zeros((n, NUM_LANDMARKS, 3))
    image = np.zeros((n, NUM_LANDMARKS, 2))
    visibility = np.zeros((n, NUM_LANDMARKS))
    found = np.zeros(n, dtype=bool)
    with mp_pose.Pose(static_image_mode=False, model_complexity=1) as pose:
        for i, crop in enumerate(crops):
            result = pose.process(np.ascontiguousarray(crop))
            if result.pose_world_landmarks is not None and result.pose_landmarks is not None:
                world[i], image[i], visibility[i] = landmark_arrays(result.pose_world_landmarks, result.pose_landmarks)
                found[i] = True
    return Landmarks(world=world, image=image, visibility=visibility, found=found)


def landmark_arrays(world_list, image_list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MediaPipe `LandmarkList` (world) and `NormalizedLandmarkList` (image, 0..1 of the crop) -> world (33, 3),
    image (33, 2) in [-1, 1] crop coordinates, and visibility (33,)."""
    world = np.array([[p.x, p.y, p.z] for p in world_list.landmark], dtype=np.float64)
    image = np.array([[p.x, p.y] for p in image_list.landmark], dtype=np.float64) * 2.0 - 1.0
    visibility = np.array([p.visibility for p in image_list.landmark], dtype=np.float64)
    if len(world) != NUM_LANDMARKS or len(image) != NUM_LANDMARKS:
        raise ValueError(f"expected {NUM_LANDMARKS} BlazePose landmarks, got {len(world)} and {len(image)}")
    return world, image, visibility


def fill_missing(marks: Landmarks) -> Landmarks:
    """Frames without a pose take values interpolated linearly between the nearest frames with one (held at the
    ends of the tracklet). Needs at least one frame with a pose."""
    known = np.flatnonzero(marks.found)
    if len(known) == 0:
        raise ValueError("no frame has a pose to fill the others from")
    position = np.interp(np.arange(len(marks.found)), known, np.arange(len(known)))
    lower = np.floor(position).astype(int)
    upper = np.minimum(lower + 1, len(known) - 1)
    frac = position - lower

    def fill(values: np.ndarray) -> np.ndarray:
        weight = frac.reshape((-1,) + (1,) * (values.ndim - 1))
        return values[known[lower]] * (1 - weight) + values[known[upper]] * weight

    return Landmarks(**{f.name: fill(getattr(marks, f.name)) for f in fields(Landmarks) if f.name != "found"},
                     found=marks.found)

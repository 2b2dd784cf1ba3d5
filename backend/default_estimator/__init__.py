"""The embedded default estimator (`--estimator default`): MediaPipe BlazePose landmarks solved into SMPL rotations.

Nothing is downloaded: the models ship inside the mediapipe wheel. Per tracklet: BlazePose on each crop
(`landmarks.py`), frames without a pose filled from their neighbours, one skeleton measured for the person and every
frame solved into SMPL rotations (`solver.py`), and the crop camera fitted to the 2D landmarks (`crop_camera.py`).
Temporal smoothing is the pipeline's, as for VIBE.
"""

from importlib.metadata import version

import numpy as np

from ..errors import NothingFound
from ..overlap import available_cores
from .crop_camera import fit_crop_camera
from .landmark_rig import landmarks_from_pose
from .landmarks import detect_landmarks, fill_missing
from .solver import solve_pose


class DefaultEstimator:
    """Estimator contract of docs/ARCHITECTURE.md; `crop_size`/`crop_scale` say how the pipeline should crop."""

    name = "default"

    def __init__(self, crop_size: int = 256, crop_scale: float = 1.1) -> None:
        self.crop_size = crop_size  # BlazePose's landmark model itself looks at 256 x 256
        self.crop_scale = crop_scale
        # each call runs a MediaPipe graph of its own, on one core and outside Python's lock: the pipeline may give
        # it one tracklet per core at once (backend.pipeline.estimate_tracklets)
        self.concurrency = available_cores()
        self.version = f"blazepose-full (mediapipe {version('mediapipe')})"

    def estimate(self, crops_rgb: np.ndarray) -> dict[str, np.ndarray]:
        """uint8 RGB crops (N, S, S, 3) of one tracklet in frame order -> pose (N, 72) with the root in the camera
        frame, betas (N, 10) zeros, cam (N, 3) crop camera, joints3d (N, 24, 3) metres, pelvis at the origin.

        Raises NothingFound (the pipeline drops the chunk) when BlazePose sees a person in none of the crops.
        """
        crops = np.asarray(crops_rgb)
        if crops.dtype != np.uint8 or crops.ndim != 4 or crops.shape[3] != 3 or crops.shape[1] != crops.shape[2]:
            raise ValueError(f"expected uint8 RGB square crops (N, S, S, 3), got {crops.dtype} {crops.shape}")
        found = detect_landmarks(crops)
        if not found.found.any():
            raise NothingFound(
                f"The default estimator (BlazePose) found no person in any of the {len(crops)} crops of this track.",
                "Use footage where the person's body is clearly visible, or try the VIBE estimator.",
            )
        marks = fill_missing(found)
        solution = solve_pose(marks.world)
        pelvis_relative = landmarks_from_pose(solution.rotations, solution.rig) - solution.rig.rest_joints[0]
        cam = fit_crop_camera(pelvis_relative, marks.image, np.maximum(marks.visibility, 1e-3), self.crop_scale)
        return {
            "pose": solution.axis_angle,
            "betas": np.zeros((len(crops), 10)),
            "cam": cam,
            "joints3d": solution.joints - solution.joints[:, :1],
            "pelvis": np.zeros((len(crops), 3)),  # the camera was fitted to the pelvis-centred skeleton
        }

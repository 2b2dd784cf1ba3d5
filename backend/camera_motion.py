"""The camera's rotation per frame, estimated from the background: a camera that pans or tilts on a tripod.

Runs inside the detection pass (`CameraRotationTracker.add` on every frame, with the detector's boxes where it ran)
at a reduced resolution. Model: a pinhole camera that only turns, f = image diagonal and the principal point at the
centre (as `smpl_rig.camera` assumes), so a background point seen along ray d in one frame is seen along R d in
another.

How: corners are picked in a keyframe, away from the people (their latest detection boxes, enlarged); each frame
tracks the keyframe's own corners into it (pyramidal Lucas-Kanade, started where the predicted rotation puts them),
so every frame is measured against the keyframe and nothing drifts while the keyframe holds: a still camera stays
still whatever walks through the view. RANSAC on two-point rotations drops what does not move with the background
(people the boxes missed, bad tracks); the rotation is the least-squares fit of the inliers' viewing rays (Kabsch).
A new keyframe is taken when fewer than half of the keyframe's corners are still explained (the view moved on); only
then do errors add up, once per keyframe.

Frames with too little background texture (a blank wall, motion blur, people filling the view) are interpolated
between their neighbours (held at the ends) and logged; if the keyframe is lost for good, a new one starts from the
last rotation and the break is logged. Camera translation (a walking operator) is outside the model: at the end of
each keyframe's span, a fundamental matrix (any camera motion) is fitted to the same tracks; where many tracks fit it
but are left well off by the rotation (parallax), the frames are marked `moving` and the log says what it means.
"""

import logging
from dataclasses import dataclass

import cv2
import numpy as np
from scipy.ndimage import uniform_filter1d
from scipy.spatial.transform import Rotation, Slerp

log = logging.getLogger(__name__)

WORK_SIDE = 400  # longest image side the tracker works at, pixels
MAX_CORNERS, MIN_CORNER_DISTANCE, CORNER_QUALITY = 200, 10, 0.01
MIN_EIGEN = 1e-4  # Lucas-Kanade's texture floor (mean gradient eigenvalue per window pixel): flat areas are refused
LK_WINDOW, LK_LEVELS = (15, 15), 3
MIN_POINTS = 8  # fewer background points than this and the frame is not measured
INLIER_PX = 1.0  # a point is explained by a model if it lands within this many working pixels
HYPOTHESES = 100  # RANSAC draws: with half the tracks wrong, all miss with probability 0.75^100
REKEY_SHARE = 0.5  # a new keyframe when the rotation explains fewer than this share of the corners it explained
# in the first frame after the keyframe (the view moved on, or people cover the background)
LOST_FRAMES = 5  # after this many unmeasured frames in a row, a textured frame becomes a new keyframe (a break)
CONFIRM_SHARE, TRACK_BACK_PX = 0.6, 0.5  # a keyframe started from nothing needs this share of its corners tracked
# into the next frame and back to within TRACK_BACK_PX
PARALLAX_PX = 4 * INLIER_PX  # the rotation's residual beyond which a rigid track shows parallax (well above LK noise)
PARALLAX_SHARE = 0.35  # "moving" where this share of the rigid tracks show parallax (pooled over PARALLAX_WINDOW)
PARALLAX_WINDOW = 31
BOX_MARGIN = 0.1  # people's boxes grow by this share of their size on every side (boxes are held between detections)


@dataclass
class CameraRotations:
    """Per video frame: `rotations[t]` (3, 3) takes a direction in the camera frame of frame t to the camera frame
    of the first frame (VIBE's axes: x right, y down, z forward); `measured` is False where the rotation was
    interpolated or held; `moving` marks frames where the background shows parallax: the camera moved, not only
    turned, and the rotation there is approximate."""

    frame_ids: np.ndarray  # (F,) int64
    rotations: np.ndarray  # (F, 3, 3) float64
    measured: np.ndarray   # (F,) bool
    moving: np.ndarray     # (F,) bool


@dataclass
class _Keyframe:
    gray: np.ndarray
    points: np.ndarray    # (K, 2) float32 working pixels
    rotation: np.ndarray  # (3, 3) keyframe camera -> first camera
    index: int            # its row among the frames added
    confirmed: bool       # False for a keyframe started from nothing, until the next frame finds its corners
    found: int = 0        # how many corners the rotation explained in the first frame measured against it


@dataclass
class _Match:
    """The last measured frame's tracks: keyframe pixels, where they were found, the rotation found for them
    (camera -> keyframe camera) and how many it explains."""

    index: int
    key_px: np.ndarray
    found_px: np.ndarray
    relative: np.ndarray
    inliers: int


class CameraRotationTracker:
    """Feed every frame in order with `add`; `result()` gives the rotations and logs what happened."""

    def __init__(self, width: int, height: int, work_side: int = WORK_SIDE) -> None:
        self.scale = min(1.0, work_side / max(width, height))
        self.size = (max(round(width * self.scale), 1), max(round(height * self.scale), 1))
        w, h = self.size
        f = float(np.hypot(w, h))
        self.K = np.array([[f, 0.0, (w - 1) / 2], [0.0, f, (h - 1) / 2], [0.0, 0.0, 1.0]])
        self.K_inv = np.linalg.inv(self.K)
        self.inlier_chord = INLIER_PX / f  # INLIER_PX as the distance between unit rays
        self.rng = np.random.default_rng(0)
        self.boxes = np.zeros((0, 4))
        self.key: _Keyframe | None = None
        self.match: _Match | None = None
        self.relative = np.eye(3)  # of the last measured frame: its camera -> keyframe camera
        self.step = np.eye(3)  # the last turn from one frame to the next (camera -> previous camera), to predict
        self.last: np.ndarray | None = None  # the last measured rotation: camera -> first camera
        self.unmeasured_run = 0
        self.breaks: list[int] = []
        self.frame_ids: list[int] = []
        self.rotations: list[np.ndarray] = []
        self.measured: list[bool] = []
        self.parallax: list[tuple[int, int, int]] = []  # per keyframe span: (last row, rigid tracks, with parallax)

    def add(self, frame_id: int, rgb: np.ndarray, boxes: np.ndarray | None = None) -> None:
        """One video frame (RGB uint8, full size) and, where the detector ran on it, its boxes (K, >=4) x1, y1, x2,
        y2 in pixels; without boxes the last ones are kept."""
        if boxes is not None:
            self.boxes = np.asarray(boxes, dtype=np.float64)[:, :4] * self.scale
        gray = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), self.size, interpolation=cv2.INTER_AREA)
        background = self._background_mask()
        rotation = self._measure(gray, background) if self.key is not None else None
        if rotation is None:
            self.unmeasured_run += 1
            if self.key is None or self.unmeasured_run > LOST_FRAMES:  # start again, from the last rotation
                self._new_keyframe(gray, background, np.eye(3) if self.last is None else self.last, confirmed=False)
        elif self.match.inliers < REKEY_SHARE * self.key.found:
            self._new_keyframe(gray, background, rotation, confirmed=True)
        self.frame_ids.append(int(frame_id))
        self.measured.append(rotation is not None)
        self.last = self.last if rotation is None else rotation
        self.rotations.append(np.eye(3) if self.last is None else self.last)

    def result(self) -> CameraRotations:
        """Rotations for every frame added (unmeasured ones interpolated), with a summary in the log."""
        self._check_parallax()  # the last keyframe's span
        measured = np.asarray(self.measured, dtype=bool)
        out = CameraRotations(frame_ids=np.asarray(self.frame_ids, dtype=np.int64),
                              rotations=fill_unmeasured(np.asarray(self.rotations).reshape(-1, 3, 3), measured),
                              measured=measured, moving=self._moving() & measured)
        _log_summary(out, self.breaks)
        return out

    # -- per frame

    def _background_mask(self) -> np.ndarray:
        """255 where corners may be taken and tracked: outside every person's enlarged box."""
        mask = np.full(self.size[::-1], 255, dtype=np.uint8)
        for x1, y1, x2, y2 in self.boxes:
            mx, my = BOX_MARGIN * (x2 - x1), BOX_MARGIN * (y2 - y1)
            cv2.rectangle(mask, (int(x1 - mx), int(y1 - my)), (int(np.ceil(x2 + mx)), int(np.ceil(y2 + my))), 0, -1)
        return mask

    def _new_keyframe(self, gray: np.ndarray, background: np.ndarray, rotation: np.ndarray, confirmed: bool) -> None:
        corners = cv2.goodFeaturesToTrack(gray, MAX_CORNERS, CORNER_QUALITY, MIN_CORNER_DISTANCE, mask=background)
        if corners is None or len(corners) < MIN_POINTS:
            return
        self._check_parallax()  # the span the old keyframe closes
        self.key = _Keyframe(gray, corners.reshape(-1, 2), rotation, len(self.frame_ids), confirmed)
        self.match, self.relative, self.unmeasured_run = None, np.eye(3), 0

    def _confirm(self, key: _Keyframe) -> None:
        """A keyframe started from nothing was found again: its own frame counts as measured, and if frames were
        measured before, the tracking restarted there from the last rotation (a break)."""
        key.confirmed, self.measured[key.index] = True, True
        if self.last is not None:
            self.breaks.append(self.frame_ids[key.index])

    def _measure(self, gray: np.ndarray, background: np.ndarray) -> np.ndarray | None:
        """Rotation of this frame (camera -> first camera), or None when too little background was found."""
        key = self.key
        guess = self._project(key.points, self.relative @ self.step).astype(np.float32)
        found, status, _ = cv2.calcOpticalFlowPyrLK(
            key.gray, gray, key.points, guess, winSize=LK_WINDOW, maxLevel=LK_LEVELS,
            flags=cv2.OPTFLOW_USE_INITIAL_FLOW, minEigThreshold=MIN_EIGEN)
        ok = (status.ravel() == 1) & self._in_background(guess, background) & self._in_background(found, background)
        relative, inliers = self._fit_rotation(key.points[ok], found[ok]) if ok.sum() >= MIN_POINTS else (None, 0)
        if relative is None or not (key.confirmed or self._tracked_back(gray, found[ok], key.points[ok])):
            self.step = np.eye(3)
            if not key.confirmed:
                self.key = None  # corners of noise (a covered lens, a blank wall) are not found again
            return None
        if not key.confirmed:
            self._confirm(key)
        key.found = key.found or inliers
        self.step, self.relative, self.unmeasured_run = self.relative.T @ relative, relative, 0
        self.match = _Match(len(self.frame_ids), key.points[ok], found[ok], relative, inliers)
        return key.rotation @ relative

    def _tracked_back(self, gray: np.ndarray, found: np.ndarray, key_px: np.ndarray) -> bool:
        """Whether most corners tracked into this frame track back onto themselves in the keyframe: real texture
        does, noise (a covered lens, a blank wall) moves at random both ways."""
        back, status, _ = cv2.calcOpticalFlowPyrLK(gray, self.key.gray, found, key_px.copy(), winSize=LK_WINDOW,
                                                   maxLevel=LK_LEVELS, flags=cv2.OPTFLOW_USE_INITIAL_FLOW)
        same = (status.ravel() == 1) & (np.linalg.norm(back - key_px, axis=1) < TRACK_BACK_PX)
        return same.sum() >= CONFIRM_SHARE * len(key_px)

    def _in_background(self, px: np.ndarray, background: np.ndarray) -> np.ndarray:
        """(N,) bool: inside the picture and outside the people's boxes (a keyframe corner expected behind a person
        may be tracked onto something else)."""
        w, h = self.size
        inside = (px[:, 0] >= 0) & (px[:, 0] <= w - 1) & (px[:, 1] >= 0) & (px[:, 1] <= h - 1)
        inside[inside] = background[px[inside, 1].astype(int), px[inside, 0].astype(int)] > 0
        return inside

    def _fit_rotation(self, key_px: np.ndarray, found_px: np.ndarray) -> tuple[np.ndarray | None, int]:
        """Rotation R (this camera -> keyframe camera) with key ray ~ R found ray, by RANSAC over pairs of tracks
        then a least-squares refit on the inliers, and how many tracks it explains; (None, 0) below MIN_POINTS."""
        key_rays, found_rays = self._rays(key_px), self._rays(found_px)
        pairs = self.rng.integers(0, len(key_rays), size=(HYPOTHESES, 2))
        hypotheses = kabsch(key_rays[pairs], found_rays[pairs])
        errors = np.linalg.norm(found_rays @ np.swapaxes(hypotheses, 1, 2) - key_rays, axis=2)
        inliers = errors[np.argmax((errors < self.inlier_chord).sum(axis=1))] < self.inlier_chord
        for _ in range(2):  # refit on what the refined rotation explains
            if inliers.sum() < MIN_POINTS:
                return None, 0
            relative = kabsch(key_rays[inliers], found_rays[inliers])
            inliers = np.linalg.norm(found_rays @ relative.T - key_rays, axis=1) < self.inlier_chord
        return relative, int(inliers.sum())

    def _check_parallax(self) -> None:
        """Count, on the last tracks of the keyframe's span (the longest baseline), those that a fundamental matrix
        (any camera motion) explains, and among them those the rotation leaves off by more than PARALLAX_PX:
        parallax."""
        match = self.match
        if match is None or len(match.key_px) < 8:
            return
        _, mask = cv2.findFundamentalMat(match.found_px, match.key_px, cv2.FM_RANSAC, INLIER_PX, 0.99)
        if mask is not None:
            off = np.linalg.norm(self._project(match.key_px, match.relative) - match.found_px, axis=1) > PARALLAX_PX
            rigid = mask.ravel() == 1
            self.parallax.append((match.index, int(rigid.sum()), int((off & rigid).sum())))
        self.match = None

    def _moving(self) -> np.ndarray:
        """(F,) bool: frames where more than PARALLAX_SHARE of the rigid tracks of the keyframe spans around them
        (PARALLAX_WINDOW frames) show parallax."""
        rigid, parallax = np.zeros((2, len(self.frame_ids)))
        for row, total, off in self.parallax:
            rigid[row], parallax[row] = total, off
        rigid, parallax = uniform_filter1d(np.stack([rigid, parallax]), PARALLAX_WINDOW, mode="constant")
        return parallax > PARALLAX_SHARE * np.maximum(rigid, 1e-9)

    def _rays(self, px: np.ndarray) -> np.ndarray:
        rays = np.c_[px, np.ones(len(px))] @ self.K_inv.T
        return rays / np.linalg.norm(rays, axis=1, keepdims=True)

    def _project(self, key_px: np.ndarray, relative: np.ndarray) -> np.ndarray:
        """Where keyframe pixels land in a frame whose camera -> keyframe rotation is `relative`."""
        p = np.c_[key_px, np.ones(len(key_px))] @ (self.K @ relative.T @ self.K_inv).T
        return p[:, :2] / p[:, 2:]


def kabsch(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rotations R (..., 3, 3) minimising sum |a_i - R b_i|^2 over point sets a, b (..., N, 3) (Kabsch)."""
    u, _, vt = np.linalg.svd(np.swapaxes(a, -1, -2) @ b)
    flip = np.ones(u.shape[:-1])
    flip[..., -1] = np.sign(np.linalg.det(u @ vt))
    return (u * flip[..., None, :]) @ vt


def fill_unmeasured(rotations: np.ndarray, measured: np.ndarray) -> np.ndarray:
    """Unmeasured rotations slerped between the measured neighbours, held before the first and after the last."""
    known = np.flatnonzero(measured)
    if len(known) in (0, len(rotations)):
        return rotations.copy()
    if len(known) == 1:
        return np.repeat(rotations[known], len(rotations), axis=0)
    frames = np.clip(np.arange(len(rotations)), known[0], known[-1])
    return Slerp(known, Rotation.from_matrix(rotations[known]))(frames).as_matrix()


def _runs(flags: np.ndarray, frame_ids: np.ndarray) -> str:
    """'12-15, 40' for the frames where `flags` is True."""
    edges = np.flatnonzero(np.diff(np.r_[0, flags.astype(int), 0]))
    spans = [(frame_ids[a], frame_ids[b - 1]) for a, b in zip(edges[::2], edges[1::2], strict=True)]
    return ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in spans)


def _log_summary(out: CameraRotations, breaks: list[int]) -> None:
    if len(out.frame_ids) == 0:
        return
    angles = np.degrees(Rotation.from_matrix(out.rotations).magnitude())
    log.info("camera rotation: %d frames, %d measured, largest turn from the first frame %.2f degrees",
             len(out.frame_ids), out.measured.sum(), angles.max())
    if not out.measured.all():
        log.warning("camera rotation: too little background texture on frames %s: rotation interpolated there "
                    "(held at the ends)", _runs(~out.measured, out.frame_ids))
    if breaks:
        log.warning("camera rotation: the background was lost and tracking restarted from the last rotation at "
                    "frames %s: the camera's turn during the gap is unknown", ", ".join(map(str, breaks)))
    if out.moving.any():
        log.warning("camera rotation: on frames %s the background shows parallax: the camera seems to move, not only "
                    "turn (a walking operator?). Only its rotation is estimated, approximately; its travel shows up "
                    "as the people's motion in the world.", _runs(out.moving, out.frame_ids))

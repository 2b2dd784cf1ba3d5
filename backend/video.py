"""Streamed video decoding with OpenCV: upright RGB frames one at a time, never dumped to disk.

Rotation: phone videos store how to turn the picture as metadata (CAP_PROP_ORIENTATION_META, clockwise degrees).
OpenCV's FFmpeg backend may turn frames itself (CAP_PROP_ORIENTATION_AUTO). The reader switches that off and turns
frames itself; where a backend refuses, OpenCV's own turn is kept. Either way frames are turned exactly once.

Frame range: `start` inclusive, `end` exclusive, in the video's own frame numbers (yielded as `frame_id`); an `end`
past the last frame is clipped. A start outside the video is an error.

Truncated or damaged files (decoding stops before the container's frame count) are a warning, not an error: the
frames decoded so far are real and usable, so a pass yields them all, logs how many were read, sets `truncated` and
lowers `num_frames` to the count actually read. Only when nothing in the range decodes is it an error.
"""

import logging
import math
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from .errors import BackendError

log = logging.getLogger(__name__)

DEFAULT_FPS = 30.0
_TURNS = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}
_CONVERT_HINT = (
    "Convert it to an ordinary MP4 (H.264), e.g. `ffmpeg -i INPUT -c:v libx264 -pix_fmt yuv420p OUTPUT.mp4`; "
    "on Windows also make sure the path holds only plain ASCII characters."
)


class VideoReader:
    """A video file read as upright RGB frames; iterate as often as needed (each pass decodes afresh).

    Attributes: `fps` (container rate, DEFAULT_FPS when the container has none), `width`/`height` of upright frames,
    `num_frames` in the range, `rotation` (clockwise degrees from the metadata), `truncated`.
    """

    def __init__(self, path: str | Path, start: int = 0, end: int | None = None) -> None:
        self.path = Path(path)
        self.start, self.end = int(start), None if end is None else int(end)
        self.truncated = False
        self._check_file()
        cap = self._open()
        try:
            self.fps = _container_fps(cap, self.path)
            self.rotation = _rotation(cap)
            self._turn = self.rotation if cap.get(cv2.CAP_PROP_ORIENTATION_AUTO) == 0 else 0
            ok, first = cap.read()
            if not ok:
                raise BackendError(f"The video {self.path.name} has no frames that can be decoded.",
                                   "Check that it plays in a video player. " + _CONVERT_HINT)
            self.height, self.width = self._upright(first).shape[:2]
            total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        finally:
            cap.release()
        self._container_frames = total if total > 0 else self._count_frames()
        self.num_frames = self._check_range(self._container_frames)

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        """Yield `(frame_id, rgb uint8 HxWx3)` for the range, decoding one frame at a time."""
        cap = self._open()
        frame_id = 0
        try:
            while frame_id < self.start and cap.grab():
                frame_id += 1
            while self.end is None or frame_id < self.end:
                ok, bgr = cap.read()
                if not ok:
                    break
                yield frame_id, self._upright(bgr)
                frame_id += 1
        finally:
            cap.release()
        self._finish_pass(frame_id)

    def _check_file(self) -> None:
        if not self.path.is_file():
            what = "is a folder, not a video file" if self.path.is_dir() else "does not exist"
            raise BackendError(f"The video {self.path} {what}.", "Choose an existing video file (MP4, MOV, AVI...).")
        if self.path.stat().st_size == 0:
            raise BackendError(f"The video file {self.path} is empty (0 bytes).",
                               "The copy or download probably failed; copy the video again.")

    def _open(self) -> cv2.VideoCapture:
        cap = cv2.VideoCapture(str(self.path), cv2.CAP_FFMPEG)
        if not cap.isOpened():
            raise BackendError(f"OpenCV cannot open {self.path.name} as a video: it holds no readable video frames "
                               "(it has none, is damaged, is not a video despite its name, or uses a format "
                               "OpenCV's FFmpeg cannot read).", _CONVERT_HINT)
        cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 0)
        return cap

    def _upright(self, bgr: np.ndarray) -> np.ndarray:
        if self._turn:
            bgr = cv2.rotate(bgr, _TURNS[self._turn])
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def _count_frames(self) -> int:
        """Decode-count the frames of a container that does not state its length."""
        cap = self._open()
        try:
            count = 0
            while cap.grab():
                count += 1
        finally:
            cap.release()
        return count

    def _check_range(self, total: int) -> int:
        if self.start < 0 or (self.end is not None and self.end <= self.start):
            raise BackendError(f"The frame range {self.start}..{self.end} is empty or negative.",
                               "Give a start of 0 or more and an end after the start (the end frame is excluded).")
        if self.start >= total:
            raise BackendError(f"The range starts at frame {self.start} but {self.path.name} has {total} frames "
                               f"(0..{total - 1}).", f"Choose a start frame below {total}.")
        return min(total if self.end is None else self.end, total) - self.start

    def _finish_pass(self, stop: int) -> None:
        """After a pass that ran to its end: note a truncated file, or a container that understated its length."""
        read = stop - self.start
        if read <= 0:
            raise BackendError(f"Decoding {self.path.name} stopped at frame {stop}, before the requested start "
                               f"frame {self.start}: the file is truncated or damaged.",
                               "Choose an earlier start frame, or re-export the video. " + _CONVERT_HINT)
        expected = min(self._container_frames, self.end or self._container_frames) - self.start
        if read < expected and not self.truncated:
            log.warning("Decoding %s stopped after %d of %d frames (the file looks truncated or damaged); "
                        "using the %d frames read.", self.path.name, read, expected, read)
            self.truncated = True
        self.num_frames = read


def _container_fps(cap: cv2.VideoCapture, path: Path) -> float:
    fps = cap.get(cv2.CAP_PROP_FPS)
    if math.isfinite(fps) and 1.0 <= fps <= 1000.0:
        return float(fps)
    log.warning("%s states no usable frame rate (%r); assuming %.0f fps.", path.name, fps, DEFAULT_FPS)
    return DEFAULT_FPS


def _rotation(cap: cv2.VideoCapture) -> int:
    """Metadata rotation as clockwise degrees in {0, 90, 180, 270} (other angles snap to the nearest)."""
    value = cap.get(cv2.CAP_PROP_ORIENTATION_META)
    return int(round(value / 90.0)) % 4 * 90 if math.isfinite(value) else 0

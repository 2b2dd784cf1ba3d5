"""Short synthetic test videos written with OpenCV (reusable by any test): moving photos of a real person, phone
rotation metadata, truncated files.

`write_video` takes RGB frames. OpenCV's FFmpeg writer rounds odd sizes down to even ones; with fourcc 'MJPG'
(.avi) OpenCV's own writer is used, which keeps any size.
"""

import itertools
import struct
from collections.abc import Iterable
from pathlib import Path

import cv2
import matplotlib
import numpy as np

PERSON_PHOTO = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"


def person_photo(height: int) -> np.ndarray:
    """The portrait of Grace Hopper shipped with matplotlib (a real person), RGB, resized to `height` rows."""
    bgr = cv2.imread(str(PERSON_PHOTO))
    width = round(bgr.shape[1] * height / bgr.shape[0])
    return cv2.cvtColor(cv2.resize(bgr, (width, height), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)


def background(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth, textured RGB background (blurred noise), no person in it."""
    noise = np.random.default_rng(seed).integers(40, 200, size=(height, width, 3), dtype=np.uint8)
    return cv2.GaussianBlur(noise, (0, 0), 3)


Point = tuple[float, float]


def moving_people(num_frames: int, height: int, width: int, tracks: list[tuple[Point, Point]], person_height: int,
                  seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Frames where each person photo glides from its start to its end top-left corner (pixels) over the clip.

    Photos may leave the picture partly or wholly. Returns frames (N, H, W, 3) uint8 RGB and the visible part of
    every photo as boxes (N, P, 4) x1, y1, x2, y2 (zero width or height when out of sight); later people are
    pasted over earlier ones. A portrait floating mid-picture looks like a body cut at the photo's lower edge and
    detectors may extend it below; tests that compare boxes stand the photos on the picture's bottom edge.
    """
    photo = person_photo(person_height)
    ph, pw = photo.shape[:2]
    frames = np.repeat(background(height, width, seed)[None], num_frames, axis=0)
    boxes = np.zeros((num_frames, len(tracks), 4), dtype=int)
    t = np.linspace(0.0, 1.0, num_frames)
    for p, (begin, finish) in enumerate(tracks):
        xs = np.round(begin[0] + t * (finish[0] - begin[0])).astype(int)
        ys = np.round(begin[1] + t * (finish[1] - begin[1])).astype(int)
        for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
            x1, y1, x2, y2 = max(x, 0), max(y, 0), min(x + pw, width), min(y + ph, height)
            if x2 > x1 and y2 > y1:
                frames[i, y1:y2, x1:x2] = photo[y1 - y:y2 - y, x1 - x:x2 - x]
            boxes[i, p] = (x1, y1, max(x2, x1), max(y2, y1))
    return frames, boxes


def write_video(path: str | Path, frames: Iterable[np.ndarray], fps: float = 25.0, fourcc: str = "mp4v",
                size: tuple[int, int] = (160, 120)) -> Path:
    """Write RGB frames with cv2.VideoWriter (mp4v in .mp4 by default; 'MJPG' for .avi, any size).

    The frame size comes from the first frame; `size` (width, height) is only used when there are no frames (what
    an empty file looks like depends on the container: an .mp4 without frames cannot even be opened).
    """
    path = Path(path)
    frames = iter(frames)
    first = next(frames, None)
    if first is not None:
        size = (first.shape[1], first.shape[0])
    api = cv2.CAP_OPENCV_MJPEG if fourcc == "MJPG" else cv2.CAP_FFMPEG
    writer = cv2.VideoWriter(str(path), api, cv2.VideoWriter_fourcc(*fourcc), fps, size)
    assert writer.isOpened(), f"OpenCV cannot write {fourcc} to {path}"
    for rgb in [] if first is None else itertools.chain([first], frames):
        writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def truncate_file(path: str | Path, keep: float) -> Path:
    """Cut a file to the first `keep` fraction of its bytes, as an interrupted copy or recording leaves it."""
    path = Path(path)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def set_mp4_rotation(path: str | Path, degrees: int) -> Path:
    """Give an MP4/MOV the phone rotation metadata `degrees` (clockwise, as players turn it) in place.

    Phones store the rotation in the video track header ('moov/trak/tkhd') as a 3x3 display matrix; this rewrites
    that matrix as FFmpeg's muxer does for a `rotate` tag.
    """
    path = Path(path)
    data = bytearray(path.read_bytes())
    tkhd = _find_box(data, [b"moov", b"trak", b"tkhd"])
    version = data[tkhd]
    # version+flags, creation and modification times, track id, reserved, duration, reserved, layer, group,
    # volume, reserved, then the matrix (v1 widens the times and the duration to 64 bits).
    matrix_at = tkhd + 4 + (8 if version == 0 else 16) + 8 + (4 if version == 0 else 8) + 8 + 8
    width, height = (v >> 16 for v in struct.unpack(">II", data[matrix_at + 36:matrix_at + 44]))
    cos, sin = {0: (1, 0), 90: (0, 1), 180: (-1, 0), 270: (0, -1)}[degrees % 360]
    tx, ty = {0: (0, 0), 90: (height, 0), 180: (width, height), 270: (0, width)}[degrees % 360]
    fixed = [cos << 16, sin << 16, 0, -sin << 16, cos << 16, 0, tx << 16, ty << 16, 1 << 30]
    data[matrix_at:matrix_at + 36] = struct.pack(">9i", *fixed)
    path.write_bytes(bytes(data))
    return path


def _find_box(data: bytearray, names: list[bytes]) -> int:
    """Offset of the payload of the first box at the nested path `names` in an ISO-BMFF (MP4) file."""
    begin, end = 0, len(data)
    for name in names:
        while begin + 8 <= end:
            size, kind = struct.unpack(">I4s", data[begin:begin + 8])
            header = 8
            if size == 1:
                size, header = struct.unpack(">Q", data[begin + 8:begin + 16])[0], 16
            elif size == 0:
                size = end - begin
            if kind == name:
                begin, end = begin + header, begin + size
                break
            begin += size
        else:
            raise ValueError(f"no '{name.decode()}' box in the MP4 file")
    return begin

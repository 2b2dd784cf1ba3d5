import logging

import cv2
import numpy as np
import pytest

from backend.errors import BackendError
from backend.video import DEFAULT_FPS, VideoReader
from tests.videos import set_mp4_rotation, truncate_file, write_video

H, W = 120, 160
BITS = 5


def numbered_frames(n: int, height: int = H, width: int = W) -> np.ndarray:
    """Frame i: its number in 5 black/white blocks across the middle, a red top-left and a green bottom-right
    block (they tell rotations apart), on grey."""
    frames = np.full((n, height, width, 3), 128, np.uint8)
    frames[:, : height // 3, : width // 3] = (220, 30, 30)
    frames[:, -height // 3:, -width // 4:] = (30, 220, 30)
    for bit in range(BITS):
        frames[:, height // 2 - 8:height // 2 + 8, 24 + 16 * bit:40 + 16 * bit] = ((np.arange(n) >> bit) & 1)[
            :, None, None, None] * 255
    return frames


def frame_number(rgb: np.ndarray) -> int:
    """Inverse of numbered_frames (for frames in their original orientation)."""
    h = rgb.shape[0]
    blocks = [rgb[h // 2 - 4:h // 2 + 4, 28 + 16 * bit:36 + 16 * bit].mean() > 128 for bit in range(BITS)]
    return sum(int(on) << bit for bit, on in enumerate(blocks))


class CaptureWrapper:
    """Stands in for cv2.VideoCapture so a test can alter one method (subclassing it crashes Python at exit)."""

    real = cv2.VideoCapture

    def __init__(self, *args):
        self.cap = self.real(*args)

    def __getattr__(self, name):
        return getattr(self.cap, name)


@pytest.fixture
def clip(tmp_path):
    frames = numbered_frames(30)
    return write_video(tmp_path / "clip.mp4", frames), frames


def test_reads_every_frame_upright_rgb_and_again_on_a_second_pass(clip):
    path, frames = clip
    reader = VideoReader(path)
    assert (reader.fps, reader.width, reader.height, reader.num_frames, reader.rotation) == (25.0, W, H, 30, 0)
    first = list(reader)
    assert [i for i, _ in first] == list(range(30))
    for (i, rgb), original in zip(first, frames, strict=True):
        assert rgb.dtype == np.uint8 and rgb.shape == (H, W, 3)
        assert frame_number(rgb) == i
        assert np.abs(rgb.astype(int) - original).mean() < 4  # mp4v is lossy; a BGR/RGB swap would be ~100
    second = list(reader)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(first, second, strict=True))


def test_frame_range_keeps_video_frame_numbers_and_clips_the_end(clip):
    path, _ = clip
    reader = VideoReader(path, start=5, end=12)
    assert reader.num_frames == 7
    assert [(i, frame_number(rgb)) for i, rgb in reader] == [(i, i) for i in range(5, 12)]
    tail = VideoReader(path, start=25, end=1000)
    assert tail.num_frames == 5 and [i for i, _ in tail] == [25, 26, 27, 28, 29]


@pytest.mark.parametrize(("start", "end", "words"), [(30, None, "has 30 frames"), (40, 50, "has 30 frames"),
                                                     (10, 10, "empty"), (-1, None, "negative")])
def test_range_outside_the_video_is_refused(clip, start, end, words):
    with pytest.raises(BackendError, match=words) as err:
        VideoReader(clip[0], start=start, end=end)
    assert err.value.fix


def test_unreadable_inputs_get_a_message_and_a_fix(tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("these are not video frames\n" * 50)
    empty = tmp_path / "empty.mp4"
    empty.touch()
    no_frames_avi = write_video(tmp_path / "no_frames.avi", [], fourcc="MJPG")  # opens, then nothing decodes
    no_frames_mp4 = write_video(tmp_path / "no_frames.mp4", [])  # no video track at all: does not even open
    cases = [(tmp_path / "missing.mp4", "does not exist"), (tmp_path, "is a folder"), (empty, "empty"),
             (text, "cannot open notes.mp4"), (no_frames_avi, "has no frames"),
             (no_frames_mp4, "no readable video frames")]
    for path, words in cases:
        with pytest.raises(BackendError, match=words) as err:
            VideoReader(path)
        assert err.value.fix, path


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_phone_rotation_metadata_turns_frames_upright_once(tmp_path, degrees):
    frames = numbered_frames(4)
    path = set_mp4_rotation(write_video(tmp_path / "phone.mp4", frames), degrees)
    reader = VideoReader(path)
    upright = np.rot90(frames[0], -degrees // 90)  # players turn clockwise by the stored angle
    assert reader.rotation == degrees
    assert (reader.height, reader.width) == upright.shape[:2]
    rgb = next(iter(reader))[1]
    assert rgb.shape == upright.shape and np.abs(rgb.astype(int) - upright).mean() < 4


def test_rotation_is_not_applied_twice_when_opencv_keeps_turning_frames(tmp_path, monkeypatch):
    class AlwaysAutoRotating(CaptureWrapper):
        """A backend whose automatic rotation cannot be switched off."""

        def set(self, prop, value):
            return False if prop == cv2.CAP_PROP_ORIENTATION_AUTO else self.cap.set(prop, value)

    frames = numbered_frames(3)
    path = set_mp4_rotation(write_video(tmp_path / "phone.mp4", frames), 90)
    monkeypatch.setattr(cv2, "VideoCapture", AlwaysAutoRotating)
    reader = VideoReader(path)
    rgb = next(iter(reader))[1]
    assert reader.rotation == 90 and (reader.width, reader.height) == (H, W)
    assert np.abs(rgb.astype(int) - np.rot90(frames[0], -1)).mean() < 4


def test_truncated_video_yields_what_decodes_and_warns_with_the_count(tmp_path, caplog):
    path = truncate_file(write_video(tmp_path / "cut.avi", numbered_frames(30), fourcc="MJPG"), keep=0.6)
    reader = VideoReader(path)
    assert reader.num_frames == 30 and not reader.truncated  # the header still promises 30
    with caplog.at_level(logging.WARNING, logger="backend.video"):
        ids = [i for i, rgb in reader if frame_number(rgb) == i]
    read = len(ids)
    assert 5 < read < 30 and ids == list(range(read))
    assert reader.truncated and reader.num_frames == read
    assert f"stopped after {read} of 30 frames" in caplog.text
    assert [i for i, _ in reader] == ids  # the second pass sees the same frames
    with pytest.raises(BackendError, match="before the requested start"):
        list(VideoReader(path, start=read + 1))


def test_odd_sizes_and_a_missing_frame_rate(tmp_path, monkeypatch):
    frames = numbered_frames(6, height=121, width=161)
    path = write_video(tmp_path / "odd.avi", frames, fourcc="MJPG")
    reader = VideoReader(path)
    assert (reader.width, reader.height, reader.num_frames) == (161, 121, 6)
    assert [frame_number(rgb) for _, rgb in reader] == list(range(6))

    class NoFrameRate(CaptureWrapper):
        def get(self, prop):
            return 0.0 if prop == cv2.CAP_PROP_FPS else self.cap.get(prop)

    monkeypatch.setattr(cv2, "VideoCapture", NoFrameRate)
    assert VideoReader(path).fps == DEFAULT_FPS

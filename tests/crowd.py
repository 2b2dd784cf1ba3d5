"""Frames with many people for detector tests: the example clip's rendered person (full body, real 3D render) cut
out with the wall behind them and pasted at several sizes over a textured background, side by side."""

from functools import cache
from pathlib import Path

import cv2
import numpy as np

from tests.videos import background

EXAMPLE_CLIP = Path(__file__).resolve().parent.parent / "examples" / "squat_march.mp4"
PERSON_REGION = (95, 200, 385, 620)  # x1, y1, x2, y2 around the person in the example clip (480x640)


@cache
def example_frame(index: int) -> np.ndarray:
    """Frame `index` of examples/squat_march.mp4, RGB."""
    capture = cv2.VideoCapture(str(EXAMPLE_CLIP))
    capture.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, bgr = capture.read()
    capture.release()
    assert ok, f"cannot read frame {index} of {EXAMPLE_CLIP}"
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def crowd_frame(heights: list[int], width: int = 1280, height: int = 720, seed: int = 0,
                frame: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The person (standing, arms down) pasted once per entry of `heights` (patch height in pixels), spread evenly
    across the picture at random heights without overlapping. Returns the RGB frame and the patches (P, 4) x1, y1,
    x2, y2: each patch holds one whole person."""
    x1, y1, x2, y2 = PERSON_REGION
    person = example_frame(frame)[y1:y2, x1:x2]
    rng = np.random.default_rng(seed)
    picture = background(height, width, seed)
    lefts = np.linspace(0, width, len(heights), endpoint=False).astype(int) + 10
    patches = []
    for left, h in zip(lefts, heights, strict=True):
        w = round(person.shape[1] * h / person.shape[0])
        assert left + w <= width and w <= width / len(heights), "patches would overlap or leave the picture"
        top = int(rng.integers(0, height - h))
        picture[top:top + h, left:left + w] = cv2.resize(person, (w, h), interpolation=cv2.INTER_AREA)
        patches.append((left, top, left + w, top + h))
    return picture, np.array(patches, dtype=np.float64)


def crossing_clip(num_frames: int = 48, width: int = 640, height: int = 360) -> tuple[np.ndarray, np.ndarray]:
    """Three people (the example's person; the second with a blue shirt, the channels swapped): the first walks
    left to right, the second right to left in front of them (hiding them for a few frames), the third stands.
    Returns RGB frames (N, H, W, 3) and the patches (N, 3, 4) x1, y1, x2, y2."""
    x1, y1, x2, y2 = PERSON_REGION
    person = example_frame(0)[y1:y2, x1:x2]
    sizes = ((105, 150), (112, 160), (84, 120))
    looks = [cv2.resize(person, size, interpolation=cv2.INTER_AREA) for size in sizes]
    looks[1] = np.ascontiguousarray(looks[1][..., ::-1])
    t = np.linspace(0, 1, num_frames)
    corners = [np.stack([40 + 420 * t, np.full(num_frames, 120)], -1),
               np.stack([480 - 420 * t, np.full(num_frames, 130)], -1),
               np.stack([np.full(num_frames, 520), np.full(num_frames, 20)], -1)]
    frames = np.repeat(background(height, width, 4)[None], num_frames, axis=0)
    patches = np.zeros((num_frames, 3, 4))
    for p in (2, 0, 1):  # the second person is nearest, pasted last
        w, h = sizes[p]
        for f, (x, y) in enumerate(np.round(corners[p]).astype(int)):
            frames[f, y:y + h, x:x + w] = looks[p]
            patches[f, p] = (x, y, x + w, y + h)
    return frames, patches

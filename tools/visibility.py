"""Where people are in the picture (numpy): boxes of their projected meshes, their projected height, and how much of
each body is visible (not hidden by other people or props, inside the frame).

Boxes are amodal, as in the MOT benchmarks: the box of the whole projected mesh, clipped to the image, NaN when no
part is in the picture; `height_px` is the unclipped box's height. Visibility is the fraction of a body's vertices
that project into the picture and are not behind another person's front surface (a z-buffer of vertex splats in cells
of CELL pixels, closed by a 3x3 minimum) nor behind a prop (rays tested against the props' boxes); a body's own
back is not counted as hidden.
"""

import numpy as np

from tools.world import Box

CELL = 3  # pixels per z-buffer cell
NEAR = 0.1  # metres: points closer to the camera plane count as not in the picture


def boxes_and_heights(pixels: np.ndarray, depth: np.ndarray, width: int,
                      height: int) -> tuple[np.ndarray, np.ndarray]:
    """Per person: box (P, 4) x1, y1, x2, y2 clipped to the image (NaN when outside) and unclipped height (P,), for
    projected vertices (P, V, 2) with their depths (P, V)."""
    boxes, heights = np.full((len(pixels), 4), np.nan), np.full(len(pixels), np.nan)
    for p, (uv, z) in enumerate(zip(pixels, depth, strict=True)):
        front = uv[z > NEAR]
        if not len(front):
            continue
        (x1, y1), (x2, y2) = front.min(axis=0), front.max(axis=0)
        heights[p] = y2 - y1
        if x2 < 0 or y2 < 0 or x1 > width or y1 > height:
            continue
        boxes[p] = [max(x1, 0.0), max(y1, 0.0), min(x2, float(width)), min(y2, float(height))]
    return boxes, heights


def visible_fraction(pixels: np.ndarray, depth: np.ndarray, world: np.ndarray, camera_position: np.ndarray,
                     occluders: list[Box], width: int, height: int) -> np.ndarray:
    """Per person (P,): the share of their vertices (P, V) seen in the picture (see the module's docstring).
    `world` holds the same vertices in the world (P, V, 3) for the props' ray test."""
    rows, cols = -(-height // CELL), -(-width // CELL)
    inside = (depth > NEAR) & (pixels[..., 0] >= 0) & (pixels[..., 0] < width) & (pixels[..., 1] >= 0) \
        & (pixels[..., 1] < height)
    cell = np.where(inside, (pixels[..., 1] // CELL).clip(0, rows - 1) * cols + (pixels[..., 0] // CELL).clip(
        0, cols - 1), 0).astype(np.int64)
    nearest = np.full(rows * cols, np.inf)
    owner = np.full(rows * cols, -1)
    for p in range(len(pixels)):
        own = np.full(rows * cols, np.inf)
        np.minimum.at(own, cell[p][inside[p]], depth[p][inside[p]])
        closer = own < nearest
        nearest[closer], owner[closer] = own[closer], p
    nearest, owner = _close(nearest.reshape(rows, cols), owner.reshape(rows, cols))
    in_front = nearest.ravel()[cell]
    hidden = (owner.ravel()[cell] != np.arange(len(pixels))[:, None]) & (in_front < depth - 0.05)
    seen = inside & ~hidden
    for box in occluders:
        seen &= ~_segment_hits_box(camera_position, world, box)
    return seen.mean(axis=1)


def _close(nearest: np.ndarray, owner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """3x3 minimum of a depth buffer, with the owner of each minimum: fills the gaps between splatted vertices."""
    padded = np.pad(nearest, 1, constant_values=np.inf)
    padded_owner = np.pad(owner, 1, constant_values=-1)
    rows, cols = nearest.shape
    shifts = [(dy, dx) for dy in range(3) for dx in range(3)]
    depths = np.stack([padded[dy:dy + rows, dx:dx + cols] for dy, dx in shifts])
    owners = np.stack([padded_owner[dy:dy + rows, dx:dx + cols] for dy, dx in shifts])
    best = depths.argmin(axis=0)[None]
    return np.take_along_axis(depths, best, 0)[0], np.take_along_axis(owners, best, 0)[0]


def _segment_hits_box(start: np.ndarray, ends: np.ndarray, box: Box) -> np.ndarray:
    """Whether the segments from `start` (3,) to `ends` (..., 3) pass through the box (slab test in its frame)."""
    c, s = np.cos(box.yaw), np.sin(box.yaw)
    to_box = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])  # world -> box axes
    origin = to_box @ (np.asarray(start, float) - box.centre)
    direction = (np.asarray(ends, float) - start) @ to_box.T
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = (-box.half - origin) / direction
        t2 = (box.half - origin) / direction
    parallel = np.abs(direction) < 1e-12
    outside = parallel & (np.abs(origin) > box.half)
    low = np.where(parallel, -np.inf, np.minimum(t1, t2)).max(axis=-1)
    high = np.where(parallel, np.inf, np.maximum(t1, t2)).min(axis=-1)
    return ~outside.any(axis=-1) & (low < high) & (high > 0.0) & (low < 1.0 - 1e-6)

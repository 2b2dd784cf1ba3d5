"""What a detected person looks like, as a few numbers the tracker can compare: the colour of their clothes.

Per box, the median CIE Lab colour of two regions, the upper body (rows 20-50 % of the box) and the legs (rows
55-90 %), each over the central half of the box's width, where the person covers most pixels and the background
least. Medians are robust to a bit of background or a neighbour's arm in the region, and they mean the same at 60 px
as at 600 px, which a re-identification network's features or a fine histogram would not for small people.
"""

import cv2
import numpy as np

REGIONS = ((0.20, 0.50), (0.55, 0.90))  # rows of the box, as fractions of its height
COLUMNS = (0.25, 0.75)
PATCH = (16, 48)  # every box is resampled to this many columns x rows first: cheap and size-independent
FEATURES = 3 * len(REGIONS)
COLOUR_SCALE = 6.0  # Lab units: two descriptors this far apart are about 0.6 similar (muted clothes differ by ~5-10)


def describe(rgb: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """uint8 RGB frame and boxes (K, >=4) x1, y1, x2, y2 -> (K, 6) float32 Lab medians (L 0-100, a, b);
    NaN for a box with no pixels in the picture."""
    height, width = rgb.shape[:2]
    out = np.full((len(boxes), FEATURES), np.nan, dtype=np.float32)
    for k, box in enumerate(np.asarray(boxes, dtype=np.float64)):
        x1, y1 = max(int(box[0]), 0), max(int(box[1]), 0)
        x2, y2 = min(int(np.ceil(box[2])), width), min(int(np.ceil(box[3])), height)
        if x2 - x1 < 2 or y2 - y1 < 2:
            continue
        patch = cv2.resize(rgb[y1:y2, x1:x2], PATCH, interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
        lab = cv2.cvtColor(patch, cv2.COLOR_RGB2LAB)
        c1, c2 = (round(f * PATCH[0]) for f in COLUMNS)
        rows = [lab[round(a * PATCH[1]):round(b * PATCH[1]), c1:c2].reshape(-1, 3) for a, b in REGIONS]
        out[k] = np.concatenate([np.median(r, axis=0) for r in rows])
    return out


def similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, 6) x (M, 6) -> (N, M) in [0, 1]: 1 for the same colours, falling with their Lab distance (RMS over the
    two regions); 0 where either is unknown (NaN)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    distance = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).reshape(len(a), len(b), len(REGIONS), 3).sum(-1)
                       .mean(-1))
    return np.nan_to_num(np.exp(-0.5 * (distance / COLOUR_SCALE) ** 2), nan=0.0)

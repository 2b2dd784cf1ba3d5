"""Per-frame signals over a person's frames (numpy only: this runs inside Blender too, which has no SciPy).

`frame_ids` may skip frames where a person was not tracked; every filter here works on the runs of consecutive
frames separately, so nothing leaks across a gap.
"""

import numpy as np


def contiguous_runs(frame_ids: np.ndarray) -> list[slice]:
    """Slices of consecutive frame numbers."""
    breaks = np.flatnonzero(np.diff(frame_ids) != 1) + 1
    edges = np.concatenate([[0], breaks, [len(frame_ids)]])
    return [slice(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True)]


def smooth(values: np.ndarray, frame_ids: np.ndarray, sigma: float, weights: np.ndarray | None = None,
           fallback: np.ndarray | float | None = None) -> np.ndarray:
    """Gaussian-weighted average (N, ...) of `values` (N, ...) over time, each frame weighted by `weights` (N,).

    Frames far from any weighted frame get `fallback` (blended in as if it were one frame 3 sigma away), or keep
    their own value when there is no fallback. sigma <= 0 returns a copy of the values.
    """
    values = np.asarray(values, dtype=np.float64)
    if sigma <= 0 or len(values) == 0:
        return values.copy()
    flat = values.reshape(len(values), -1)
    w = np.ones(len(values)) if weights is None else np.asarray(weights, dtype=np.float64)
    if fallback is None:
        fallback_flat, prior = flat, 1e-9
    else:
        fallback_flat, prior = np.broadcast_to(np.asarray(fallback, dtype=np.float64).reshape(1, -1), flat.shape), \
            np.exp(-4.5)
    radius = int(np.ceil(4 * sigma))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    out = np.empty_like(flat)
    for part in contiguous_runs(frame_ids):
        weighted = np.column_stack([w[part]] + [w[part] * column for column in flat[part].T])
        summed = np.column_stack([np.convolve(column, kernel)[radius:radius + len(column)] for column in weighted.T])
        out[part] = (summed[:, 1:] + prior * fallback_flat[part]) / (summed[:, :1] + prior)
    return out.reshape(values.shape)


def local_linear(values: np.ndarray, weights: np.ndarray, frame_ids: np.ndarray, sigma: float) -> np.ndarray:
    """Weighted local linear regression (N,) of `values` (N,) over time with a Gaussian kernel of `sigma` frames:
    unlike a moving average it follows a steady trend to the ends of a run and across gaps in the weights (frames
    of zero weight get the line fitted through their neighbours). Where the weights nearby are too few to fit a line
    it falls back to their weighted mean; frames with no weight within 4 sigma get NaN."""
    values, weights = np.asarray(values, dtype=np.float64), np.asarray(weights, dtype=np.float64)
    radius = int(np.ceil(4 * sigma))
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)  # (frame - neighbour)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    out = np.full(len(values), np.nan)
    for part in contiguous_runs(frame_ids):
        w, wy = weights[part], weights[part] * np.where(weights[part] > 0, values[part], 0.0)

        def moment(column: np.ndarray, power: int) -> np.ndarray:  # sum over neighbours j of K w (j - i)^power ...
            return np.convolve(column, kernel * (-offsets) ** power)[radius:radius + len(column)]

        s0, s1, s2, t0, t1 = moment(w, 0), moment(w, 1), moment(w, 2), moment(wy, 0), moment(wy, 1)
        determinant = s0 * s2 - s1**2
        with np.errstate(divide="ignore", invalid="ignore"):
            line = (s2 * t0 - s1 * t1) / determinant
            mean = t0 / s0
        fits = determinant > 1e-6 * np.maximum(s0 * s2, 1e-300)
        out[part] = np.where(s0 > 1e-12, np.where(fits, line, mean), np.nan)
    return out


def step_velocities(values: np.ndarray, frame_ids: np.ndarray, fps: float) -> np.ndarray:
    """Per-second change (N, ...) of `values` (N, ..., D) over the step to the previous or to the next frame of the
    same run, whichever is smaller (so a foot is still on the first and the last frame it stands); zero for one-frame
    runs."""
    values = np.asarray(values, dtype=np.float64)
    out = np.zeros_like(values)
    for part in contiguous_runs(frame_ids):
        steps = np.diff(values[part], axis=0) * fps
        if len(steps):
            before = np.concatenate([steps[:1], steps])
            after = np.concatenate([steps, steps[-1:]])
            smaller = np.linalg.norm(before, axis=-1) <= np.linalg.norm(after, axis=-1)
            out[part] = np.where(smaller[..., None], before, after)
    return out


def clean_flags(flags: np.ndarray, frame_ids: np.ndarray, min_length: int, max_gap: int) -> np.ndarray:
    """Boolean flags (N, K) with gaps of at most `max_gap` frames filled, then runs shorter than `min_length` frames
    removed, column by column within each run of consecutive frames."""
    out = np.array(flags, dtype=bool)
    for part in contiguous_runs(frame_ids):
        for k in range(out.shape[1]):
            column = out[part, k]
            for start, stop in runs_of(~column):
                if 0 < start and stop < len(column) and stop - start <= max_gap:
                    column[start:stop] = True
            for start, stop in runs_of(column):
                if stop - start < min_length:
                    column[start:stop] = False
            out[part, k] = column
    return out


def runs_of(flags: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of every run of True in a (N,) boolean array."""
    padded = np.concatenate([[False], np.asarray(flags, dtype=bool), [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist(), strict=True))

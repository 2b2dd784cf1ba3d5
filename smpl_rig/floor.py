"""The floor plane in the camera frame from points where feet touch it: RANSAC, then reweighted least squares.

The plane is n . X + h = 0 with n the unit up direction (pointing from the floor towards the camera's side) and h the
camera's height above the floor. The estimators' depths are noisy and can be biased with distance, and the contacts
of one person walking across the view lie on a line, which leaves the tilt about that line free; so the fit carries
a prior on n (the people's mean up direction), weighed against the data as an angle of uncertainty. The frames of one
footstep share their errors, so each point is weighted (one footstep counts as one measurement, not as its frames).
"""

from dataclasses import dataclass

import numpy as np

RESIDUAL_SCALE = 0.05  # metres: the Huber scale of a contact's distance from the plane
INLIER_DISTANCE = 0.15  # metres: RANSAC's inlier band (depth errors of ~0.3 m move a foot ~0.1 m off the floor)
MAX_TILT_FROM_PRIOR = np.radians(30.0)  # hypotheses tilted further from the people's up direction are rejected


@dataclass(frozen=True)
class Floor:
    normal: np.ndarray  # (3,) unit up direction in the camera frame
    height: float  # the camera's height above the floor, metres
    inliers: np.ndarray  # (M,) bool: the contacts that lie on this floor

    def distance(self, points: np.ndarray) -> np.ndarray:
        """Signed height (...,) of points (..., 3) above the floor."""
        return np.asarray(points) @ self.normal + self.height


def fit_floor(points: np.ndarray, up_prior: np.ndarray, weights: np.ndarray | None = None, prior_degrees: float = 3.0,
              hypotheses: int = 300, seed: int = 0) -> Floor | None:
    """The floor through most of `points` (M, 3) (foot contacts, camera frame); None when fewer than 3.

    up_prior: (3,) unit vector; prior_degrees: its uncertainty; weights: (M,) each point's share of a measurement
    (default 1). Hypotheses are planes through three sampled points and planes with the prior's normal through one;
    the one with the largest weight of inliers is refined by Huber-weighted least squares on its inliers, with the
    prior as two extra residuals.
    """
    points = np.asarray(points, dtype=np.float64)
    weights = np.ones(len(points)) if weights is None else np.asarray(weights, dtype=np.float64)
    up_prior = np.asarray(up_prior, dtype=np.float64) / np.linalg.norm(up_prior)
    if len(points) < 3:
        return None
    rng = np.random.default_rng(seed)
    normals, heights = _hypotheses(points, up_prior, hypotheses, rng)
    support = weights @ (np.abs(points @ normals.T + heights) < INLIER_DISTANCE)
    best = int(np.argmax(support))
    normal, height = normals[best], heights[best]
    for _ in range(3):  # refit, then take the inliers of the refined plane
        inliers = np.abs(points @ normal + height) < INLIER_DISTANCE
        normal, height = _refine(points[inliers], weights[inliers], normal, height, up_prior,
                                 np.radians(prior_degrees))
    inliers = np.abs(points @ normal + height) < INLIER_DISTANCE
    return Floor(normal=normal, height=float(height), inliers=inliers)


def _hypotheses(points: np.ndarray, up_prior: np.ndarray, count: int,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Candidate planes (normals (K, 3), heights (K,)): through sampled triples, and with the prior's normal."""
    triples = points[rng.integers(0, len(points), size=(count, 3))]
    normals = np.cross(triples[:, 1] - triples[:, 0], triples[:, 2] - triples[:, 0])
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    normals = normals / np.maximum(length, 1e-12)
    normals *= np.where(normals @ up_prior < 0, -1.0, 1.0)[:, None]
    keep = (length[:, 0] > 1e-6) & (normals @ up_prior > np.cos(MAX_TILT_FROM_PRIOR))
    singles = points[rng.integers(0, len(points), size=count)]
    normals = np.concatenate([normals[keep], np.broadcast_to(up_prior, (count, 3))])
    through = np.concatenate([triples[keep, 0], singles])
    return normals, -np.sum(normals * through, axis=1)


def _refine(points: np.ndarray, weights: np.ndarray, normal: np.ndarray, height: float, up_prior: np.ndarray,
            prior_sigma: float) -> tuple[np.ndarray, float]:
    """Gauss-Newton on the plane (tilt a, b about two axes perpendicular to `normal`, and h) with Huber weights on
    the points' distances and the prior's tilt as two residuals of scale `prior_sigma`."""
    for _ in range(10):
        e1 = np.cross(normal, [1.0, 0.0, 0.0] if abs(normal[0]) < 0.9 else [0.0, 1.0, 0.0])
        e1 /= np.linalg.norm(e1)
        e2 = np.cross(normal, e1)
        residual = points @ normal + height
        weight = weights * np.minimum(1.0, RESIDUAL_SCALE / np.maximum(np.abs(residual), 1e-12)) / RESIDUAL_SCALE**2
        jacobian = np.column_stack([points @ e1, points @ e2, np.ones(len(points))])
        prior_jacobian = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]) / prior_sigma
        prior_residual = -np.array([up_prior @ e1, up_prior @ e2]) / prior_sigma
        lhs = jacobian.T @ (weight[:, None] * jacobian) + prior_jacobian.T @ prior_jacobian
        rhs = -jacobian.T @ (weight * residual) - prior_jacobian.T @ prior_residual
        step = np.linalg.solve(lhs, rhs)
        normal = normal + step[0] * e1 + step[1] * e2
        norm = np.linalg.norm(normal)
        normal, height = normal / norm, (height + step[2]) / norm
        if np.abs(step).max() < 1e-7:
            break
    return normal, height

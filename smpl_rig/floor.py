"""The floor plane in the camera frame from points where feet touch it: RANSAC, then reweighted least squares.

The plane is n . X + h = 0 with n the unit up direction (pointing from the floor towards the camera's side) and h the
camera's height above the floor. RANSAC on the contacts' 3D positions finds the floor most of them lie on (jumps and
steps fall out); its inlier band widens with the camera's height above a contact, since an estimator's depth is good to
a few per cent, not centimetres: a depth off by a share d moves a contact off the floor by d times its height below the
camera, whatever its distance (0.6 m for 8 % under a CCTV camera 7.5 m up). The estimators' depths, though, are biased
with distance and wobble with the gait, so the plane is then refined on the image instead, when the people's ankle and
neck pixels are known: an upright person is a vertical measuring stick, the sole on the floor where the ray through the
bottom of the person's box meets it (the detector's box is good to a pixel or two, small people's estimated legs are
not) and the neck straight above it at its own height, and the plane is the one under which the necks land where the
estimator saw them (single-view metrology; the scale is the estimated bodies', each person's own size refined within a
prior). Without those pixels the
3D contacts are fitted by Huber-weighted least squares. The contacts of one person walking across the view leave the
tilt about their line free, so both fits carry a prior on n (the people's mean up direction) of a few degrees'
uncertainty. The frames of one footstep share their errors, so each contact is weighted as a share of one measurement.
"""

from dataclasses import dataclass, fields, replace

import numpy as np

RESIDUAL_SCALE = 0.05  # metres: the Huber scale of a contact's distance from the plane
INLIER_DISTANCE = 0.15  # metres: RANSAC's inlier band near the camera (depth errors of ~0.3 m move a foot ~0.1 m)
DEPTH_ERROR = 0.12  # the estimators' relative depth error a contact may have and still count as on the floor
MAX_TILT_FROM_PRIOR = np.radians(30.0)  # hypotheses tilted further from the people's up direction are rejected
PRIOR_DEGREES = 10.0  # the people's mean up direction as a prior on the floor's normal: its uncertainty
STICK_SCALE = 0.005  # the Huber scale of a neck's reprojection error, in units of the focal length (~6 pixels)
STICK_SIDEWAYS = 0.3  # weight of the sideways error: estimated bodies lean in the image less than real ones
POSED_SHARE = 0.5  # a neck's height over the sole: this share from the frame's posed body, the rest from the person's
# upright extent (the posed one has the frame's bent knees, the upright one not the estimator's lean: both help)
STATURE_SPREAD = 0.1  # log: how far a person's true size may be from the estimated body's (people are 1.5-1.95 m)


@dataclass(frozen=True)
class Sticks:
    """Upright people as vertical measuring sticks, one per foot contact (camera frame)."""

    ground_rays: np.ndarray  # (M, 3) unit rays through the bottom centre of the person's box: the sole on the floor
    neck_rays: np.ndarray  # (M, 3) unit rays through the neck's pixel
    neck_heights: np.ndarray  # (M,) the neck above the floor on that upright body, metres
    offsets: np.ndarray  # (M, 3) the estimated body's neck minus its sole at the box's bottom: the along-floor part
    # counts (a walker's neck is not above the foot nearest the camera)
    people: np.ndarray  # (M,) int: which person the stick is (each person's stature is refined with the floor)


@dataclass(frozen=True)
class Floor:
    normal: np.ndarray  # (3,) unit up direction in the camera frame
    height: float  # the camera's height above the floor, metres
    inliers: np.ndarray  # (M,) bool: the contacts that lie on this floor

    def distance(self, points: np.ndarray) -> np.ndarray:
        """Signed height (...,) of points (..., 3) above the floor."""
        return np.asarray(points) @ self.normal + self.height


def fit_floor(points: np.ndarray, up_prior: np.ndarray, weights: np.ndarray | None = None,
              sticks: Sticks | None = None, prior_degrees: float = PRIOR_DEGREES, hypotheses: int = 300,
              seed: int = 0) -> Floor | None:
    """The floor through most of `points` (M, 3) (foot contacts, camera frame); None when fewer than 3.

    up_prior: (3,) unit vector; prior_degrees: its uncertainty; weights: (M,) each point's share of a measurement
    (default 1); sticks: the same M contacts seen as measuring sticks, to refine on (see the module). Hypotheses are
    planes through three sampled points and planes with the prior's normal through one; the one with the largest
    weight of inliers is refined by Huber-weighted least squares on its inliers (`inliers` are those of this 3D
    fit), then on the inliers' sticks when given.
    """
    points = np.asarray(points, dtype=np.float64)
    weights = np.ones(len(points)) if weights is None else np.asarray(weights, dtype=np.float64)
    up_prior = np.asarray(up_prior, dtype=np.float64) / np.linalg.norm(up_prior)
    if len(points) < 3:
        return None
    rng = np.random.default_rng(seed)
    normals, heights = _hypotheses(points, up_prior, hypotheses, rng)
    support = weights @ _on_plane(points, normals.T, heights)
    best = int(np.argmax(support))
    normal, height = normals[best], heights[best]
    for _ in range(3):  # refit, then take the inliers of the refined plane
        inliers = _on_plane(points, normal, height)
        normal, height = _refine(points[inliers], weights[inliers], normal, height, up_prior,
                                 np.radians(prior_degrees))
    inliers = _on_plane(points, normal, height)
    if sticks is not None and inliers.sum() >= 3:
        chosen = Sticks(*(np.asarray(getattr(sticks, f.name))[inliers] for f in fields(Sticks)))
        normal, height = _refine_on_sticks(chosen, weights[inliers], normal, height, up_prior,
                                           np.radians(prior_degrees))
    return Floor(normal=normal, height=float(height), inliers=inliers)


def _on_plane(points: np.ndarray, normals: np.ndarray, heights: np.ndarray | float) -> np.ndarray:
    """Whether points (M, 3) lie on planes n.X + h = 0 (normals (3,) or (3, K), heights () or (K,)) within the
    inlier band: INLIER_DISTANCE, or DEPTH_ERROR times the point's height below the camera if more."""
    below = points @ normals
    return np.abs(below + heights) < np.maximum(INLIER_DISTANCE, DEPTH_ERROR * np.abs(below))


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
        e1, e2 = _tangents(normal)
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


def _stick_residuals(sticks: Sticks, normal: np.ndarray, camera_height: float, statures: np.ndarray) -> np.ndarray:
    """(M, 2) where each neck lands against where it was seen (normalised image coordinates, sideways weighted):
    the sole where its ray meets the floor n.X + h = 0, the neck above it (at its height: the person's upright
    height and this frame's posed one, mixed by POSED_SHARE) and along the floor by the posed body's offset, all
    scaled by exp(the person's log stature)."""
    reach = -camera_height / (sticks.ground_rays @ normal)
    upright = sticks.offsets @ normal
    along_floor = sticks.offsets - upright[:, None] * normal
    height = (1 - POSED_SHARE) * sticks.neck_heights + POSED_SHARE * upright
    body = height[:, None] * normal + along_floor
    neck = reach[:, None] * sticks.ground_rays + np.exp(statures[sticks.people])[:, None] * body
    with np.errstate(divide="ignore", invalid="ignore"):
        error = neck[:, :2] / neck[:, 2:] - sticks.neck_rays[:, :2] / sticks.neck_rays[:, 2:]
    return error * [STICK_SIDEWAYS, 1.0]


def _refine_on_sticks(sticks: Sticks, weights: np.ndarray, normal: np.ndarray, height: float, up_prior: np.ndarray,
                      prior_sigma: float) -> tuple[np.ndarray, float]:
    """Gauss-Newton on (tilt a, b about two axes perpendicular to `normal`, h, and each person's log stature) with
    Huber weights on the necks' reprojection errors, the prior's tilt as two residuals and each stature's prior (the
    estimated body, STATURE_SPREAD); numerical derivatives.

    The estimated bodies are all about as tall, real people are not: were their statures fixed, a tall person near
    the camera and a short one far away would tilt the floor (4 degrees on the CCTV clip). A person seen at several
    distances fixes the tilt by themselves, whatever their stature; the statures' prior fixes the overall scale.
    """
    people = np.unique(sticks.people, return_inverse=True)[1]
    sticks = replace(sticks, people=people)
    statures = np.zeros(people.max() + 1)
    for _ in range(30):
        e1, e2 = _tangents(normal)
        base = _stick_residuals(sticks, normal, height, statures)
        ok = np.all(np.isfinite(base), axis=1)
        moved = [_tilt(normal, e1, e2, step * 1e-6) for step in np.eye(3)]
        plane = np.stack([(_stick_residuals(sticks, n, height + dh, statures) - base) / 1e-6 for n, dh in moved],
                         axis=-1)
        own = (_stick_residuals(sticks, normal, height, statures + 1e-6) - base) / 1e-6  # each stick's own person
        robust = np.minimum(1.0, STICK_SCALE / np.maximum(np.linalg.norm(base, axis=1), 1e-12))
        w = np.where(ok, weights * robust, 0.0) / STICK_SCALE**2
        base, plane, own = np.nan_to_num(base), np.nan_to_num(plane), np.nan_to_num(own)
        jacobian = np.zeros((len(base), 2, 3 + len(statures)))
        jacobian[..., :3] = plane
        jacobian[np.arange(len(base)), :, 3 + people] = own
        lhs = np.einsum("m,mik,mil->kl", w, jacobian, jacobian)
        rhs = -np.einsum("m,mik,mi->k", w, jacobian, base)
        lhs[:2, :2] += np.eye(2) / prior_sigma**2
        rhs[:2] += np.array([up_prior @ e1, up_prior @ e2]) / prior_sigma**2
        lhs[3:, 3:] += np.eye(len(statures)) / STATURE_SPREAD**2
        rhs[3:] -= statures / STATURE_SPREAD**2
        step = np.linalg.solve(lhs, rhs)
        normal, change = _tilt(normal, e1, e2, step[:3])
        height += change
        statures += step[3:]
        if np.abs(step).max() < 1e-7:
            break
    return normal, height


def _tangents(normal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors perpendicular to `normal` and to each other: the axes the plane is tilted about."""
    e1 = np.cross(normal, [1.0, 0.0, 0.0] if abs(normal[0]) < 0.9 else [0.0, 1.0, 0.0])
    e1 /= np.linalg.norm(e1)
    return e1, np.cross(normal, e1)


def _tilt(normal: np.ndarray, e1: np.ndarray, e2: np.ndarray, step: np.ndarray) -> tuple[np.ndarray, float]:
    """The unit normal tilted by (step[0], step[1]) along e1, e2, and the height change step[2]."""
    tilted = normal + step[0] * e1 + step[1] * e2
    return tilted / np.linalg.norm(tilted), float(step[2])

"""People in a world: the floor, the camera's pose and every person's motion in it, from where feet touch the ground.

`place_in_world(motion, rest_joints, foot_lock)` is the backend's world step and the add-on's for official files:
1. Everything goes to the first frame's camera frame through the camera's rotations (a panning camera; identity
   for a still one), so that a person standing still under a pan stays still.
2. Candidate contacts: on every frame, the lower foot of each person (both when level), where it is in view.
3. The floor: a plane through most candidates (`smpl_rig.floor`), refined with the people as measuring sticks (the
   sole at the bottom of their box, the neck's pixel; each person's size refined with it), with their mean up
   direction (their root orientations' up axes) as a prior on its tilt. Too few candidates, or a floor that few of
   them lie on: the people stay in the camera frame, and `world_note` says why.
4. Depth from the floor: the rays through a planted ankle's pixel and through the box's bottom meet the floor where
   the foot is, which fixes the person's distance along their viewing ray; a robust local linear fit over time of
   these measurements (`_depth_scale`) moves each person along that ray. Contacts are then found in the world
   (`smpl_rig.contacts.planted_feet`), and the depth found again with them.
5. The world frame: floor z = 0, z up, y the first frame's view direction along the floor; the camera sits at
   height h above the origin. Each person gets `world_pose` (root orientation in the world), `world_root`,
   `contacts`, and with `foot_lock` the planted feet locked for `rest_joints` (`smpl_rig.foot_lock`).
"""

from dataclasses import dataclass, fields, replace

import numpy as np

from .contacts import ANKLES, BALL_HEIGHT, BALLS, ankle_height, lower_feet, planted_feet, sole_points
from .fk import forward_kinematics
from .floor import Floor, Sticks, fit_floor
from .foot_lock import lock_feet
from .motion import Motion, Person, World
from .perspective import pixel_rays
from .rotations import axis_angle_to_matrix, matrix_to_axis_angle
from .timeline import contiguous_runs, local_linear, runs_of

NECK = 12  # SMPL's Neck joint
VIBE49_ANKLES, VIBE49_NECK = (14, 11), 1  # left and right ankle, neck among VIBE's 49 joints (OpenPose order)
MIN_CONTACTS = 20  # foot contacts (person-frames) needed to look for a floor
MIN_ON_FLOOR = 0.5  # share of the candidates that must lie on the floor found
DEPTH_RESIDUAL = 0.03  # log distance: the Huber scale of one measurement of a pelvis's distance about the fitted one
DEPTH_SECONDS = 0.25  # Gaussian sigma of the local linear fit of the pelvis's distance over time
OUTLIER_SECONDS = 0.75  # measurements off the fit over this longer sigma by more than OUTLIER_DEPTH (log) are
OUTLIER_DEPTH = 0.08  # dropped: a jump or a box cut short lifts its bottom off the floor for a few frames
BOX_WEIGHT = 0.2  # weight per frame of the box's bottom in that fit (a footstep's contact weighs one per frame
# per second of frames: legs that follow the gait lead, the boxes carry a person whose legs do not)
PRIOR_WEIGHT = 0.02  # weight per frame of the estimator's own distance (times the person's factor) in that fit
MAX_DEPTH_CHANGE = 0.5  # the floor may rescale a person's estimated depth by at most this factor either way (log)
IMAGE_MARGIN = 0.02  # share of the image size: feet closer to its border than this count as out of view


@dataclass
class _Track:
    """One person in the first frame's camera frame."""

    person: Person
    rest: np.ndarray  # (24, 3)
    rotation: np.ndarray  # (N, 3, 3) root orientation
    root: np.ndarray  # (N, 3) pelvis as estimated
    body: np.ndarray  # (N, 24, 3) joints relative to the pelvis
    to_camera: np.ndarray  # (N, 3, 3) first frame's camera -> this frame's camera
    ankle_rays: np.ndarray | None  # (N, 2, 3) rays through the pixels the estimator put the ankles at (None: unknown)
    neck_rays: np.ndarray | None  # (N, 3) the same for the neck
    ground_rays: np.ndarray | None  # (N, 3) rays through the bottom centre of the person's box (the sole on the floor)


def place_in_world(motion: Motion, rest_joints: dict[int, np.ndarray], foot_lock: bool = True) -> Motion:
    """A copy of `motion` with a world frame and world motion per person, or with `world_note` saying why not.

    rest_joints: each person's canonical rest joints (`smpl_rig.rest_skeleton.person_rest_joints`), the skeleton
    the feet are locked for.
    """
    tracks = {pid: _track(motion, person, rest_joints[pid]) for pid, person in motion.people.items()}
    up = _mean_direction(np.concatenate([t.rotation[:, :, 1] for t in tracks.values()]))
    candidates = {pid: _candidates(t, up, motion.width, motion.height) for pid, t in tracks.items()}
    soles = np.concatenate([_soles(track, up)[candidates[pid]] for pid, track in tracks.items()])
    weights = np.concatenate([_footstep_weights(candidates[pid], t.person.frame_ids)[candidates[pid]]
                              for pid, t in tracks.items()])
    sticks = [_sticks(track, candidates[pid], up, k) for k, (pid, track) in enumerate(tracks.items())]
    count = len(soles)
    if count < MIN_CONTACTS:
        return replace(motion, world=None, foot_lock=False, world_note=(
            f"No floor: the feet touch a visible floor on {count} frames, fewer than {MIN_CONTACTS} (feet out of "
            "view, or close-ups); the people stay in the camera's frame."))
    floor = fit_floor(soles, up, weights, None if any(s is None for s in sticks) else Sticks(
        *(np.concatenate([getattr(s, f.name) for s in sticks]) for f in fields(Sticks))))
    share = floor.inliers.mean() if floor is not None else 0.0
    if floor is None or share < MIN_ON_FLOOR:
        return replace(motion, world=None, foot_lock=False, world_note=(
            f"No floor: only {share:.0%} of {count} foot contacts lie on one plane (stairs, jumps, or feet out of "
            "view); the people stay in the camera's frame."))
    if floor.height <= 0:
        return replace(motion, world=None, foot_lock=False, world_note=(
            f"No floor: the plane {count} foot contacts lie on passes {-floor.height:.2f} m above the camera (people "
            "seen from below, or footage cropped or scaled from a larger picture); the people stay in the camera's "
            "frame."))
    to_world = world_from_camera(floor.normal)
    position = np.array([0.0, 0.0, floor.height])
    people = {pid: _world_person(motion, t, candidates[pid], floor, to_world, position, foot_lock)
              for pid, t in tracks.items()}
    frames = _camera_frames(motion)
    world = World(frame_ids=frames, camera_rotation=to_world @ _to_first_camera(motion, frames),
                  camera_position=np.broadcast_to(position, (len(frames), 3)))
    planted = sum(int(p.contacts.any(axis=1).sum()) for p in people.values())
    pitch = np.degrees(np.arcsin(np.clip(-floor.normal[2], -1.0, 1.0)))
    return replace(motion, people=people, world=world, foot_lock=foot_lock, world_note=(
        f"Floor found from {int(floor.inliers.sum())} foot contacts: camera {floor.height:.2f} m high, looking "
        f"{abs(pitch):.0f} degrees {'down' if pitch >= 0 else 'up'}; {planted} frames with a planted foot."))


def world_from_camera(up: np.ndarray) -> np.ndarray:
    """Rotation (3, 3) taking the first frame's camera frame to the world: z = `up` (the floor normal, camera frame),
    y = the optical axis along the floor (the image's up direction for a camera looking straight down), x = y x z."""
    up = np.asarray(up, dtype=np.float64) / np.linalg.norm(up)
    forward = np.array([0.0, 0.0, 1.0]) - up[2] * up
    if np.linalg.norm(forward) < 0.1:
        forward = np.array([0.0, -1.0, 0.0]) - up[1] * up
    forward /= np.linalg.norm(forward)
    return np.stack([np.cross(forward, up), forward, up])


def _track(motion: Motion, person: Person, rest: np.ndarray) -> _Track:
    to_first = _to_first_camera(motion, person.frame_ids)
    rotation = to_first @ axis_angle_to_matrix(person.pose[:, :3])
    pose = np.array(person.pose, dtype=np.float64)
    pose[:, :3] = matrix_to_axis_angle(rotation)
    joints, _ = forward_kinematics(pose, rest)
    root = np.einsum("nij,nj->ni", to_first, person.transl_for(rest[0]) + rest[0])
    pixels = _seen_pixels(person, motion.width, motion.height)
    rays = None if pixels is None else np.einsum("nij,nkj->nki", to_first, pixel_rays(pixels, motion.width,
                                                                                         motion.height))
    cx, cy, _, box_height = np.asarray(person.bboxes, dtype=np.float64).T
    ground = None if rays is None else np.einsum("nij,nj->ni", to_first, pixel_rays(
        np.stack([cx, cy + box_height / 2], axis=-1), motion.width, motion.height))
    return _Track(person=person, rest=np.asarray(rest, dtype=np.float64), rotation=rotation, root=root,
                  body=joints - joints[:, :1], to_camera=np.swapaxes(to_first, -1, -2),
                  ankle_rays=None if rays is None else rays[:, :2], neck_rays=None if rays is None else rays[:, 2],
                  ground_rays=ground)


def _seen_pixels(person: Person, width: int, height: int) -> np.ndarray | None:
    """(N, 3, 2) where the estimator put the left ankle, the right ankle and the neck in the image: its joints through
    its weak-perspective camera (fitted to the image, unlike the joints' depths); None when the joints or the image
    size are unknown."""
    chosen = {(24, 3): [*ANKLES, NECK], (49, 3): [*VIBE49_ANKLES, VIBE49_NECK]}.get(person.joints3d.shape[1:])
    if chosen is None or width <= 0 or height <= 0:
        return None
    sx, sy, tx, ty = np.asarray(person.orig_cam, dtype=np.float64).T
    joints = np.asarray(person.joints3d, dtype=np.float64)[:, chosen]
    return np.stack([width / 2 * (1 + sx[:, None] * (joints[..., 0] + tx[:, None])),
                     height / 2 * (1 + sy[:, None] * (joints[..., 1] + ty[:, None]))], axis=-1)


def _sticks(track: _Track, contacts: np.ndarray, up: np.ndarray, person: int) -> Sticks | None:
    """The person as a measuring stick on each contact (`smpl_rig.floor.Sticks`): the sole where the box's bottom
    is, the neck above it by the posed body's neck-to-ankle extent along its own up axis plus a flat foot's ankle
    height (the median over the contacts: one length per person, bent knees of a walker included)."""
    if track.neck_rays is None:
        return None
    extent = np.einsum("nfk,nk->nf", track.body[:, [NECK]] - track.body[:, list(ANKLES)], track.rotation[:, :, 1])
    frames, _ = np.nonzero(contacts)
    length = np.median(extent[contacts]) if len(frames) else 0.0
    return Sticks(ground_rays=track.ground_rays[frames], neck_rays=track.neck_rays[frames],
                  neck_heights=np.full(len(frames), length + ankle_height(track.rest)),
                  offsets=(track.body[:, NECK] - _lowest_sole(track, up))[frames],
                  people=np.full(len(frames), person))


def _lowest_sole(track: _Track, up: np.ndarray) -> np.ndarray:
    """(N, 3) the estimated body's sole point lowest in the image (where the box's bottom is: below a heel or a ball
    of the foot, whichever the camera sees lowest), relative to the pelvis."""
    soles = np.concatenate([track.body[:, list(ANKLES)] - ankle_height(track.rest) * up,
                            track.body[:, list(BALLS)] - BALL_HEIGHT * up], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        seen = np.einsum("nij,nkj->nki", track.to_camera, soles + track.root[:, None])
        lowest = np.argmax(np.nan_to_num(seen[..., 1] / seen[..., 2], nan=-np.inf), axis=1)
    return soles[np.arange(len(soles)), lowest]


def _to_first_camera(motion: Motion, frame_ids: np.ndarray) -> np.ndarray:
    """(N, 3, 3) rotations from the camera frame of each video frame to the first frame's (identity if unknown)."""
    if motion.camera_rotations is None or not len(motion.camera_rotations):
        return np.broadcast_to(np.eye(3), (len(frame_ids), 3, 3)).copy()
    known = np.asarray(motion.camera_frame_ids)
    index = np.clip(np.searchsorted(known, frame_ids), 0, len(known) - 1)
    nearer = np.abs(known[np.maximum(index - 1, 0)] - frame_ids) < np.abs(known[index] - frame_ids)
    return np.asarray(motion.camera_rotations, dtype=np.float64)[np.where(nearer, index - 1, index)]


def _camera_frames(motion: Motion) -> np.ndarray:
    """Every video frame from the first to the last one anybody (or the camera estimate) covers."""
    frames = [p.frame_ids for p in motion.people.values()]
    if motion.camera_frame_ids is not None:
        frames.append(np.asarray(motion.camera_frame_ids))
    everything = np.concatenate(frames)
    return np.arange(everything.min(), everything.max() + 1, dtype=np.int64)


def _mean_direction(vectors: np.ndarray, max_degrees: float = 25.0) -> np.ndarray:
    """The mean of unit vectors (M, 3), recomputed twice without those further than `max_degrees` from it."""
    mean = vectors.mean(axis=0)
    for _ in range(2):
        mean /= np.linalg.norm(mean)
        close = vectors @ mean > np.cos(np.radians(max_degrees))
        mean = vectors[close].mean(axis=0) if close.any() else mean
    return mean / np.linalg.norm(mean)


def _joints(track: _Track, depth_scale: np.ndarray | float = 1.0) -> np.ndarray:
    """(N, 24, 3) joints, first camera frame, with the person moved along the ray through the pelvis."""
    return track.body + (track.root * np.reshape(depth_scale, (-1, 1)))[:, None]


def _soles(track: _Track, up: np.ndarray) -> np.ndarray:
    """(N, 2, 3) sole points, first camera frame."""
    return sole_points(_joints(track), up, ankle_height(track.rest))


def _candidates(track: _Track, up: np.ndarray, width: int, height: int) -> np.ndarray:
    """(N, 2) bool: the lower foot (both when level) on frames where it is in view."""
    soles = _soles(track, up)
    candidates = lower_feet(soles, up)
    if width > 0 and height > 0:
        ankles = np.einsum("nij,nkj->nki", track.to_camera, track.body[:, list(ANKLES)] + track.root[:, None])
        focal = np.hypot(width, height)
        with np.errstate(divide="ignore", invalid="ignore"):
            pixels = focal * ankles[..., :2] / ankles[..., 2:] + [width / 2, height / 2]
        margin = IMAGE_MARGIN * np.array([width, height])
        candidates &= (ankles[..., 2] > 0) & np.all((pixels > margin) & (pixels < [width, height] - margin), axis=-1)
    return candidates


def _footstep_weights(contacts: np.ndarray, frame_ids: np.ndarray) -> np.ndarray:
    """(N, 2): 1 / the length of the run of contact frames each contact belongs to (zero elsewhere), so that one
    footstep weighs as one measurement however long it lasts."""
    weights = np.zeros(contacts.shape)
    for part in contiguous_runs(frame_ids):
        for foot in range(contacts.shape[1]):
            for start, stop in runs_of(contacts[part, foot]):
                weights[part.start + start:part.start + stop, foot] = 1.0 / (stop - start)
    return weights


def _depth_scale(track: _Track, contacts: np.ndarray, floor: Floor, frame_ids: np.ndarray, fps: float) -> np.ndarray:
    """(N,) factor on the pelvis's estimated distance that puts the person's feet on the floor.

    Two measurements of the pelvis's distance along its ray: a planted ankle is a flat foot's height above the
    floor, so the ray through the pixel the estimator put it at meets it there and the pelvis is that point minus the
    body's ankle offset (good where the estimated legs follow the gait); and on every frame the sole at the bottom
    of the person's box lies on the floor (the detector's box is good to a pixel or two however small the person;
    the pelvis is that point minus the offset of the estimated body's sole lowest in the image). A walker's pelvis
    moves smoothly, so the log distance is a robust local linear fit to both over DEPTH_SECONDS (Huber weights about
    the fitted curve, after dropping those far off a fit over OUTLIER_SECONDS: a person cannot move metres between
    frames, and a jumper's box leaves the floor), a frame's box weighing BOX_WEIGHT and one footstep as much as a
    second of single frames; the estimator's own distance times the person's median factor weighs in a little, for
    frames far from any measurement.
    """
    distance = np.linalg.norm(track.root, axis=-1)
    scales = np.column_stack([_contact_scales(track, floor), _box_scales(track, floor)])  # (N, 3)
    usable = np.column_stack([contacts, np.ones(len(distance), dtype=bool)]) & np.isfinite(scales) & (scales > 0)
    log_scale = np.log(np.where(usable, scales, 1.0))
    usable &= np.abs(log_scale) < MAX_DEPTH_CHANGE
    if not usable.any():
        return np.ones(len(distance))
    weights = np.column_stack([_footstep_weights(usable[:, :2], frame_ids) * fps, usable[:, 2] * BOX_WEIGHT]) * usable
    prior = float(np.median(log_scale[usable]))
    log_scale = np.column_stack([log_scale, np.full(len(distance), prior)])
    weights = np.column_stack([weights, np.full(len(distance), PRIOR_WEIGHT)])
    measured = np.log(distance)[:, None] + log_scale
    robust = np.ones_like(weights)
    for seconds, outlier in ((OUTLIER_SECONDS, True),) * 3 + ((DEPTH_SECONDS, False),) * 4:
        w = weights * robust
        per_frame = (w * measured).sum(axis=1) / np.maximum(w.sum(axis=1), 1e-12)
        curve = local_linear(per_frame, w.sum(axis=1), frame_ids, seconds * fps)
        residual = np.abs(measured - curve[:, None])
        keep = residual < OUTLIER_DEPTH if outlier else robust > 0
        robust = keep * np.minimum(1.0, DEPTH_RESIDUAL / np.maximum(residual, 1e-12))
    return np.exp(curve) / distance


def _box_scales(track: _Track, floor: Floor) -> np.ndarray:
    """(N,) the factor on the pelvis's estimated distance that puts the estimated body's sole lowest in the image on
    the floor where the ray through the box's bottom meets it (NaN where unknown)."""
    if track.ground_rays is None:
        return np.full(len(track.root), np.nan)
    distance = np.linalg.norm(track.root, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        reach = -floor.height / (track.ground_rays @ floor.normal)
        pelvis = np.where((reach > 0)[:, None], reach[:, None] * track.ground_rays, np.nan) - \
            _lowest_sole(track, floor.normal)
        return np.einsum("nk,nk->n", pelvis, track.root / distance[:, None]) / distance


def _contact_scales(track: _Track, floor: Floor) -> np.ndarray:
    """(N, 2) the factor on the pelvis's estimated distance that each foot, were it planted, asks for."""
    distance = np.linalg.norm(track.root, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        if track.ankle_rays is None:  # the pelvis scaled by k puts the sole S on the floor: n.(k r + S - r) + h = 0
            offset = _soles(track, floor.normal) - track.root[:, None]
            return -(floor.height + offset @ floor.normal) / (track.root @ floor.normal)[:, None]
        reach = (ankle_height(track.rest) - floor.height) / (track.ankle_rays @ floor.normal)
        pelvis = reach[..., None] * track.ankle_rays - track.body[:, list(ANKLES)]
        return np.einsum("nfk,nk->nf", pelvis, track.root / distance[:, None]) / distance[:, None]


def _world_person(motion: Motion, track: _Track, candidates: np.ndarray, floor: Floor, to_world: np.ndarray,
                  position: np.ndarray, foot_lock: bool) -> Person:
    """The person in the world: the depth from the candidate contacts gives the planted feet, and these the final
    depth."""
    person, frames, fps = track.person, track.person.frame_ids, motion.fps
    ankle_above_sole = ankle_height(track.rest)
    scale = _depth_scale(track, candidates, floor, frames, fps)
    seen = None
    if track.ankle_rays is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            reach = (ankle_above_sole - floor.height) / (track.ankle_rays @ floor.normal)
        seen = np.where((reach > 0)[..., None], reach[..., None] * track.ankle_rays, np.inf) @ to_world.T + position
    for final in (False, True):
        contacts = planted_feet(_joints(track, scale) @ to_world.T + position, ankle_above_sole, frames, fps, seen)
        if not final:
            scale = _depth_scale(track, contacts, floor, frames, fps)
    root = (track.root * scale[:, None]) @ to_world.T + position
    pose = np.array(person.pose, dtype=np.float64)
    pose[:, :3] = matrix_to_axis_angle(to_world @ track.rotation)
    if foot_lock:
        pose, root = lock_feet(pose, root, track.rest, contacts, frames, fps)
    return replace(person, contacts=contacts, world_pose=pose.astype(np.float32), world_root=root.astype(np.float32),
                   rest_joints=track.rest)

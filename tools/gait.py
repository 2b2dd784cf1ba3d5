"""Walking and standing people with planted feet (numpy): a motion plan becomes bone rotations and a root path.

The world is z up with the floor at z = 0. A person's heading is the direction they face, in degrees counter-clockwise
from +y (0 faces +y, 90 faces -x). The steps of the procedural gait:

1. the plan (a start, then `WalkTo` and `Stand` moves) gives the body's centre on the floor and its heading over time:
   walks ease in and out of stops, corners between walks that do not stop are rounded, a person turns on the spot
   while standing (towards `facing` in the middle of the stand, or towards where they walk next at its end);
2. footsteps at a fixed cadence: the foot that lands at t_k is put beside where the centre will be half a step later,
   facing the heading then; a step that would move a foot by less than 3 cm and 5 degrees is not taken, so standing
   people stand still and a person turning on the spot steps round;
3. each foot's trajectory: planted flat on its footprint (the sole on z = 0, not moving: the truth's contact), rolling
   about the heel after landing and about the ball of the foot before lifting (toes kept flat), a swing with ground
   clearance in between;
4. the pelvis follows the centre, swaying over the supporting foot, as high as both legs reach; legs by two-bone
   inverse kinematics onto the ankle targets (knees towards the feet), so planted feet stay exactly where they are;
5. the upper body: forward lean with speed, pelvis and thorax counter-rotation, arm swing opposite to the legs, idle
   weight shifts and glances while standing.

Rotations are Anny's "local-ref" parameterisation (`tools/anny_body.py`): a bone's rotation relative to its parent in
axes that are the world's at rest, where Anny's x is the body's left, y its back, z up, with the root at the origin
between the hips; so a bone's world rotation is its parent's times its own, and its head is the parent's head plus
the parent's world rotation applied to the rest offset.
"""

from dataclasses import dataclass, field

import numpy as np

from smpl_rig.rotations import axis_angle_to_matrix

SIDES = ("L", "R")
STEP_PERIOD = 0.53  # seconds per step for a person of REFERENCE_STATURE (1.9 steps per second)
REFERENCE_STATURE = 1.75
DOUBLE_SUPPORT = 0.2  # of a step period: both feet on the ground after each landing
LOOKAHEAD = 0.55  # of a step period: a footprint goes beside the centre this long after the landing
HEEL_ROLL, HEEL_OFF = 0.15, 0.45  # of a step period: rolling onto the flat foot, and the heel rising before lift-off
HEEL_STRIKE_PITCH, TOE_OFF_PITCH = np.radians(12.0), np.radians(35.0)
CLEARANCE = 0.06  # metres the ankle rises above its straight path in mid-swing
STEP_WIDTH = (0.11, 0.075)  # metres from the centre line to each ankle: standing, walking at full speed
TOE_OUT = np.radians(6.0)
REACH = 0.997  # of the leg's length: the pelvis never straightens a knee completely
PATH_SMOOTHING, HEADING_SMOOTHING = 0.2, 0.25  # seconds (Gaussian sigma)
RAMP = 0.8  # seconds to speed up from standing, or to slow down to a stop
TURN_RATE = np.radians(120.0)  # radians per second when turning on the spot
GRID = 0.005  # seconds between samples of the centre path


@dataclass(frozen=True)
class WalkTo:
    """Walk in a straight line to (x, y) at `speed` m/s; with `stop=False` carry on into the next walk round a
    rounded corner instead of stopping there."""

    x: float
    y: float
    speed: float = 1.3
    stop: bool = True

    def __post_init__(self) -> None:
        if not 0.3 <= self.speed <= 2.0:
            raise ValueError(f"walking speed {self.speed} m/s is not a walk: give 0.3-2.0 m/s")


@dataclass(frozen=True)
class Stand:
    """Stand for `seconds`, turning on the spot to face `facing` degrees (default: where the next walk goes)."""

    seconds: float
    facing: float | None = None

    def __post_init__(self) -> None:
        if self.seconds <= 0:
            raise ValueError(f"a stand lasts a positive number of seconds, not {self.seconds}")


@dataclass(frozen=True)
class Plan:
    """Where a person starts (metres, heading in degrees) and what they do from time 0; they stand after the last
    move."""

    x: float
    y: float
    facing: float
    moves: tuple[WalkTo | Stand, ...] = ()


@dataclass
class RestBody:
    """What the gait needs of a body at rest, in its own frame (x left, y back, z up, root at the origin): the bone
    heads by name, the sole's height (its lowest vertex), and per side the floor points under the heel and under
    the ball of the foot (z = sole)."""

    heads: dict[str, np.ndarray]
    sole: float
    heel: dict[str, np.ndarray]
    ball: dict[str, np.ndarray]
    stature: float


@dataclass
class Motion:
    """Per frame: local bone rotations {bone: (N, 3, 3)}, the root's world position (N, 3) (Anny's origin), the
    ankles' planned world positions (N, 2, 3), left/right contacts (N, 2) and the heading (N,) in radians."""

    rotations: dict[str, np.ndarray]
    root: np.ndarray
    ankles: np.ndarray
    contacts: np.ndarray
    heading: np.ndarray
    steps: list[tuple[str, float]] = field(default_factory=list)  # (side, landing time) of each step taken


def rot_x(a: np.ndarray) -> np.ndarray:
    return axis_angle_to_matrix(np.asarray(a, dtype=np.float64)[..., None] * np.array([1.0, 0.0, 0.0]))


def rot_y(a: np.ndarray) -> np.ndarray:
    return axis_angle_to_matrix(np.asarray(a, dtype=np.float64)[..., None] * np.array([0.0, 1.0, 0.0]))


def rot_z(a: np.ndarray) -> np.ndarray:
    return axis_angle_to_matrix(np.asarray(a, dtype=np.float64)[..., None] * np.array([0.0, 0.0, 1.0]))


def facing_vector(heading: np.ndarray) -> np.ndarray:
    """Unit vectors (..., 2) on the floor for headings in radians (0 faces +y, counter-clockwise)."""
    return np.stack([-np.sin(heading), np.cos(heading)], axis=-1)


def body_yaw(heading: np.ndarray) -> np.ndarray:
    """The rotation about z that turns Anny's rest body (facing -y) to face `heading`."""
    return rot_z(np.asarray(heading) - np.pi)


def smoothstep(u: np.ndarray) -> np.ndarray:
    u = np.clip(u, 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u)


def min_jerk(u: np.ndarray) -> np.ndarray:
    u = np.clip(u, 0.0, 1.0)
    return u ** 3 * (10.0 - 15.0 * u + 6.0 * u * u)


def gaussian_smooth(values: np.ndarray, sigma_samples: float) -> np.ndarray:
    """Gaussian filter along axis 0, the ends extended by repeating the first and last values."""
    if sigma_samples <= 0:
        return values
    radius = int(np.ceil(3 * sigma_samples))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma_samples) ** 2)
    kernel /= kernel.sum()
    padded = np.concatenate([np.repeat(values[:1], radius, 0), values, np.repeat(values[-1:], radius, 0)])
    flat = padded.reshape(len(padded), -1)
    out = np.stack([np.convolve(flat[:, j], kernel, mode="valid") for j in range(flat.shape[1])], axis=1)
    return out.reshape(values.shape)


def _walk_ramps(plan: Plan, i: int) -> tuple[bool, bool]:
    """Whether walk i speeds up from standing and slows down to a stop."""
    previous = plan.moves[i - 1] if i > 0 else None
    ramp_in = not (isinstance(previous, WalkTo) and not previous.stop)
    following = plan.moves[i + 1] if i + 1 < len(plan.moves) else None
    ramp_out = plan.moves[i].stop or not isinstance(following, WalkTo)
    return ramp_in, ramp_out


def _walk_start(plan: Plan, i: int) -> np.ndarray:
    for move in reversed(plan.moves[:i]):
        if isinstance(move, WalkTo):
            return np.array([move.x, move.y])
    return np.array([plan.x, plan.y])


def _walk_duration(plan: Plan, i: int) -> float:
    move = plan.moves[i]
    length = float(np.linalg.norm(np.array([move.x, move.y]) - _walk_start(plan, i)))
    ramps = sum(_walk_ramps(plan, i))
    return max(length / move.speed + RAMP * ramps / 2.0, RAMP * ramps, GRID)


def centre_path(plan: Plan, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The body's centre on the floor (T, 2) and heading (T,) radians at times `t` (a fine, even grid)."""
    xy = np.tile([plan.x, plan.y], (len(t), 1)).astype(np.float64)
    wanted = np.full(len(t), np.radians(plan.facing))
    start, heading = 0.0, np.radians(plan.facing)
    for i, move in enumerate(plan.moves):
        if isinstance(move, WalkTo):
            end = start + _walk_duration(plan, i)
            origin, target = _walk_start(plan, i), np.array([move.x, move.y])
            if np.linalg.norm(target - origin) > 1e-9:
                heading = _nearest_angle(np.arctan2(-(target - origin)[0], (target - origin)[1]), heading)
            inside = (t >= start) & (t < end)
            ramp_in, ramp_out = _walk_ramps(plan, i)
            tau = t[inside] - start
            shape = np.ones_like(tau)
            if ramp_in:
                shape *= smoothstep(tau / RAMP)
            if ramp_out:
                shape *= smoothstep((end - start - tau) / RAMP)
            done = np.cumsum(shape) / max(shape.sum(), 1e-12)
            xy[inside] = origin + done[:, None] * (target - origin)
            xy[t >= end] = target
            wanted[t >= start] = heading
        else:
            end = start + move.seconds
            turn_to = move.facing if move.facing is not None else _next_heading(plan, i)
            if turn_to is not None:
                before, heading = heading, _nearest_angle(np.radians(turn_to), heading)
                turning = min(max(abs(heading - before) / TURN_RATE, 0.4), move.seconds)
                begin = start + (move.seconds - turning) / (2 if move.facing is not None else 1)
                ramp = smoothstep((t - begin) / turning)
                wanted[t >= start] = before + ramp[t >= start] * (heading - before)
        start = end
    xy = gaussian_smooth(xy, PATH_SMOOTHING / GRID)
    return xy, gaussian_smooth(wanted, HEADING_SMOOTHING / GRID)


def _next_heading(plan: Plan, i: int) -> float | None:
    """The heading (degrees) of the first walk after move i, if there is one."""
    for j in range(i + 1, len(plan.moves)):
        move = plan.moves[j]
        if isinstance(move, WalkTo):
            d = np.array([move.x, move.y]) - _walk_start(plan, j)
            if np.linalg.norm(d) > 1e-9:
                return float(np.degrees(np.arctan2(-d[0], d[1])))
    return None


def _nearest_angle(angle: float, reference: float) -> float:
    """`angle` plus the multiple of 2 pi that brings it closest to `reference` (the shortest turn)."""
    return float(reference + (angle - reference + np.pi) % (2 * np.pi) - np.pi)


@dataclass
class _Stance:
    anchor: np.ndarray  # the floor point under the ankle
    heading: float
    land: float  # -inf for the stance the clip starts in
    lift: float = np.inf


def plan_footsteps(grid: np.ndarray, xy: np.ndarray, heading: np.ndarray, period: float,
                   phase: float) -> dict[str, list[_Stance]]:
    """Each foot's stances (footprints with landing and lift-off times) along the centre path."""
    speed = np.linalg.norm(np.gradient(xy, GRID, axis=0), axis=1)

    def footprint(time: float, side: str) -> tuple[np.ndarray, float]:
        i = int(np.clip(round((time - grid[0]) / GRID), 0, len(grid) - 1))
        width = np.interp(speed[i], [0.0, 1.3], STEP_WIDTH)
        left = facing_vector(heading[i] + np.pi / 2)  # the body's left: the facing turned a quarter counter-clockwise
        sign = 1.0 if side == "L" else -1.0
        return xy[i] + sign * width * left, heading[i] + sign * TOE_OUT

    stances = {side: [_Stance(*footprint(grid[0], side), land=-np.inf)] for side in SIDES}
    first = grid[0] + phase
    for k, land in enumerate(np.arange(first, grid[-1] - LOOKAHEAD * period, period)):
        side = SIDES[k % 2]
        anchor, facing = footprint(land + LOOKAHEAD * period, side)
        current = stances[side][-1]
        if np.linalg.norm(anchor - current.anchor) < 0.03 and abs(facing - current.heading) < np.radians(5.0):
            continue
        lift = land - (1.0 - DOUBLE_SUPPORT) * period
        if lift < current.land + HEEL_ROLL * period + HEEL_OFF * period:
            continue  # the foot landed too recently to lift again (only at the very start)
        current.lift = lift
        stances[side].append(_Stance(anchor, facing, land=land))
    return stances


def _foot_pose(rest: RestBody, side: str, anchor: np.ndarray, heading: np.ndarray, pitch: np.ndarray,
               pivot: str | None) -> tuple[np.ndarray, np.ndarray]:
    """The foot's world rotation (N, 3, 3) and ankle position (N, 3) when its sole, facing `heading`, is planted on
    `anchor` (N, 2) and pitched (toes up) by `pitch` about the heel or ball (`pivot`)."""
    ankle = rest.heads[f"foot.{side}"]
    under_ankle = np.array([ankle[0], ankle[1], rest.sole])
    yaw = body_yaw(heading)
    rotation = yaw @ rot_x(-pitch)
    floor = np.concatenate([anchor, np.zeros((len(anchor), 1))], axis=1)
    if pivot is None:
        return rotation, floor + yaw @ (ankle - under_ankle)
    point = (rest.heel if pivot == "heel" else rest.ball)[side]
    pivot_world = floor + yaw @ (point - under_ankle)
    return rotation, pivot_world + rotation @ (ankle - point)


def foot_trajectories(rest: RestBody, stances: dict[str, list[_Stance]], times: np.ndarray,
                      period: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per frame and side: foot world rotations (N, 2, 3, 3), ankle targets (N, 2, 3), contacts (N, 2) (flat on its
    footprint) and support (N, 2) (any part of the sole on the floor)."""
    n = len(times)
    rotations, ankles = np.zeros((n, 2, 3, 3)), np.zeros((n, 2, 3))
    contacts, support = np.zeros((n, 2), bool), np.zeros((n, 2), bool)
    for s, side in enumerate(SIDES):
        for i, stance in enumerate(stances[side]):
            on = (times >= stance.land) & (times <= stance.lift)
            t = times[on]
            anchor = np.tile(stance.anchor, (len(t), 1))
            heading = np.full(len(t), stance.heading)
            roll = np.clip(1.0 - (t - stance.land) / (HEEL_ROLL * period), 0.0, 1.0)
            rise = np.clip((t - (stance.lift - HEEL_OFF * period)) / (HEEL_OFF * period), 0.0, 1.0)
            phases = ((roll > 0, "heel", HEEL_STRIKE_PITCH * smoothstep(roll)),
                      (rise > 0, "ball", -TOE_OFF_PITCH * smoothstep(rise)),
                      ((roll == 0) & (rise == 0), None, np.zeros(len(t))))
            idx = np.flatnonzero(on)
            for mask, pivot, pitch in phases:
                rotations[idx[mask], s], ankles[idx[mask], s] = _foot_pose(
                    rest, side, anchor[mask], heading[mask], pitch[mask], pivot)
            contacts[idx[(roll == 0) & (rise == 0)], s] = True
            support[idx, s] = True
            if i + 1 < len(stances[side]):
                _swing(rest, side, stance, stances[side][i + 1], times, rotations[:, s], ankles[:, s])
    return rotations, ankles, contacts, support


def _swing(rest: RestBody, side: str, before: _Stance, after: _Stance, times: np.ndarray, rotations: np.ndarray,
           ankles: np.ndarray) -> None:
    """Fill the swing from lift-off to the next landing: ankle along a raised path, pitch and heading blended."""
    on = (times > before.lift) & (times < after.land)
    if not on.any():
        return
    u = (times[on] - before.lift) / (after.land - before.lift)
    _, start = _foot_pose(rest, side, before.anchor[None], np.array([before.heading]), np.array([-TOE_OFF_PITCH]),
                          "ball")
    _, end = _foot_pose(rest, side, after.anchor[None], np.array([after.heading]), np.array([HEEL_STRIKE_PITCH]),
                        "heel")
    blend = min_jerk(u)[:, None]
    ankles[on] = start + blend * (end - start) + np.outer(CLEARANCE * np.sin(np.pi * u) ** 2, [0.0, 0.0, 1.0])
    heading = before.heading + min_jerk(u) * (_nearest_angle(after.heading, before.heading) - before.heading)
    pitch = -TOE_OFF_PITCH + min_jerk(u) * (HEEL_STRIKE_PITCH + TOE_OFF_PITCH)
    rotations[on] = body_yaw(heading) @ rot_x(-pitch)


def _hips(rest: RestBody, root: np.ndarray, pelvis: np.ndarray) -> np.ndarray:
    """World hip joints (N, 2, 3) for root positions (N, 3) and pelvis rotations (N, 3, 3)."""
    return np.stack([root + pelvis @ rest.heads[f"upperleg01.{side}"] for side in SIDES], axis=1)


def pelvis_height(rest: RestBody, root_xy: np.ndarray, pelvis: np.ndarray, ankles: np.ndarray,
                  fps: float) -> np.ndarray:
    """The root's height per frame: as high as both legs reach the ankle targets, then lowered smoothly (a moving
    minimum followed by a moving average of the same width can only lower it)."""
    hips = _hips(rest, np.concatenate([root_xy, np.zeros((len(root_xy), 1))], axis=1), pelvis)
    reach = REACH * np.array([_leg_lengths(rest, side).sum() for side in SIDES])
    across = np.linalg.norm(hips[..., :2] - ankles[..., :2], axis=-1)
    if (across >= reach).any():
        frame = int(np.argwhere(across >= reach)[0, 0])
        raise ValueError(f"a foot lands {across[frame].max():.2f} m from its hip at frame {frame}, beyond the leg's "
                         f"reach ({reach.min():.2f} m): slow this walk down or make the person taller")
    highest = (ankles[..., 2] + np.sqrt(reach ** 2 - across ** 2) - hips[..., 2]).min(axis=1)
    width = max(1, int(round(0.12 * fps)))
    padded = np.pad(highest, width, mode="edge")
    lowest = np.lib.stride_tricks.sliding_window_view(padded, 2 * width + 1).min(axis=1)
    padded = np.pad(lowest, width, mode="edge")
    return np.lib.stride_tricks.sliding_window_view(padded, 2 * width + 1).mean(axis=1)


def _leg_lengths(rest: RestBody, side: str) -> np.ndarray:
    hip, knee, ankle = (rest.heads[f"{b}.{side}"] for b in ("upperleg01", "lowerleg01", "foot"))
    return np.array([np.linalg.norm(knee - hip), np.linalg.norm(ankle - knee)])


def _frame(direction: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """Orthonormal frames (N, 3, 3) with columns: `direction`, `forward` made perpendicular to it, their cross."""
    e1 = direction / np.linalg.norm(direction, axis=-1, keepdims=True)
    e2 = forward - np.sum(forward * e1, axis=-1, keepdims=True) * e1
    e2 /= np.linalg.norm(e2, axis=-1, keepdims=True)
    return np.stack([e1, e2, np.cross(e1, e2)], axis=-1)


def leg_ik(rest: RestBody, side: str, hip: np.ndarray, ankle: np.ndarray,
           forward: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World rotations of the thigh and shin (N, 3, 3) that put the ankle on `ankle` (N, 3) from `hip` (N, 3), the
    knee bending towards `forward` (N, 3) (horizontal)."""
    thigh_rest = rest.heads[f"lowerleg01.{side}"] - rest.heads[f"upperleg01.{side}"]
    shin_rest = rest.heads[f"foot.{side}"] - rest.heads[f"lowerleg01.{side}"]
    a, b = np.linalg.norm(thigh_rest), np.linalg.norm(shin_rest)
    reach = ankle - hip
    d = np.linalg.norm(reach, axis=-1, keepdims=True)
    cos_hip = np.clip((a * a + d * d - b * b) / (2 * a * d), -1.0, 1.0)
    towards = _frame(reach, forward)
    knee = hip + a * (cos_hip * towards[..., 0] + np.sqrt(1.0 - cos_hip ** 2) * towards[..., 1])
    rest_forward = np.array([0.0, -1.0, 0.0])
    thigh = _frame(knee - hip, forward) @ _frame(thigh_rest[None], rest_forward[None]).swapaxes(-1, -2)
    shin = _frame(ankle - knee, forward) @ _frame(shin_rest[None], rest_forward[None]).swapaxes(-1, -2)
    return thigh, shin


def walk(rest: RestBody, plan: Plan, fps: float, num_frames: int, phase: float = 0.0) -> Motion:
    """The whole motion of one person following `plan`, sampled at `num_frames` frames of `fps` from time 0."""
    period = STEP_PERIOD * np.sqrt(rest.stature / REFERENCE_STATURE)
    times = np.arange(num_frames) / fps
    grid = np.arange(-2.0, times[-1] + 2.0, GRID)
    xy, heading_grid = centre_path(plan, grid)
    stances = plan_footsteps(grid, xy, heading_grid, period, phase % (2 * period))
    foot_rotations, ankles, contacts, support = foot_trajectories(rest, stances, times, period)

    centre = np.stack([np.interp(times, grid, xy[:, j]) for j in range(2)], axis=1)
    heading = np.interp(times, grid, heading_grid)
    speed = np.linalg.norm(np.gradient(centre, 1.0 / fps, axis=0), axis=1)
    standing = gaussian_smooth(np.clip(1.0 - speed / 0.3, 0.0, 1.0), 0.4 * fps)
    facing = np.concatenate([facing_vector(heading), np.zeros((num_frames, 1))], axis=1)
    left = np.concatenate([facing_vector(heading + np.pi / 2), np.zeros((num_frames, 1))], axis=1)

    stride = np.sum((ankles[:, 0] - ankles[:, 1]) * facing, axis=1)  # > 0: the left foot ahead
    swing = np.clip(stride / 0.8, -1.0, 1.0)
    weight = gaussian_smooth(support[:, 0].astype(float) - support[:, 1], 0.08 * fps)  # +1: on the left foot
    idle = np.sin(2 * np.pi * times / 5.3 + 3.0 * phase)
    sway = 0.022 * weight * (1.0 - standing) + 0.018 * idle * standing
    root_xy = centre + sway[:, None] * left[:, :2]
    pelvis = body_yaw(heading - np.radians(4.0) * swing)
    root = np.concatenate([root_xy, pelvis_height(rest, root_xy, pelvis, ankles, fps)[:, None]], axis=1)

    rotations = {"root": pelvis}
    hips = _hips(rest, root, pelvis)
    for s, side in enumerate(SIDES):
        forward = facing + np.concatenate([facing_vector(_foot_heading(foot_rotations[:, s])),
                                           np.zeros((num_frames, 1))], axis=1)
        thigh, shin = leg_ik(rest, side, hips[:, s], ankles[:, s], forward)
        rotations[f"upperleg01.{side}"] = pelvis.swapaxes(-1, -2) @ thigh
        rotations[f"lowerleg01.{side}"] = thigh.swapaxes(-1, -2) @ shin
        rotations[f"foot.{side}"] = shin.swapaxes(-1, -2) @ foot_rotations[:, s]
        toes = rot_x(np.minimum(_foot_pitch(foot_rotations[:, s]), 0.0))
        for toe in range(1, 6):
            rotations[f"toe{toe}-1.{side}"] = toes
    rotations.update(_upper_body(rest, speed, swing, standing, times, phase))
    steps = sorted((side, s.land) for side in SIDES for s in stances[side] if np.isfinite(s.land))
    return Motion(rotations=rotations, root=root, ankles=ankles, contacts=contacts, heading=heading, steps=steps)


def _foot_heading(rotation: np.ndarray) -> np.ndarray:
    """Heading (radians) of feet with world rotations (N, 3, 3): where the rest foot's forward (-y) points."""
    toes = rotation @ np.array([0.0, -1.0, 0.0])
    return np.arctan2(-toes[:, 0], toes[:, 1])


def _foot_pitch(rotation: np.ndarray) -> np.ndarray:
    """Toes-up pitch (radians) of feet with world rotations (N, 3, 3)."""
    toes = rotation @ np.array([0.0, -1.0, 0.0])
    return np.arcsin(np.clip(toes[:, 2], -1.0, 1.0))


def _upper_body(rest: RestBody, speed: np.ndarray, swing: np.ndarray, standing: np.ndarray, times: np.ndarray,
                phase: float) -> dict[str, np.ndarray]:
    """Spine, neck and arm rotations: lean with speed, counter-rotation and arm swing with the legs, glances while
    standing."""
    lean = np.radians(4.0) * np.clip(speed / 1.3, 0.0, 1.0)
    twist = np.radians(3.5) * swing  # each of two spine bones: the thorax turns against the pelvis
    glance = np.radians(18.0) * standing * np.sin(2 * np.pi * times / 7.0 + 5.0 * phase) ** 3
    rotations = {
        "spine03": rot_z(twist) @ rot_x(lean / 2),
        "spine02": rot_z(twist) @ rot_x(lean / 2),
        "neck01": rot_z(glance + np.radians(4.0) * swing - 2 * twist) @ rot_x(-lean),
    }
    for sign, side in ((1.0, "L"), (-1.0, "R")):
        shoulder, elbow, wrist = (rest.heads[f"{b}.{side}"] for b in ("upperarm01", "lowerarm01", "wrist"))
        upper, fore = elbow - shoulder, wrist - elbow
        hang = np.arctan2(abs(upper[0]), -upper[2]) - np.radians(9.0)  # lower the rest pose's arms to the sides
        arm_swing = sign * np.radians(22.0) * swing  # the left arm swings back while the left foot is ahead
        rotations[f"upperarm01.{side}"] = rot_x(arm_swing) @ rot_y(np.full(len(times), sign * hang))
        hinge = np.cross(upper, fore)
        hinge /= np.linalg.norm(hinge)
        rest_bend = np.arccos(np.dot(upper, fore) / np.linalg.norm(upper) / np.linalg.norm(fore))
        bend = np.radians(18.0) + np.radians(14.0) * np.clip(-arm_swing, 0.0, None) / np.radians(22.0) - rest_bend
        rotations[f"lowerarm01.{side}"] = axis_angle_to_matrix(bend[:, None] * hinge)
    return rotations

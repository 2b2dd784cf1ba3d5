"""The known motion of the example clips: arm raises, a squat, then marching in place, while turning a little.

Angles are per-bone rotation vectors in the Anny rig's "local-ref" parameterisation: each bone's rotation relative to
its parent, expressed in axes that are the world's at rest. Anny's world: +x is the person's left, +y behind them,
+z up (the body faces -y). So flexing a hip or shoulder forward is a negative rotation about x, bending a knee a
positive one, raising the left arm sideways a negative rotation about y (the right arm: positive).
The timeline is in seconds, so any frame rate samples the same motion.
"""

from dataclasses import dataclass

import numpy as np

# Timeline (seconds): arm raise, squat, march; the phases overlap a little so the motion never stops.
ARMS = (0.0, 1.7)
SQUAT = (1.5, 3.3)
MARCH = (3.2, 5.0)
STEP_PERIOD = 0.9
TURN_AMPLITUDE = 0.35  # radians of yaw either way, one full sway over the clip


@dataclass
class BodyMotion:
    """Per-frame bone rotations (rotation vectors, (N, 3) each) and the body's yaw about the vertical (N,)."""

    rotations: dict[str, np.ndarray]
    yaw: np.ndarray


def bump(t: np.ndarray, start: float, end: float) -> np.ndarray:
    """0 outside [start, end], rising smoothly to 1 at the middle and back (sin^2, continuous slope)."""
    u = np.clip((t - start) / (end - start), 0.0, 1.0)
    return np.sin(np.pi * u) ** 2


def ramp(t: np.ndarray, start: float, end: float, edge: float = 0.3) -> np.ndarray:
    """1 inside [start + edge, end - edge], smoothly 0 outside [start, end]."""
    rise = np.clip((t - start) / edge, 0.0, 1.0)
    fall = np.clip((end - t) / edge, 0.0, 1.0)
    return np.minimum(rise, fall) ** 2 * (3.0 - 2.0 * np.minimum(rise, fall))


def example_motion(num_frames: int, fps: float) -> BodyMotion:
    """The motion sampled at `num_frames` frames of `fps`; it lasts 5 s (longer clips stand still at the end)."""
    t = np.arange(num_frames) / fps
    x, y = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])
    elbow_axis = -np.array([1.0, 0.0, 1.0]) / np.sqrt(2.0)  # hinge of the left elbow at rest (arm hangs down-out)
    mirror = np.array([1.0, -1.0, -1.0])  # reflects a left-side rotation vector (axial) through the x = 0 plane

    raise_arms = bump(t, *ARMS)
    squat = bump(t, *SQUAT)
    march = ramp(t, *MARCH)
    phase = 2.0 * np.pi * np.clip(t - MARCH[0], 0.0, None) / STEP_PERIOD
    lift = {"L": march * np.maximum(np.sin(phase), 0.0) ** 2, "R": march * np.maximum(-np.sin(phase), 0.0) ** 2}
    swing = {"L": march * np.sin(phase), "R": -march * np.sin(phase)}  # arm back while the same-side knee is up

    def outer(angle: np.ndarray, axis: np.ndarray) -> np.ndarray:
        return angle[:, None] * axis

    rotations = {
        "spine04": outer(0.25 * squat, x),
        "spine02": outer(0.15 * squat, x),
    }
    for side in ("L", "R"):
        sign = mirror if side == "R" else np.ones(3)
        hip, knee = 1.25 * squat + 1.35 * lift[side], 1.9 * squat + 1.75 * lift[side]
        rotations[f"upperleg01.{side}"] = outer(-hip, x)
        rotations[f"lowerleg01.{side}"] = outer(knee, x)
        rotations[f"foot.{side}"] = outer(hip - knee - 0.2 * lift[side], x)  # flat while squatting, toes down lifted
        rotations[f"upperarm01.{side}"] = sign * (outer(-1.9 * raise_arms, y) + outer(-1.1 * squat, x)
                                                  + outer(0.45 * swing[side], x))
        rotations[f"lowerarm01.{side}"] = sign * outer(0.3 * raise_arms + 0.4 * squat + 0.5 * march, elbow_axis)
    yaw = TURN_AMPLITUDE * np.sin(2.0 * np.pi * np.clip(t, 0.0, MARCH[1]) / MARCH[1])
    return BodyMotion(rotations=rotations, yaw=yaw)

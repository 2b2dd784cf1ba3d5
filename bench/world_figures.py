"""What the numbers hide: each person's path seen from above against the truth, with planted feet, and the feet's
height over time (matplotlib, PNG)."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from bench.world_metrics import ANKLES, comparison_frame, present  # noqa: E402
from smpl_rig.fk import forward_kinematics  # noqa: E402
from smpl_rig.motion import Motion  # noqa: E402
from tools.truth import Truth  # noqa: E402

COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:olive",
           "tab:cyan", "black")  # distinct up to ten people (tab:gray is the truth)


def _compared(motion: Motion, truth: Truth, matches: dict[int, int]):
    """Per matched track: (video frames, estimated joints, true joints, estimated and true contacts), world frame."""
    rotation, origin = comparison_frame(truth.camera_rotation[motion.world.frame_ids[0]],
                                        truth.camera_position[motion.world.frame_ids[0]])
    for track, p in matches.items():
        person = motion.people[track]
        seen = present(truth)
        rows = person.frame_ids < len(seen)
        rows[rows] = seen[person.frame_ids[rows], p]
        frames = person.frame_ids[rows]
        rest = person.rest_joints
        joints = forward_kinematics(person.world_pose[rows], rest, person.world_root[rows] - rest[0])[0]
        true_joints = (truth.joints_world[frames, p] - origin) @ rotation.T
        yield track, frames, joints, true_joints, person.contacts[rows], truth.contacts[frames, p]


def draw_top_view(motion: Motion, truth: Truth, matches: dict[int, int], title: str, path: Path) -> Path:
    """Pelvis paths from above (true: grey, estimated: coloured), ankles on planted frames (true: x, estimated: dots),
    and the camera at the origin looking along +y."""
    figure, axes = plt.subplots(figsize=(6, 6), dpi=100)
    for k, (track, _, joints, true_joints, contacts, true_contacts) in enumerate(_compared(motion, truth, matches)):
        colour = COLOURS[k % len(COLOURS)]
        axes.plot(true_joints[:, 0, 0], true_joints[:, 0, 1], color="0.6", lw=3, label="truth" if k == 0 else None)
        axes.plot(joints[:, 0, 0], joints[:, 0, 1], color=colour, lw=1.2, label=f"person {track}")
        for foot in range(2):
            planted = true_joints[true_contacts[:, foot], ANKLES[foot]]
            axes.scatter(planted[:, 0], planted[:, 1], marker="x", s=14, color="0.35", lw=0.8)
            planted = joints[contacts[:, foot], ANKLES[foot]]
            axes.scatter(planted[:, 0], planted[:, 1], s=6, color=colour)
    axes.plot([0.0], [0.0], marker=(3, 0, 0), markersize=12, color="black", label="camera")
    axes.set_aspect("equal")
    axes.set_xlabel("x (m)")
    axes.set_ylabel("y (m), the camera's view along the floor")
    axes.set_title(title, fontsize=10)
    axes.legend(fontsize=8, loc="best")
    axes.grid(alpha=0.3)
    return _save(figure, path)


def draw_foot_heights(motion: Motion, truth: Truth, matches: dict[int, int], title: str, path: Path) -> Path:
    """The first matched person's ankle heights above the floor over time, estimated against true, with the truly
    planted frames shaded."""
    track, frames, joints, true_joints, contacts, true_contacts = next(_compared(motion, truth, matches))
    figure, rows = plt.subplots(2, 1, figsize=(8, 4.5), dpi=100, sharex=True)
    seconds = frames / truth.fps
    for foot, (axes, side) in enumerate(zip(rows, ("left", "right"), strict=True)):
        axes.fill_between(seconds, 0, 1, where=true_contacts[:, foot], color="0.88", step="mid",
                          transform=axes.get_xaxis_transform(), label="truly planted")
        axes.plot(seconds, true_joints[:, ANKLES[foot], 2] * 100, color="0.4", lw=2, label="truth")
        axes.plot(seconds, joints[:, ANKLES[foot], 2] * 100, color=COLOURS[foot], lw=1.2, label="estimate")
        axes.set_ylabel(f"{side} ankle (cm)")
        axes.grid(alpha=0.3)
    rows[0].legend(fontsize=8, loc="upper right")
    rows[0].set_title(f"{title}: person {track}", fontsize=10)
    rows[1].set_xlabel("time (s)")
    return _save(figure, path)


def _save(figure, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path
